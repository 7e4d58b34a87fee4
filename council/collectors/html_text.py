"""Mastodon's post HTML, turned into the plain text a resident wrote.

Mastodon sends a post's ``content`` as HTML; other fediverse servers can send any
HTML at all. Council never renders it: it keeps the words only. Links, mentions and
hashtags stay as their text (``https://…``, ``@vecina``, ``#PlenoJun``; Mastodon's
hidden ``https://`` part of a shortened link is kept, so the address is whole),
paragraphs and line breaks become newlines, entities are decoded once, and what a
browser would never show as text (script, style, templates, embedded objects) is
dropped with its contents. The result is then stored and shown with ``textContent``
like every other question, so even text that looks like markup stays inert.
"""

from __future__ import annotations

from html.parser import HTMLParser

# Their contents are never text a person reads.
_DROPPED = frozenset(
    {
        "script",
        "style",
        "template",
        "noscript",
        "iframe",
        "object",
        "svg",
        "math",
        "head",
        "title",
        "textarea",
        "select",
    }
)
_BLOCKS = frozenset(
    {
        "p",
        "div",
        "blockquote",
        "pre",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "tr",
        "section",
        "article",
    }
)
_VOID = frozenset(
    {"br", "hr", "img", "input", "meta", "link", "wbr", "source", "area", "col", "embed", "param"}
)


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.dropping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "br" and not self.dropping:
                self.parts.append("\n")
        elif tag in _DROPPED:
            self.dropping.append(tag)
        elif not self.dropping and tag in _BLOCKS:
            self._paragraph()
            if tag == "li":
                self.parts.append("• ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and friends; a self-closed <script/> has no contents to drop.
        if tag == "br" and not self.dropping:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.dropping:
            # Unwind to the matching opener: a missing inner end tag cannot keep text hidden.
            while self.dropping.pop() != tag:
                pass
        elif not self.dropping and tag in _BLOCKS:
            self._paragraph()

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.parts.append(data)

    def _paragraph(self) -> None:
        if self.parts and not "".join(self.parts[-2:]).endswith("\n\n"):
            self.parts.append("\n\n")


def html_to_text(content: str) -> str:
    """The words of a post's HTML, as plain text (not yet trimmed: intake does that)."""
    parser = _TextOnly()
    parser.feed(content)
    parser.close()
    # &nbsp; is layout in a post's HTML, not a character the resident chose.
    return "".join(parser.parts).replace("\xa0", " ")
