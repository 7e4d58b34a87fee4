"""The spine of the product in a real browser: a phone, a moderator, the chamber screen."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

QUESTION = "¿Cuándo arreglarán la farola de la calle Mayor? Lleva tres semanas apagada."


def test_question_travels_from_phone_to_chamber_screen(server, contexts):
    # The projector is switched on first and nobody touches it again.
    screen = contexts.page(1920, 1080)
    screen.goto("/screen/pleno")
    expect(screen.locator("#idle")).to_be_visible(timeout=5_000)
    screen.evaluate("window.__marker = 'no reload'")

    moderator = contexts.moderator()
    expect(moderator.locator("#queue-empty")).to_be_visible(timeout=5_000)

    # A resident on a phone asks.
    phone = contexts.new(360, 740, is_mobile=True, has_touch=True)
    public = phone.new_page()
    public.goto("/m/pleno")
    public.fill("#name", "Lucía Pérez")
    public.fill("#neighborhood", "El Barrio Alto")
    public.fill("#text", QUESTION)
    public.get_by_role("button", name="Send question").click()
    expect(public.locator("#ask-done")).to_be_visible(timeout=5_000)
    track_link = public.locator("#track-link")
    expect(track_link).to_have_attribute("href", re.compile(r"/t/[\w-]{16,}$"), timeout=5_000)
    track_url = track_link.get_attribute("href")
    assert track_url

    tracking = phone.new_page()
    tracking.goto(track_url)
    status = tracking.locator("#status")
    expect(status).to_have_attribute("data-status", "pending", timeout=5_000)
    expect(tracking.get_by_text(QUESTION)).to_be_visible()

    # The moderator's open queue receives it without a reload.
    item = moderator.locator("#queue .item", has_text=QUESTION)
    expect(item).to_be_visible(timeout=5_000)
    submission_id = item.get_attribute("data-id")
    assert submission_id and submission_id.isdigit()
    item.locator("[data-action=approve]").click()
    expect(status).to_have_attribute("data-status", "approved", timeout=5_000)

    moderator.locator("[data-tab=approved]").click()
    approved = moderator.locator(f"#queue .item[data-id='{submission_id}']")
    expect(approved).to_be_visible(timeout=5_000)
    show = approved.locator("[data-action=show]")
    expect(show).to_be_enabled()

    # The chamber screen shows it within a second of the click.
    clicked = time.monotonic()
    show.click()
    expect(screen.locator("#current-text")).to_have_text(QUESTION, timeout=1_000)
    elapsed = time.monotonic() - clicked
    assert elapsed < 1.0, f"the screen took {elapsed:.3f} s"
    print(f"show click -> chamber screen: {elapsed * 1000:.0f} ms")
    meta = screen.locator("#current-meta")
    expect(meta).to_contain_text("Lucía Pérez")
    expect(meta).to_contain_text("El Barrio Alto")

    expect(status).to_have_attribute("data-status", "on_screen", timeout=5_000)
    expect(public.locator("#on-screen")).to_contain_text(QUESTION, timeout=5_000)
    expect(moderator.locator("#on-screen")).to_contain_text(QUESTION, timeout=5_000)

    # Answered: the screen goes back to idle and the resident learns it was answered.
    moderator.locator(f"#on-screen [data-action=answer][data-id='{submission_id}']").click()
    expect(screen.locator("#idle")).to_be_visible(timeout=5_000)
    expect(screen.locator("#current-text")).to_have_count(0)
    expect(status).to_have_attribute("data-status", "answered", timeout=5_000)
    expect(public.locator("#on-screen")).not_to_contain_text(QUESTION, timeout=5_000)
    expect(public.locator("#answered")).to_contain_text(QUESTION, timeout=5_000)

    # None of the live pages was reloaded along the way.
    assert screen.evaluate("window.__marker") == "no reload"
    assert screen.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert server.state()["on_screen"] is None
