"""The replay in a real browser: a real MP4, questions at known moments, agenda chapters.

The video is made here with the ffmpeg that imageio-ffmpeg ships (20 s of test pattern
and tone, H.264/AAC, faststart), placed in the server's data folder as a finished
recording whose one part starts exactly at T0, so each question's offset is known.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from council.agenda import add_item, next_item
from council.models import Event
from tests.e2e.conftest import SLUG, LiveServer
from tests.factories import add_ready_recording, at, recorded_media

pytestmark = pytest.mark.browser

DURATION = 20.0
# Seconds into the video at which each question appeared on the chamber screen.
SHOWN = {"farola": 4.0, "agua": 9.0, "piscina": 16.0}
CHAPTERS = {"Aprobación del acta": 2.0, "Presupuestos 2027": 11.0}
TOLERANCE = 1.0


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return recorded_media(tmp_path_factory.mktemp("media"), DURATION, poster_at=3)


def set_event_times(server: LiveServer, event_type: str, seconds: list[float]) -> None:
    """Move the last len(seconds) events of a type to known moments of the meeting."""
    with server.db.session() as session, session.begin():
        events = session.scalars(
            select(Event).where(Event.type == event_type).order_by(Event.seq)
        ).all()
        for event, when in zip(events[-len(seconds) :], seconds, strict=True):
            session.execute(update(Event).where(Event.id == event.id).values(created_at=at(when)))


def recorded_meeting(server: LiveServer, media: Path) -> dict[str, int]:
    """Questions shown at SHOWN, agenda chapters at CHAPTERS, and a ready recording."""
    token = server.moderator_token()
    ids: dict[str, int] = {}
    texts = {
        "farola": ("Ana García", "¿Cuándo arreglan la farola de la calle Mayor?"),
        "agua": ("Íñigo", "¿Por qué sale turbia el agua del grifo?"),
        "piscina": ("Nuria <b>", "<script>alert('x')</script>¿Abrirá la piscina en junio?"),
    }
    for key, (name, text) in texts.items():
        ids[key] = server.submit(name=name, text=text, neighborhood="El Barrio Alto")["id"]
        server.act(token, ids[key], "approve")
    for key in SHOWN:  # each show replaces the one before it
        server.act(token, ids[key], "show")
    set_event_times(server, "shown", list(SHOWN.values()))

    for title in CHAPTERS:
        server.write(add_item, slug=SLUG, title=title)
    for _ in CHAPTERS:
        server.write(next_item, slug=SLUG)
    set_event_times(server, "agenda", list(CHAPTERS.values()))

    add_ready_recording(server, media, seconds=DURATION)
    return ids


def video_state(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate(
        """() => { const v = document.getElementById("video");
                   return {readyState: v.readyState, duration: v.duration,
                           currentTime: v.currentTime, error: v.error && v.error.code}; }"""
    )
    return state


def wait_for_time(page: Page, seconds: float) -> None:
    page.wait_for_function(
        """([want, tolerance]) => { const v = document.getElementById("video");
             return v.readyState >= 1 && !v.seeking
                 && Math.abs(v.currentTime - want) < tolerance; }""",
        arg=[seconds, TOLERANCE],
        timeout=5_000,
    )


def _shots_dir(tmp_path: Path) -> Path:
    wanted = os.environ.get("COUNCIL_E2E_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_replay_plays_seeks_to_questions_and_follows_chapters(server, contexts, mp4, tmp_path):
    ids = recorded_meeting(server, mp4)
    page = contexts.page(1280, 800)
    page.goto(f"/archive/{SLUG}")
    page.wait_for_function("document.getElementById('video').readyState >= 1", timeout=5_000)
    state = video_state(page)
    assert state["error"] is None and abs(state["duration"] - DURATION) < 0.5, state

    # Every question at its moment, user text as text.
    timeline = page.locator("#timeline")
    expect(timeline.locator(".moment")).to_have_count(3)
    expect(timeline).to_contain_text("<script>alert('x')</script>¿Abrirá la piscina en junio?")
    expect(page.locator(f"#q-{ids['agua']} .time")).to_have_text("00:09")

    # A click on a question plays the video from the moment it was shown, and marks it.
    page.locator(f"#q-{ids['agua']} a").click()
    wait_for_time(page, SHOWN["agua"])
    expect(page.locator(f"#q-{ids['agua']}")).to_have_attribute("aria-current", "true")
    expect(page.locator("#timeline [aria-current]")).to_have_count(1)
    assert "t=9" in page.url

    # The highlight follows the video as it plays on.
    page.evaluate(f"document.getElementById('video').currentTime = {SHOWN['piscina'] + 0.5}")
    expect(page.locator(f"#q-{ids['piscina']}")).to_have_attribute(
        "aria-current", "true", timeout=5_000
    )
    expect(page.locator(f"#q-{ids['agua']}")).not_to_have_attribute("aria-current", "true")

    # Agenda chapters: listed in order, and a click seeks there.
    chapters = page.locator("#chapters .chapter")
    expect(chapters).to_have_count(2)
    expect(chapters.nth(0)).to_contain_text("Aprobación del acta")
    expect(chapters.nth(1)).to_contain_text("Presupuestos 2027")
    chapters.nth(1).locator("a").click()
    wait_for_time(page, CHAPTERS["Presupuestos 2027"])
    expect(chapters.nth(1)).to_have_attribute("aria-current", "true")
    tracks = page.evaluate(
        "[...document.getElementById('video').textTracks].map(t => [t.kind, t.mode])"
    )
    assert tracks == [["chapters", "hidden"]] or tracks == [["chapters", "showing"]], tracks

    # Keyboard: a question link is reachable and Enter seeks.
    link = page.locator(f"#q-{ids['farola']} a")
    link.focus()
    page.keyboard.press("Enter")
    wait_for_time(page, SHOWN["farola"])

    # Share this moment: a link with ?t=, copied or shown to copy.
    page.evaluate("document.getElementById('video').pause()")
    page.get_by_role("button", name="Share this moment").click()
    expect(page.locator("#share-url")).to_be_visible()
    shared = page.locator("#share-url").input_value()
    assert shared.startswith(f"{server.base_url}/archive/{SLUG}?t="), shared
    expect(page.locator("#share-status")).not_to_be_empty()
    page.screenshot(path=str(_shots_dir(tmp_path) / "replay-1280.png"), full_page=True)


def test_replay_opens_at_the_time_in_the_link(server, contexts, mp4, tmp_path):
    ids = recorded_meeting(server, mp4)
    page = contexts.page(1280, 800)
    page.goto(f"/archive/{SLUG}?t=12")
    wait_for_time(page, 12.0)
    # At 12 s the second question was on screen.
    expect(page.locator(f"#q-{ids['agua']}")).to_have_attribute("aria-current", "true")

    page.goto(f"/archive/{SLUG}#t=5")
    wait_for_time(page, 5.0)

    page.goto(f"/archive/{SLUG}?q={ids['piscina']}")
    wait_for_time(page, SHOWN["piscina"])


def test_replay_on_a_phone_puts_the_video_above_the_questions(server, contexts, mp4, tmp_path):
    ids = recorded_meeting(server, mp4)
    phone = contexts.new(360, 740, is_mobile=True, has_touch=True).new_page()
    phone.goto(f"/archive/{SLUG}")
    phone.wait_for_function("document.getElementById('video').readyState >= 1", timeout=5_000)
    width = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the replay scrolls sideways on a phone: {width}"
    video = phone.locator("#video").bounding_box()
    first = phone.locator(f"#q-{ids['farola']}").bounding_box()
    assert video and first and video["y"] + video["height"] <= first["y"], (video, first)
    assert video["width"] >= 300, video
    phone.locator(f"#q-{ids['agua']} a").tap()
    wait_for_time(phone, SHOWN["agua"])
    phone.screenshot(path=str(_shots_dir(tmp_path) / "replay-360.png"), full_page=True)


def test_archive_search_links_to_the_moment(server, contexts, mp4, tmp_path):
    ids = recorded_meeting(server, mp4)
    page = contexts.page(1280, 800)
    page.goto("/archive")
    page.fill("#archive-q", "AGUA grifo")
    page.get_by_role("button", name="Search").click()
    hit = page.locator(".hit", has_text="turbia")
    expect(hit).to_have_count(1)
    expect(hit.locator("mark")).to_have_text(["agua", "grifo"])
    hit.locator("a.time-link").click()
    page.wait_for_url(f"**/archive/{SLUG}?t=9")
    wait_for_time(page, SHOWN["agua"])
    expect(page.locator(f"#q-{ids['agua']}")).to_have_attribute("aria-current", "true")
