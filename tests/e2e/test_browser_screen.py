"""The chamber screen: survives a server restart untouched, and long Spanish fits the screen."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# The drop must stay short of the page's grace before it shows "Reconnecting…" (1.5 s), and
# after the restart the page's backoff (0.5 s doubling to 8 s, with jitter) must find the server.
RECONNECT_TIMEOUT_MS = 12_000


def test_screen_recovers_after_server_restart(server, contexts):
    token = server.moderator_token()
    first = server.submit(name="Ana", text="¿Habrá piscina municipal este verano?")
    second = server.submit(name="Pedro", text="¿Qué pasa con el autobús de los sábados?")
    server.act(token, first["id"], "approve")
    server.act(token, second["id"], "approve")

    screen = contexts.page(1920, 1080)
    screen.goto("/screen/pleno")
    expect(screen.locator("#idle")).to_be_visible(timeout=5_000)
    screen.evaluate("window.__marker = 1")
    server.act(token, first["id"], "show")
    expect(screen.locator("#current-text")).to_have_text(
        "¿Habrá piscina municipal este verano?", timeout=2_000
    )
    mark = screen.locator("[data-connection]")
    expect(mark).to_be_hidden()

    server.stop()
    expect(mark).to_be_visible(timeout=5_000)
    # While the server is away the screen keeps what it was showing.
    expect(screen.locator("#current-text")).to_have_text("¿Habrá piscina municipal este verano?")

    server.start()  # a new app on the same data folder and port
    token = server.moderator_token()
    restarted = time.monotonic()
    server.act(token, second["id"], "show")
    expect(screen.locator("#current-text")).to_have_text(
        "¿Qué pasa con el autobús de los sábados?", timeout=RECONNECT_TIMEOUT_MS
    )
    recovered = time.monotonic() - restarted
    assert recovered < RECONNECT_TIMEOUT_MS / 1000
    print(f"restart -> screen showing the new question: {recovered:.1f} s")
    expect(mark).to_be_hidden(timeout=2_000)
    expect(screen.locator("#current-meta")).to_contain_text("Pedro")

    # No reload happened: the marker set on the first load is still there.
    assert screen.evaluate("window.__marker") == 1
    assert screen.evaluate("performance.getEntriesByType('navigation').length") == 1


# A question of exactly 500 characters (the longest accepted) with long Spanish words.
LONG_QUESTION = (
    "Desafortunadamente la electrificación del polideportivo municipal "
    "sigue sin terminarse y las instalaciones están cerradas desde la primavera. "
    "¿Podría el Ayuntamiento explicar públicamente qué responsabilidades contractuales "
    "tiene la empresa adjudicataria, cuándo concluirá definitivamente la Electrificación "
    "y qué compensaciones recibirán las asociaciones deportivas perjudicadas? Además, "
    "¿está garantizada la accesibilidad para personas con movilidad reducida en los "
    "vestuarios nuevos? ¡Muy amables!"
)


def _shots_dir(tmp_path: Path) -> Path:
    # Screenshots are for people to look at, never committed: a temp folder unless asked.
    wanted = os.environ.get("COUNCIL_E2E_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def assert_fits(screen: Page) -> None:
    """The question on screen fits its box, in readable type, and nothing scrolls."""
    screen.evaluate("document.fonts.ready.then(() => true)")
    expect(screen.locator("img.qr")).to_be_visible()
    metrics = screen.evaluate(
        """() => {
            const box = document.getElementById("current-box");
            const text = document.getElementById("current-text");
            const qr = document.querySelector("img.qr");
            const doc = document.documentElement;
            return {
                box: [box.scrollWidth, box.clientWidth, box.scrollHeight, box.clientHeight],
                fontSize: parseFloat(getComputedStyle(text).fontSize),
                page: [doc.scrollWidth, doc.clientWidth, doc.scrollHeight, doc.clientHeight],
                qr: [qr.naturalWidth, qr.getBoundingClientRect().width],
            };
        }"""
    )
    scroll_width, client_width, scroll_height, client_height = metrics["box"]
    assert scroll_height <= client_height + 1, f"the question overflows its box: {metrics}"
    assert scroll_width <= client_width + 1, f"the question overflows its box: {metrics}"
    assert metrics["fontSize"] >= 18, metrics
    page_width, viewport_width, page_height, viewport_height = metrics["page"]
    assert page_width <= viewport_width, f"the screen scrolls sideways: {metrics}"
    assert page_height <= viewport_height, f"the screen scrolls down: {metrics}"
    assert metrics["qr"][0] > 0 and metrics["qr"][1] >= 100, f"the QR code is missing: {metrics}"


def test_long_spanish_question_fits_the_screen(server, contexts, tmp_path):
    assert len(LONG_QUESTION) == 500, len(LONG_QUESTION)
    shots = _shots_dir(tmp_path)
    token = server.moderator_token()
    long_one = server.submit(
        name="María José Fernández-Castellanos",
        text=LONG_QUESTION,
        neighborhood="Urbanización Los Almendros",
    )
    waiting = [
        server.submit(name="Íñigo", text="¿Cuándo abrirá la biblioteca los domingos?"),
        server.submit(name="Nuria", text="¿Se podrá reciclar aceite usado en el punto limpio?"),
    ]
    server.act(token, long_one["id"], "approve")
    for sub in waiting:
        server.act(token, sub["id"], "approve")

    screen = contexts.page(1280, 720)
    screen.goto("/screen/pleno")
    expect(screen.locator("#idle")).to_be_visible(timeout=5_000)
    server.act(token, long_one["id"], "show")  # arrives live, so it is laid out by screen.js
    text = screen.locator("#current-text")
    expect(text).to_have_text(LONG_QUESTION, timeout=2_000)

    assert_fits(screen)
    screen.screenshot(path=str(shots / "screen-1280x720-long.png"))
    # The same question laid out from the server-rendered page (a projector switched on late).
    screen.reload()
    expect(text).to_have_text(LONG_QUESTION, timeout=2_000)
    assert_fits(screen)

    # A short question on the big screen: very large type.
    server.act(token, waiting[0]["id"], "show")
    expect(text).to_have_text("¿Cuándo abrirá la biblioteca los domingos?", timeout=2_000)
    assert float(text.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")) >= 48
    screen.screenshot(path=str(shots / "screen-1280x720-short.png"))

    moderator = contexts.moderator(1440, 900)
    moderator.locator("[data-tab=all]").click()
    # Exactly the three questions: the page once listed a blank extra item (and counted it)
    # when it was opened while a question was on screen.
    expect(moderator.locator("#queue .item")).to_have_count(3)
    expect(moderator.locator("[data-count=all]")).to_have_text("3")
    moderator.screenshot(path=str(shots / "moderate-1440.png"), full_page=True)

    phone = contexts.page(360, 740, is_mobile=True, has_touch=True)
    phone.goto("/m/pleno")
    expect(phone.locator("#on-screen")).to_contain_text("biblioteca")
    width = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the public page scrolls sideways on a phone: {width}"
    phone.screenshot(path=str(shots / "public-360.png"), full_page=True)
