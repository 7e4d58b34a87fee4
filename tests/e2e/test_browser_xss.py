"""Questions are untrusted text: every page shows a script payload as text and never runs it.

The app also sends a strict Content-Security-Policy, which alone would stop inline handlers
from running. So besides ``window.__pwned`` the test checks the DOM itself (no element built
from the payload) and that no CSP violation was reported: an escaping slip fails here even
though the CSP would have contained it.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

NAME = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=1</script>"
TEXT = SCRIPT + '<img src=x onerror="window.__pwned=1"> ¿Y la farola?'
NEIGHBORHOOD = '"><svg onload=window.__pwned=1>'

# Runs before any page script: records CSP violations (what an injected handler would cause).
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + (event.sample || ""));
});
"""


def assert_inert(page: Page, *, where: str, author: bool = True, neighborhood: bool = True) -> None:
    """The payload is on the page as visible text, and nothing was built or run from it."""
    expect(page.get_by_text(SCRIPT, exact=False).first).to_be_visible(timeout=5_000)
    expect(page.get_by_text("¿Y la farola?", exact=False).first).to_be_visible()
    if author:
        expect(page.get_by_text(NAME, exact=False).first).to_be_visible()
    if neighborhood:
        expect(page.get_by_text(NEIGHBORHOOD, exact=False).first).to_be_visible()
    assert page.evaluate("window.__pwned") is None, f"the payload ran on {where}"
    assert page.locator("img[src=x]").count() == 0, f"an <img src=x> was created on {where}"
    assert page.locator("img[onerror], svg[onload], [onload], [onerror]").count() == 0, where
    assert page.locator("svg").count() == 0, f"an <svg> was created on {where}"
    # No executable script carries the payload (JSON data islands may, escaped).
    running = page.evaluate(
        """[...document.scripts]
            .filter((s) => s.type !== "application/json" && s.textContent.includes("__pwned"))
            .length"""
    )
    assert running == 0, f"a script element carries the payload on {where}"
    violations = page.evaluate("window.__cspViolations")
    assert violations == [], f"CSP had to block something on {where}: {violations}"


def test_script_payloads_stay_inert_on_every_page(server, contexts):
    token = server.moderator_token()

    # Everyone is already looking when the payload arrives: the live path first.
    screen_context = contexts.new(1920, 1080)
    screen_context.add_init_script(WATCH_CSP)
    screen = screen_context.new_page()
    screen.goto("/screen/pleno")
    expect(screen.locator("#idle")).to_be_visible(timeout=5_000)

    public_context = contexts.new(360, 740)
    public_context.add_init_script(WATCH_CSP)
    public = public_context.new_page()
    public.goto("/m/pleno")

    moderator = contexts.moderator()
    moderator.context.add_init_script(WATCH_CSP)
    moderator.reload()
    expect(moderator.locator("#queue-empty")).to_be_visible(timeout=5_000)

    created = server.submit(name=NAME, text=TEXT, neighborhood=NEIGHBORHOOD)
    submission_id = created["id"]

    tracking = public_context.new_page()
    tracking.goto(created["track_url"])
    expect(tracking.locator("#status")).to_have_attribute("data-status", "pending")
    # The tracking page shows the question and its author, not the neighbourhood.
    assert_inert(tracking, where="the tracking page (pending)", neighborhood=False)

    # Pending: it reaches the moderator live, and nothing of it reaches the public pages.
    expect(moderator.locator(f"#queue .item[data-id='{submission_id}']")).to_be_visible()
    assert_inert(moderator, where="the moderation queue (live)")
    assert screen.get_by_text("¿Y la farola?", exact=False).count() == 0
    assert public.get_by_text("¿Y la farola?", exact=False).count() == 0

    server.act(token, submission_id, "approve")
    server.act(token, submission_id, "show")
    expect(screen.locator("#current-text")).to_have_text(TEXT, timeout=5_000)
    expect(public.locator("#on-screen")).to_contain_text(TEXT, timeout=5_000)
    expect(tracking.locator("#status")).to_have_attribute("data-status", "on_screen")
    expect(moderator.locator("#on-screen")).to_contain_text(TEXT, timeout=5_000)

    assert_inert(screen, where="the chamber screen (live)")
    assert_inert(public, where="the public meeting page (live)")
    assert_inert(moderator, where="the moderation page (live)")
    assert_inert(tracking, where="the tracking page (live)", neighborhood=False)

    # The same pages rendered by the server from scratch.
    for page, where, neighborhood in [
        (screen, "the chamber screen", True),
        (public, "the public meeting page", True),
        (moderator, "the moderation page", True),
        (tracking, "the tracking page", False),
    ]:
        page.reload()
        page.wait_for_load_state("load")
        assert_inert(page, where=f"{where} (server-rendered)", neighborhood=neighborhood)
    expect(screen.locator("#current-text")).to_have_text(TEXT)

    # The moderation page lists the payload under every tab it belongs to.
    moderator.locator("[data-tab=on_screen]").click()
    expect(moderator.locator(f"#queue .item[data-id='{submission_id}']")).to_contain_text(TEXT)
    assert_inert(moderator, where="the moderation page, On screen tab")
    moderator.locator("[data-tab=all]").click()
    expect(moderator.locator(f"#queue .item[data-id='{submission_id}']")).to_contain_text(TEXT)
    assert_inert(moderator, where="the moderation page, All tab")
    assert contexts.dialogs == [], f"the payload opened a dialog: {contexts.dialogs}"
    assert contexts.page_errors == [], contexts.page_errors
