"""Screen safety and "me too" in a real browser: blackout, cancelled delayed shows, live votes."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

QUESTION = "¿Cuándo abrirá de nuevo la biblioteca municipal?"


def open_screen(contexts, text: str | None = None) -> Page:
    screen = contexts.page(1920, 1080)
    screen.goto("/screen/pleno")
    if text is None:
        expect(screen.locator("#idle")).to_be_visible(timeout=5_000)
    else:
        expect(screen.locator("#current-text")).to_have_text(text, timeout=5_000)
    return screen


def ready_moderator(contexts) -> Page:
    page = contexts.moderator()
    expect(page.locator("#blackout-button")).to_be_visible(timeout=5_000)
    page.locator("h1").click()  # the focus on the page, outside any field
    return page


def set_delay(server, token: str, seconds: int) -> None:
    with server.api(token) as client:
        response = client.post("/api/meetings/pleno/screen/delay", json={"seconds": seconds})
    assert response.status_code == 200, response.text


def test_the_blackout_key_clears_the_open_screen_within_a_second(server, contexts):
    token = server.moderator_token()
    asked = server.submit(name="Lucía", text=QUESTION)
    nxt = server.submit(name="Tomás", text="¿Y el horario de verano del autobús?")
    for sub in (asked, nxt):
        server.act(token, sub["id"], "approve")
    server.act(token, asked["id"], "show")
    screen = open_screen(contexts, QUESTION)
    expect(screen.locator("#next-list li")).to_have_count(1)
    moderator = ready_moderator(contexts)

    pressed = time.monotonic()
    moderator.keyboard.press("b")
    expect(screen.locator("#current-text")).to_have_count(0, timeout=1_000)
    cleared = time.monotonic() - pressed
    print(f"b pressed -> screen clear: {cleared * 1000:.0f} ms")
    assert cleared < 1.0
    expect(screen.locator("body")).to_have_class("screen blackout")
    expect(screen.locator("#blackout-title")).to_have_text("Pleno de Jun")
    expect(screen.locator("#next-list li")).to_have_count(0)
    assert QUESTION not in screen.locator("body").inner_text()
    expect(moderator.locator("#blackout-status")).to_contain_text("dark")
    expect(moderator.locator("#blackout-button")).to_have_attribute("aria-pressed", "true")

    moderator.keyboard.press("b")  # a second b keeps it dark: lifting is deliberate
    expect(moderator.locator("#announcer")).to_contain_text("dark already")

    # A screen that reloads (or reconnects) during the blackout stays dark.
    screen.reload()
    expect(screen.locator("body")).to_have_class("screen blackout")
    expect(screen.locator("#current-text")).to_have_count(0)

    moderator.keyboard.press("Shift+B")
    expect(screen.locator("#current-text")).to_have_text(QUESTION, timeout=2_000)
    expect(screen.locator("#next-list li")).to_have_count(1)
    expect(screen.locator("#blackout-title")).to_be_hidden()
    expect(moderator.locator("#blackout-button")).to_have_attribute("aria-pressed", "false")


def test_the_blackout_button_works_by_mouse_too(server, contexts):
    token = server.moderator_token()
    asked = server.submit(name="Lucía", text=QUESTION)
    server.act(token, asked["id"], "approve")
    server.act(token, asked["id"], "show")
    screen = open_screen(contexts, QUESTION)
    moderator = ready_moderator(contexts)
    moderator.locator("#blackout-button").click()
    expect(screen.locator("#current-text")).to_have_count(0, timeout=1_000)
    moderator.locator("#blackout-button").click()
    expect(screen.locator("#current-text")).to_have_text(QUESTION, timeout=2_000)


def test_a_cancelled_delayed_show_never_appears_on_the_screen(server, contexts):
    token = server.moderator_token()
    set_delay(server, token, 3)
    asked = server.submit(name="Lucía", text=QUESTION)
    server.act(token, asked["id"], "approve")
    screen = open_screen(contexts)
    # Everything the screen ever puts in its on-screen slot, however briefly (the question
    # is approved, so "up next" lists it all along).
    screen.evaluate(
        """() => {
          window.__drawn = [];
          const slot = () => document.getElementById("current-text");
          new MutationObserver(() => window.__drawn.push(slot() ? slot().textContent : ""))
            .observe(document.body, { childList: true, subtree: true, characterData: true });
        }"""
    )
    moderator = ready_moderator(contexts)

    answer = server.act(token, asked["id"], "show")
    assert answer["pending_show"]["submission_id"] == asked["id"]
    pending = moderator.locator("#pending-show")
    expect(pending).to_be_visible(timeout=2_000)
    expect(pending).to_contain_text(f"#{asked['id']} goes on the screen in")
    expect(pending).to_contain_text(QUESTION)
    moderator.keyboard.press("x")
    expect(pending).to_be_hidden(timeout=2_000)
    expect(moderator.locator("#announcer")).to_contain_text("will not be shown")

    time.sleep(4)  # past the moment it was due
    expect(screen.locator("#idle")).to_be_visible()
    drawn = screen.evaluate("window.__drawn")
    assert not any(QUESTION in text for text in drawn), drawn
    assert server.state()["on_screen"] is None


def test_a_delayed_show_counts_down_and_then_reaches_the_screen(server, contexts):
    token = server.moderator_token()
    set_delay(server, token, 2)
    asked = server.submit(name="Lucía", text=QUESTION)
    server.act(token, asked["id"], "approve")
    screen = open_screen(contexts)
    moderator = ready_moderator(contexts)
    expect(moderator.locator("#show-delay-now")).to_contain_text("2 s after you press Show")
    server.act(token, asked["id"], "show")
    expect(moderator.locator("#pending-show")).to_be_visible(timeout=2_000)
    expect(screen.locator("#current-text")).to_have_count(0)
    expect(screen.locator("#current-text")).to_have_text(QUESTION, timeout=4_000)
    expect(moderator.locator("#pending-show")).to_be_hidden(timeout=2_000)


def test_a_vote_click_updates_the_count_on_another_open_public_page(server, contexts):
    token = server.moderator_token()
    asked = server.submit(name="Lucía", text=QUESTION)
    server.act(token, asked["id"], "approve")
    mine = contexts.page(390, 844)  # a phone
    theirs = contexts.page(390, 844)  # another phone: its own cookies
    for page in (mine, theirs):
        page.goto("/m/pleno")
    my_button = mine.locator(f"[data-vote='{asked['id']}']")
    their_button = theirs.locator(f"[data-vote='{asked['id']}']")
    expect(their_button.locator(".me-too-count")).to_have_text("0")

    my_button.click()
    expect(my_button).to_contain_text("You asked this too", timeout=2_000)
    expect(my_button.locator(".me-too-count")).to_have_text("1")
    expect(their_button.locator(".me-too-count")).to_have_text("1", timeout=3_000)
    expect(their_button).to_contain_text("Me too")

    # The other phone votes with the keyboard alone, and keeps its place.
    their_button.focus()
    theirs.keyboard.press("Enter")
    expect(their_button).to_contain_text("You asked this too", timeout=2_000)
    expect(my_button.locator(".me-too-count")).to_have_text("2", timeout=3_000)
    expect(their_button).to_be_focused()

    # Pressing it again changes nothing, and the state survives a reload.
    my_button.press("Enter")
    mine.reload()
    expect(my_button).to_contain_text("You asked this too")
    expect(my_button).to_have_attribute("aria-disabled", "true")
    expect(my_button.locator(".me-too-count")).to_have_text("2")
    assert server.state()["approved"][0]["votes"] == 2


def test_the_screen_shows_votes_and_how_many_asked(server, contexts):
    token = server.moderator_token()
    first = server.submit(name="Lucía", text=QUESTION)
    second = server.submit(name="Tomás", text="¿Cuándo abre la biblioteca?")
    server.act(token, first["id"], "approve")
    with server.api(token) as client:
        response = client.post(
            f"/api/meetings/pleno/submissions/{second['id']}/merge", json={"into": first["id"]}
        )
        assert response.status_code == 200, response.text
    screen = open_screen(contexts)
    item = screen.locator("#next-list li").first
    expect(item.locator(".asked")).to_have_text("+1 asked this")
    phone = contexts.page(390, 844)
    phone.goto("/m/pleno")
    phone.locator(f"[data-vote='{first['id']}']").click()
    expect(item.locator(".votes")).to_have_text("Me too: 1", timeout=3_000)
    server.act(token, first["id"], "show")
    expect(screen.locator("#current-meta .asked")).to_have_text("+1 asked this", timeout=2_000)
    expect(screen.locator("#current-meta .votes")).to_have_text("Me too: 1")


def test_the_public_page_counts_rejections_by_reason_never_saying_which(server, contexts):
    token = server.moderator_token()
    spam = server.submit(name="Bot", text="Compra seguidores baratos")
    rude = server.submit(name="Anónimo", text="Texto grosero que nadie debe leer")
    server.act(token, spam["id"], "approve")  # approved first: withdrawn from the page later
    with server.api(token) as client:
        response = client.post(f"/api/meetings/pleno/submissions/{spam['id']}/restore", json=None)
        assert response.status_code == 200, response.text
        response = client.post(
            f"/api/meetings/pleno/submissions/{spam['id']}/reject", json={"reason": "spam"}
        )
        assert response.status_code == 200, response.text
    page = contexts.page(390, 844)
    page.goto("/m/pleno")
    counts = page.locator("#rejections")
    expect(counts).to_have_text("Rejected so far: 1 spam.")
    with server.api(token) as client:
        response = client.post(
            f"/api/meetings/pleno/submissions/{rude['id']}/reject", json={"reason": "offensive"}
        )
        assert response.status_code == 200, response.text
    expect(counts).to_have_text("Rejected so far: 1 offensive language, 1 spam.", timeout=3_000)
    text = page.locator("body").inner_text()
    assert "grosero" not in text and "seguidores" not in text
