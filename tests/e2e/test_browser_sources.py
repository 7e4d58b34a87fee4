"""Posts from Mastodon and Bluesky in a real browser: inert text everywhere, clear failures.

The server collects from fake Mastodon and Bluesky servers on 127.0.0.1 with the real
Mastodon.py and atproto clients. Mastodon sends HTML, and a hostile server can send any;
Bluesky sends plain text that may look like markup. Either way the moderator page and,
after approval, the chamber screen show words, never elements built from them.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from council.sandbox.bluesky import FakeBluesky
from council.sandbox.mastodon import FakeMastodon
from tests.e2e.conftest import Contexts, LiveServer
from tests.factories import wait_until
from tests.fakes.bluesky_api import TOWN_HANDLE, TOWN_PASSWORD

pytestmark = pytest.mark.browser

TOOT_HTML = (
    "<p>&lt;script&gt;window.__pwned=1&lt;/script&gt; ¿Y la farola?"
    "<script>window.__pwned=2</script>"
    '<img src=x onerror="window.__pwned=3"><iframe src="javascript:window.__pwned=4"></iframe> '
    '<a href="https://jun.social/tags/plenojun" class="mention hashtag" rel="tag">#<span>'
    "PlenoJun</span></a></p>"
)
TOOT_TEXT = "<script>window.__pwned=1</script> ¿Y la farola? #PlenoJun"
TOOT_AUTHOR = '<img src=x onerror="window.__pwned=5">'
SKEET_TEXT = '<img src=x onerror="window.__pwned=6"> ¿Y el mercadillo? #PlenoJun'
SKEET_AUTHOR = "<b>Bego</b><script>window.__pwned=7</script>"


def collect_from(
    server: LiveServer, mastodon: FakeMastodon, bluesky: FakeBluesky, **overrides: Any
) -> None:
    """Restart the server with its Mastodon and Bluesky collectors pointed at the fakes."""
    server.stop()
    server.overrides = {
        "mastodon_instances": mastodon.base_url,
        "mastodon_token": "town-token",
        "mastodon_poll_seconds": 0.1,
        "bluesky_base_url": bluesky.base_url,
        "bluesky_handle": TOWN_HANDLE,
        "bluesky_app_password": TOWN_PASSWORD,
        "bluesky_poll_seconds": 0.1,
        **overrides,
    }
    server.start()


def assert_inert(page: Page, where: str) -> None:
    assert page.evaluate("window.__pwned") is None, f"a payload ran on {where}"
    assert page.locator("img[src=x], iframe, [onerror], [onload]").count() == 0, where
    assert page.locator("b", has_text="Bego").count() == 0, f"markup was built on {where}"
    running = page.evaluate(
        """[...document.scripts]
            .filter((s) => s.type !== "application/json" && s.textContent.includes("__pwned"))
            .length"""
    )
    assert running == 0, f"a script element carries a payload on {where}"


def test_mastodon_html_and_bluesky_markup_stay_text_on_moderator_page_and_screen(
    server: LiveServer,
    contexts: Contexts,
    fake_mastodon: FakeMastodon,
    fake_bluesky: FakeBluesky,
) -> None:
    collect_from(server, fake_mastodon, fake_bluesky)
    moderator = contexts.moderator()
    screen = contexts.page(1280, 720)
    screen.goto("/screen/pleno")
    fake_mastodon.post("", content_html=TOOT_HTML, tags=["plenojun"], display_name=TOOT_AUTHOR)
    fake_bluesky.post(SKEET_TEXT, handle="bego.bsky.social", display_name=SKEET_AUTHOR)

    items = moderator.locator("#queue .item")
    expect(items).to_have_count(2, timeout=10_000)
    toot = items.filter(has_text="farola")
    skeet = items.filter(has_text="mercadillo")
    expect(toot.locator(".item-text")).to_have_text(TOOT_TEXT)
    expect(toot.locator(".handle")).to_have_text("@vecina@jun.social")
    expect(toot).to_contain_text(TOOT_AUTHOR)
    expect(skeet.locator(".item-text")).to_have_text(SKEET_TEXT)
    expect(skeet.locator(".handle")).to_have_text("@bego.bsky.social")
    expect(skeet).to_contain_text(SKEET_AUTHOR)
    assert_inert(moderator, "the moderator page")

    token = server.moderator_token()
    with server.api(token) as api:
        queue = api.get("/api/meetings/pleno/submissions").json()["submissions"]
    by_source = {s["source"]: s for s in queue}
    assert set(by_source) == {"mastodon", "bluesky"}
    for source in ("mastodon", "bluesky"):
        server.act(token, by_source[source]["id"], "approve")
    server.act(token, by_source["mastodon"]["id"], "show")
    expect(screen.locator("#current-text")).to_have_text(TOOT_TEXT, timeout=5_000)
    expect(screen.locator("#current-meta .author")).to_have_text(TOOT_AUTHOR)
    expect(screen.locator("#current-meta .source")).to_have_text("mastodon")
    assert_inert(screen, "the screen")
    server.act(token, by_source["bluesky"]["id"], "show")
    expect(screen.locator("#current-text")).to_have_text(SKEET_TEXT, timeout=5_000)
    expect(screen.locator("#current-meta .author")).to_have_text(SKEET_AUTHOR)
    screen.reload()  # the server-rendered page too
    expect(screen.locator("#current-text")).to_have_text(SKEET_TEXT)
    assert_inert(screen, "the reloaded screen")


def test_a_bad_token_and_a_bad_app_password_are_explained_on_the_moderator_page(
    server: LiveServer,
    contexts: Contexts,
    fake_mastodon: FakeMastodon,
    fake_bluesky: FakeBluesky,
) -> None:
    fake_mastodon.require_token("the-real-token")
    collect_from(server, fake_mastodon, fake_bluesky, bluesky_app_password="revoked-password")
    moderator = contexts.moderator()
    sources = moderator.locator("#collectors")
    mastodon = sources.locator("[data-source=mastodon]")
    bluesky = sources.locator("[data-source=bluesky]")
    host = fake_mastodon.base_url.removeprefix("http://")
    expect(mastodon.locator(".collector-error")).to_have_text(
        f"Mastodon token rejected by {host}: 401 The access token is invalid "
        "(check COUNCIL_MASTODON_TOKEN)",
        timeout=10_000,
    )
    expect(bluesky.locator(".collector-error")).to_have_text(
        f"Bluesky login refused for {TOWN_HANDLE}: 401 AuthenticationRequired: Invalid "
        "identifier or password (check COUNCIL_BLUESKY_HANDLE and COUNCIL_BLUESKY_APP_PASSWORD)",
        timeout=10_000,
    )
    expect(mastodon.locator(".collector-error")).to_have_attribute("role", "alert")
    expect(mastodon.get_by_role("button", name="Retry")).to_be_visible()
    expect(bluesky.get_by_role("button", name="Retry")).to_be_visible()
    expect(sources).not_to_contain_text("estimated cost")

    # The clerk fixes the token at the server; Retry brings the collector back.
    fake_mastodon.require_token("town-token")
    fake_mastodon.post("ya funciona #PlenoJun")
    mastodon.get_by_role("button", name="Retry").click()
    expect(moderator.locator("#queue .item")).to_have_count(1, timeout=10_000)
    expect(mastodon.locator(".collector-status")).to_have_text("running")
    wait_until(lambda: fake_mastodon.requests_to("/api/v1/timelines/tag/"))
