"""The language switch in a real browser: one click (or Enter), and the site stays in Spanish."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

import council.meetings
from tests.factories import LIVE_SLUG as SLUG

pytestmark = pytest.mark.browser


def test_switching_to_spanish_is_remembered_after_reload(server, contexts):
    page = contexts.page(locale="en-GB")  # the browser asks for English
    page.goto(f"/m/{SLUG}")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Send question")).to_be_visible()

    switch = page.get_by_role("navigation", name="Language")
    spanish = switch.get_by_role("link", name="Español")
    expect(spanish).to_have_attribute("lang", "es")
    spanish.focus()  # keyboard, not the mouse
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/m/{SLUG}\?lang=es$"))
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("button", name="Enviar pregunta")).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Idioma").get_by_role("link", name="Español")
    ).to_have_attribute("aria-current", "true")

    # The address without ?lang=, then a reload: the cookie keeps Spanish.
    page.goto(f"/m/{SLUG}")
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Haz una pregunta al Ayuntamiento")).to_be_visible()

    # Numbers the scripts write follow the page's language too.
    written = page.evaluate(
        "import('/static/js/dom.js').then((dom) => [dom.number(1.5, 1), dom.number(1234)])"
    )
    assert written == ["1,5", "1234"], written

    # An empty question: the script asks the API, whose 422 comes back in Spanish too.
    page.get_by_role("button", name="Enviar pregunta").click()
    expect(page.locator("#name-error")).to_contain_text("Escribe tu nombre")

    # And back to English from the switch, the other way round.
    page.get_by_role("navigation", name="Idioma").get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto(f"/m/{SLUG}")
    expect(page.get_by_role("button", name="Send question")).to_be_visible()
    written = page.evaluate(
        "import('/static/js/dom.js').then((dom) => [dom.number(1.5, 1), dom.number(1234)])"
    )
    assert written == ["1.5", "1,234"], written


def test_a_live_rejection_reaches_a_spanish_tracking_page_in_spanish(server, contexts):
    """The moderator works in English; the asker's page, in Spanish, says why in Spanish."""
    asked = server.submit(name="Lucía", text="¿Cuándo abre la piscina municipal este verano?")
    page = contexts.page(locale="es-ES")
    page.goto(asked["track_url"])
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("#status")).to_have_text("Recibida: esperando a la moderación")
    with server.api(server.moderator_token()) as client:
        response = client.post(
            f"/api/meetings/{SLUG}/submissions/{asked['id']}/reject",
            json={"reason": "off_topic", "note": "Pregunta en el próximo pleno"},
            headers={"Accept-Language": "en"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["submission"]["rejection_key"] == "off_topic"
    # The live message was written in the moderator's English; the page shows Spanish.
    expect(page.locator("#reason")).to_have_text("Fuera de tema: Pregunta en el próximo pleno")
    expect(page.locator("#status")).to_have_text("No mostrada")


def test_the_screen_follows_its_meetings_language_live(server, contexts):
    screen = contexts.page(1920, 1080, locale="en-GB")
    screen.goto(f"/screen/{SLUG}")
    expect(screen.locator("html")).to_have_attribute("lang", "en")
    expect(screen.locator("#idle")).to_have_text("Send your question to the council")
    # The clerk changes it (admin page or CLI); nobody touches the projector.
    server.write(council.meetings.set_language, slug=SLUG, language="es")
    expect(screen.locator("html")).to_have_attribute("lang", "es", timeout=10_000)
    expect(screen.locator("#idle")).to_have_text("Envía tu pregunta al Ayuntamiento")
