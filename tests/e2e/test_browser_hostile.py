"""A corpus of 60 script payloads, sent as names and questions through the web form and as
tweets, stays text on every page in Chromium: none runs, none builds an element."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Contexts, LiveServer
from tests.factories import wait_until
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
