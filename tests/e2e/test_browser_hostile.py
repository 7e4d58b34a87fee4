"""A corpus of 60 script payloads, sent as names and questions through the web form and as
tweets, stays text on every page in Chromium: none runs, none builds an element. The same
corpus is then replayed from the archive: the replay of an ended, recorded meeting where
every payload was on screen, the archive list and the search results."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from playwright.sync_api import Page, expect

from council.agenda import add_item, next_item
from council.meetings import create_meeting, end_meeting, start_meeting
from tests.e2e.conftest import SLUG, Contexts, LiveServer
from tests.e2e.test_browser_replay import set_event_times
from tests.factories import add_ready_recording, recorded_media, wait_until
from tests.fakes.x_api import FakeX

pytestmark = pytest.mark.browser

CORPUS = [
    line for line in (Path(__file__).parent / "xss_corpus.txt").read_text().splitlines() if line
]

# Runs before any page script: an injected handler blocked by the CSP shows up here.
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + (event.sample || ""));
});
"""

BUILT_FROM_PAYLOADS = (
    "img[src=x], iframe, object, embed, marquee, keygen, isindex, x, "
    "form[action^=javascript], a[href^=javascript], button[formaction], meta[http-equiv], "
    "base, body[onload], video source, audio[src=x], math"
)


def assert_inert(page: Page, where: str) -> None:
    assert page.evaluate("window.__pwned") is None, f"a payload ran on {where}"
    violations = page.evaluate("window.__cspViolations")
    assert violations == [], f"CSP had to block something on {where}: {violations}"
    handlers = page.evaluate(
        """[...document.querySelectorAll('*')].flatMap((node) =>
            [...node.attributes].filter((a) => a.name.startsWith('on')).map((a) => node.tagName))"""
    )
    assert handlers == [], f"elements with event handlers on {where}: {handlers}"
    assert page.locator(BUILT_FROM_PAYLOADS).count() == 0, f"a payload built an element: {where}"
    scripts = page.evaluate(
        """[...document.scripts].filter((s) => s.type !== 'application/json'
            && s.textContent.includes('__pwned')).length"""
    )
    assert scripts == 0, f"a script element carries a payload on {where}"


def shows_as_text(page: Page, texts: list[str], where: str) -> None:
    body = page.locator("body").inner_text()
    missing = [t for t in texts if t not in body]
    assert not missing, f"{len(missing)} payloads not shown as text on {where}: {missing[:3]}"


def test_sixty_payloads_from_the_form_and_from_x_stay_inert_everywhere(
    server: LiveServer, contexts: Contexts, fake_x: FakeX
) -> None:
    server.stop()
    server.overrides = {
        "x_bearer_token": "app-bearer-token",
        "x_api_base_url": fake_x.base_url,
        "x_poll_seconds": 0.1,
    }
    server.start()
    half = len(CORPUS) // 2
    by_form, by_x = CORPUS[:half], CORPUS[half:]
    tracked = []
    for n, payload in enumerate(by_form):
        name = payload if len(payload) <= 80 else f"Vecina {n}"
        created = server.submit(name=name, text=payload, neighborhood=payload[:120])
        tracked.append(created["track_url"])
    for n, payload in enumerate(by_x):
        fake_x.add_user(f"vecino_{n}", name=payload[:50])
        fake_x.post(f"{payload} #PlenoJun", username=f"vecino_{n}")
    token = server.moderator_token()
    with server.api(token) as api:
        queue = wait_until(
            lambda: (
                len(subs := api.get("/api/meetings/pleno/submissions").json()["submissions"])
                == len(CORPUS)
                and subs
            ),
            timeout=30,
        )
    ids = sorted(s["id"] for s in queue)
    texts = [s["text"] for s in queue]
    assert {t.removesuffix(" #PlenoJun") for t in texts} == set(CORPUS), "stored as received"

    pages: dict[str, Page] = {}
    for where, path, size in [
        ("screen", "/screen/pleno", (1920, 1080)),
        ("public page", "/m/pleno", (360, 740)),
    ]:
        context = contexts.new(*size)
        context.add_init_script(WATCH)
        page = context.new_page()
        page.goto(path)
        pages[where] = page
    moderator = contexts.moderator()
    moderator.context.add_init_script(WATCH)
    moderator.reload()
    pages["moderator page"] = moderator

    # Pending: the moderator sees every payload as text, live.
    expect(moderator.locator("#queue .item")).to_have_count(len(CORPUS), timeout=10_000)
    shows_as_text(moderator, texts, "the moderator page (pending)")

    for submission_id in ids:
        server.act(token, submission_id, "approve")
    server.act(token, ids[0], "show")
    expect(pages["public page"].locator("#on-screen")).not_to_be_empty(timeout=5_000)

    for where, page in pages.items():
        assert_inert(page, f"the {where} (live)")
    for url in tracked[:5]:
        tracking = contexts.page(360, 740)
        tracking.context.add_init_script(WATCH)
        tracking.goto(url)
        expect(tracking.locator("#status")).to_have_attribute(
            "data-status", re.compile("approved|on_screen")
        )
        assert_inert(tracking, f"the tracking page {url}")
    for where, page in pages.items():
        page.reload()
        page.wait_for_load_state("load")
        assert_inert(page, f"the {where} (server-rendered)")
    moderator.locator("[data-tab=all]").click()
    shows_as_text(moderator, texts, "the moderator page (All)")
    shows_as_text(pages["public page"], texts[:10], "the public page")
    assert contexts.dialogs == [], f"a payload opened a dialog: {contexts.dialogs}"
    assert contexts.page_errors == [], contexts.page_errors


