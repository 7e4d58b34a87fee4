"""Mastodon's post HTML becomes the plain text the resident wrote, and nothing else."""

from __future__ import annotations

import pytest

from council.collectors.html_text import html_to_text
from council.text import clean_text

MASTODON_LINK = (
    '<a href="https://cstudios.bandcamp.com/track/celestia" rel="nofollow noopener" '
    'target="_blank"><span class="invisible">https://</span><span class="ellipsis">'
    'cstudios.bandcamp.com/track/ce</span><span class="invisible">lestia</span></a>'
)
MENTION = (
    '<span class="h-card"><a href="https://pl.nulled.red/users/disarray" class="u-url mention">'
    "@<span>disarray</span></a></span>"
)
HASHTAG = (
    '<a href="https://ruby.social/tags/plenojun" class="mention hashtag" rel="tag">'
    "#<span>PlenoJun</span></a>"
)


def text(content: str) -> str:
    return clean_text(html_to_text(content))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            f"<p>{MENTION} mira {MASTODON_LINK} {HASHTAG}</p>",
            "@disarray mira https://cstudios.bandcamp.com/track/celestia #PlenoJun",
        ),
        ("<p>Uno</p><p>Dos<br>tres<br/>cuatro</p>", "Uno\n\nDos\ntres\ncuatro"),
        (
            "<p>Luz &amp; agua &lt;ya&gt; &#39;sí&#39; &quot;no&quot; &nbsp;ñ</p>",
            "Luz & agua <ya> 'sí' \"no\" ñ",
        ),
        ("<p>&amp;lt;b&amp;gt;</p>", "&lt;b&gt;"),  # decoded once, not twice
        ("<ul><li>uno</li><li>dos</li></ul>", "• uno\n\n• dos"),
    ],
)
def test_words_links_mentions_and_hashtags_are_kept(content: str, expected: str) -> None:
    assert text(content) == expected


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<style>p { display: none }</style>",
        "<script>never closed <p>not text</p>",
        "<svg><script>alert(1)</script><text>x</text></svg>",
        "<iframe src=javascript:alert(1)>inside</iframe>",
        "<object data=x><embed src=y>inside</object>",
        "<template><p>hidden</p></template>",
        '<img src=x onerror="alert(1)">',
        "<noscript><p>fallback</p></noscript>",
    ],
)
def test_what_a_browser_would_not_show_as_text_is_dropped(hostile: str) -> None:
    assert text(f"<p>antes</p>{hostile}<p>después</p>") in (
        "antes\n\ndespués",
        "antes",  # an unclosed <script> hides the rest, as in a browser
    )


def test_markup_written_as_text_stays_text() -> None:
    assert text("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>") == "<script>alert(1)</script>"


def test_a_missing_inner_end_tag_cannot_hide_the_rest() -> None:
    assert text("<object><embed src=x><param name=a>oculto</object><p>visible</p>") == "visible"
