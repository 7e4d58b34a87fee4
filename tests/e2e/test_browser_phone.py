"""A cheap phone: the public meeting page and the tracking page fit 360 pixels without
sideways scrolling, and load in under 100 KB of HTML, CSS and JavaScript (video excepted)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, expect
from sqlalchemy import select, update

from council.models import Meeting, Recording
from tests.e2e.conftest import Contexts
from tests.factories import LIVE_SLUG as SLUG
from tests.factories import LiveServer

pytestmark = pytest.mark.browser

BUDGET_BYTES = 100_000  # HTML + CSS + JavaScript of one page, decoded (before any gzip)
COUNTED = ("document", "stylesheet", "script")
PHONE = {"width": 360, "height": 740, "is_mobile": True, "has_touch": True}

LONG_WORDS = (
    "¿Por qué los Electroencefalografistas del centro de salud atienden "
    "desproporcionadamente menos horas en la Urbanización Los Almendros? "
)


def with_questions(server: LiveServer) -> dict[str, str]:
    """Questions in every public state, and long Spanish words in the title and questions."""
    with server.db.session() as session, session.begin():
        session.execute(
            update(Meeting)
            .where(Meeting.slug == SLUG)
            .values(title="Pleno extraordinario: Otorrinolaringología y Electroencefalografistas")
        )
    token = server.moderator_token()
    shown = server.submit(
        name="María José Fernández-Castellanos de la Peña",
        text=(LONG_WORDS * 4)[:499] + "?",
        neighborhood="Urbanización Los Almendros del Río",
    )
    waiting = server.submit(name="Íñigo", text="¿" + "Electroencefalografistas" * 3 + "?")
    answered = server.submit(name="Nuria", text="¿Cuándo abre la piscina?")
    for sub in (shown, waiting, answered):
        server.act(token, sub["id"], "approve")
    server.act(token, answered["id"], "show")
    server.act(token, answered["id"], "answer")
    server.act(token, shown["id"], "show")
    pending = server.submit(name="Luis", text=LONG_WORDS)
    return {"public": f"/m/{SLUG}", "tracking": pending["track_url"], "shown": shown["track_url"]}


def no_sideways_scroll(page: Page, where: str) -> None:
    # On a phone, content wider than the screen also widens the layout viewport (the page
    # zooms out), so innerWidth must still be 360.
    found = page.evaluate(
        """() => ({
          widths: [document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth],
          wide: [...document.querySelectorAll("body *")]
            .filter((el) => el.getBoundingClientRect().right > 360.5)
            .slice(0, 8).map((el) => el.tagName.toLowerCase() + (el.id ? `#${el.id}` : "")
              + (el.className ? `.${String(el.className).split(" ")[0]}` : "")),
        })"""
    )
    assert max(found["widths"]) <= 360, f"{where} scrolls sideways on a 360-pixel phone: {found}"


@pytest.mark.parametrize("language", ["en", "es"])
def test_public_and_tracking_pages_fit_a_360_pixel_phone(
    server: LiveServer, contexts: Contexts, tmp_path: Path, language: str
) -> None:
    paths = with_questions(server)
    phone = contexts.page(**PHONE)
    for where, path in paths.items():
        phone.goto(f"{path}{'&' if '?' in path else '?'}lang={language}")
        assert phone.evaluate("document.documentElement.lang") == language
        if where == "public":
            expect(phone.locator("#on-screen .question")).to_have_count(1)
            expect(phone.locator("#approved .question")).to_have_count(1)
        no_sideways_scroll(phone, where)
        phone.screenshot(path=str(tmp_path / f"{where}-360-{language}.png"), full_page=True)
    # After sending a question: the thanks and the tracking link fit too.
    phone.goto(f"/m/{SLUG}")
    phone.fill("#name", "Ana")
    phone.fill("#text", LONG_WORDS)
    phone.locator("#ask-form button[type=submit]").click()
    expect(phone.locator("#ask-done")).to_be_visible()
    no_sideways_scroll(phone, "public, after sending")


def page_weight(page: Page, path: str) -> dict[str, int]:
    """Decoded bytes of each HTML, CSS and JavaScript response a fresh visit to path loads."""
    responses: list[Response] = []

    def keep(response: Response) -> None:
        responses.append(response)

    page.on("response", keep)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", keep)
    origin = page.evaluate("location.origin")
    weights = {}
    for response in responses:
        if response.request.resource_type in COUNTED and response.status == 200:
            weights[response.url.removeprefix(origin).split("?")[0]] = len(response.body())
    return weights


@pytest.mark.parametrize("language", ["en", "es"])
def test_public_and_tracking_pages_weigh_under_100_kb(
    server: LiveServer, contexts: Contexts, language: str
) -> None:
    paths = with_questions(server)
    # A meeting being recorded: the public page then also carries the live video's player.
    with server.db.session() as session, session.begin():
        meeting_id = session.scalar(select(Meeting.id).where(Meeting.slug == SLUG))
        session.add(
            Recording(
                meeting_id=meeting_id,
                desired="recording",
                status="recording",
                mode="rtmp",
                folder=f"recordings/{SLUG}/now",
                started_at=datetime.now(UTC),
                parts=[],
            )
        )
    report = []
    for where, path in paths.items():
        page = contexts.page(**PHONE)  # a fresh context: nothing cached
        weights = page_weight(page, f"{path}?lang={language}")
        if where == "public":
            assert page.locator("#live-video").count() == 1, "the live video is not on the page"
            assert any(name.endswith("/player.js") for name in weights), weights
        total = sum(weights.values())
        report.append(
            f"{where} ({language}): {total:,} bytes "
            + ", ".join(f"{k} {v:,}" for k, v in weights.items())
        )
        assert total < BUDGET_BYTES, f"{where} weighs {total:,} bytes: {weights}"
        page.context.close()
    print("\n".join(report))