# -- the archive: the replay, the list and the search ------------------------------------------

VIDEO_SECONDS = 12.0
# Each group's word is in its questions' neighbourhood: one search per group lists them all,
# under the 20 hits a meeting shows.
GROUPS = ("grupoalfa", "grupobeta", "grupogamma")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return recorded_media(tmp_path_factory.mktemp("media"), VIDEO_SECONDS, poster_at=1)


def test_sixty_payloads_stay_inert_on_the_replay_the_archive_and_its_search(
    server: LiveServer, contexts: Contexts, media: Path
) -> None:
    token = server.moderator_token()
    texts: dict[str, str] = {}  # the stored text -> the group in its neighbourhood
    ids = []
    for n, payload in enumerate(CORPUS):
        group = GROUPS[n % len(GROUPS)]
        name = payload if len(payload) <= 80 else f"Vecina {n}"
        created = server.submit(name=name, text=payload, neighborhood=f"{payload[:68]} {group}")
        ids.append(created["id"])
        texts[payload] = group
    for submission_id in ids:
        server.act(token, submission_id, "approve")
    for submission_id in ids:  # each show replaces the one before: all 60 in the timeline
        server.act(token, submission_id, "show")
    set_event_times(server, "shown", [0.5 + 0.18 * n for n in range(len(ids))])
    # Chapters titled with payloads too, and past meetings whose titles are payloads.
    chapters = CORPUS[:5]
    for title in chapters:
        server.write(add_item, slug=SLUG, title=title)
    for _ in chapters:
        server.write(next_item, slug=SLUG)
    set_event_times(server, "agenda", [0.2 + 2.0 * n for n in range(len(chapters))])
    add_ready_recording(server, media, seconds=VIDEO_SECONDS)
    server.write(end_meeting, slug=SLUG)
    titles = CORPUS[5:10]
    for n, title in enumerate(titles):
        server.write(create_meeting, slug=f"pasado-{n}", title=title)
        server.write(start_meeting, slug=f"pasado-{n}")
        server.write(end_meeting, slug=f"pasado-{n}")
    with server.api(token) as api:
        stored = api.get(f"/api/meetings/{SLUG}/submissions").json()["submissions"]
    assert {s["text"] for s in stored} == set(CORPUS), "stored as received"

    page = contexts.page(1440, 900)
    page.context.add_init_script(WATCH)

    # The replay: every payload on screen at its moment, as text, with its name and place.
    page.goto(f"/archive/{SLUG}")
    expect(page.locator("#timeline .moment[data-offset]")).to_have_count(len(CORPUS))
    page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    shows_as_text(page, list(texts), "the replay")
    shows_as_text(page, [p for p in CORPUS if len(p) <= 80], "the replay (names)")
    shows_as_text(page, chapters, "the replay's chapters")
    assert_inert(page, "the replay")
    # replay.js at work: seeking from moments and chapters, highlighting as the video plays,
    # sharing a moment.
    for index in (0, 17, 42, len(CORPUS) - 1):
        page.locator("#timeline .moment-link").nth(index).click()
        expect(page.locator("#timeline .moment.current")).to_have_count(1)
    page.locator("#chapters a[data-seek]").nth(2).click()
    page.evaluate("document.getElementById('video').muted = true")
    page.evaluate("document.getElementById('video').play()")
    page.wait_for_function(
        "() => document.getElementById('video').currentTime > 5.5", timeout=10_000
    )
    page.locator("#share").click()
    expect(page.locator("#share-fallback")).to_be_visible()
    assert_inert(page, "the replay, played")
    # A payload as the moment asked for, in ?t=, ?q= and #t=.
    for payload in CORPUS[::6]:
        page.goto(f"/archive/{SLUG}?{urlencode({'t': payload, 'q': payload})}#t={quote(payload)}")
        page.wait_for_load_state("load")
        assert_inert(page, f"the replay at ?t={payload!r}")

    # The archive list: payloads as meeting titles.
    page.goto("/archive")
    expect(page.locator(".archive-meeting")).to_have_count(len(titles) + 1)
    shows_as_text(page, titles, "the archive list")
    assert_inert(page, "the archive list")

    # The search: every payload among the results, its matched words marked inside it.
    found: set[str] = set()
    for query in [f"pwned {group}" for group in GROUPS] + ["config"]:
        page.goto(f"/archive?{urlencode({'q': query})}")
        hits = page.locator(".hit")
        expect(hits.first).to_be_visible()
        assert page.locator(".hit-text mark").count() >= hits.count()
        shown = page.locator(".hit-text").all_inner_texts()
        assert len(shown) == hits.count() <= 20 and set(shown) <= set(CORPUS), (query, shown)
        found.update(shown)
        assert_inert(page, f"the search results for {query!r}")
    assert found == set(CORPUS), f"never among the results: {set(CORPUS) - found}"
    # Each payload as the query itself: in the title, the search field and the summary.
    for payload in CORPUS:
        page.goto(f"/archive?{urlencode({'q': payload})}")
        expect(page.locator("#archive-q")).to_have_value(payload.strip())
        assert payload.strip() in page.locator(".search-summary").inner_text()
        assert_inert(page, f"the search for {payload!r}")
    assert contexts.dialogs == [], f"a payload opened a dialog: {contexts.dialogs}"
    assert contexts.page_errors == [], contexts.page_errors
