"""The moderation page works with the keyboard alone (no mouse between login and the screen)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def selected_id(page: Page) -> int:
    selected = page.locator("#queue .item.selected")
    expect(selected).to_have_count(1, timeout=2_000)
    return int(selected.get_attribute("data-id") or 0)


def test_moderator_can_work_with_keyboard_alone(server, contexts):
    first = server.submit(name="Carmen", text="¿Se arreglará el camino del cementerio?")
    second = server.submit(name="Javier", text="¿Habrá fiestas patronales en agosto?")

    page = contexts.moderator()
    queue = page.locator("#queue .item")
    expect(queue).to_have_count(2, timeout=5_000)
    expect(page.locator("[data-count=pending]")).to_have_text("2")

    keyboard = page.keyboard
    keyboard.press("j")
    assert selected_id(page) == second["id"]
    expect(page.locator(f"#queue .item[data-id='{second['id']}']")).to_be_focused()
    keyboard.press("k")
    assert selected_id(page) == first["id"]
    expect(page.locator(f"#queue .item[data-id='{first['id']}']")).to_be_focused()
    keyboard.press("j")
    assert selected_id(page) == second["id"]

    keyboard.press("a")  # approve the selected question
    expect(page.locator("[data-count=approved]")).to_have_text("1", timeout=5_000)
    expect(page.locator("[data-count=pending]")).to_have_text("1")
    expect(queue).to_have_count(1)
    expect(page.locator(f"#queue .item[data-id='{first['id']}']")).to_be_visible()

    keyboard.press("2")  # the Approved tab
    expect(page.locator("[data-tab=approved]")).to_have_attribute("aria-selected", "true")
    expect(page.locator("[data-tab=approved]")).to_be_focused()
    expect(queue).to_have_count(1)
    assert selected_id(page) == second["id"]

    keyboard.press("s")  # show it on the chamber screen
    expect(page.locator("#on-screen")).to_contain_text(
        "¿Habrá fiestas patronales en agosto?", timeout=5_000
    )
    deadline = time.monotonic() + 5
    while (state := server.state())["on_screen"] is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state["on_screen"] is not None, state
    assert state["on_screen"]["id"] == second["id"]
    assert state["on_screen"]["text"] == "¿Habrá fiestas patronales en agosto?"
    expect(page.locator("#action-error")).to_be_hidden()
