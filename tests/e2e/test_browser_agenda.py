"""The moderator's side panels in a real browser: the agenda, live on the chamber screen and
the public page; and the recording, started, fed by a real encoder and stopped."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest
from playwright.sync_api import expect

from council.agenda import add_item
from tests.e2e.conftest import SLUG, free_port

pytestmark = pytest.mark.browser

ITEMS = [
    "Aprobación del acta de la sesión anterior",
    "Presupuestos municipales de 2027: inversiones en el polideportivo, la biblioteca y el "
    "alumbrado público de todos los barrios del municipio",
    "Ruegos y preguntas",
]


def _shots_dir(tmp_path: Path) -> Path:
    wanted = os.environ.get("COUNCIL_E2E_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_next_item_reaches_the_screen_and_the_public_page_live(server, contexts, tmp_path):
    for title in ITEMS:
        server.write(add_item, slug=SLUG, title=title)

    screen = contexts.page(1280, 720)
    screen.goto(f"/screen/{SLUG}")
    expect(screen.locator("#idle")).to_be_visible(timeout=5_000)
    expect(screen.locator("#agenda-current")).to_be_hidden()
    screen.evaluate("window.__marker = 'no reload'")
    phone = contexts.page(360, 740, is_mobile=True, has_touch=True)
    phone.goto(f"/m/{SLUG}")
    expect(phone.locator("#agenda-current")).to_be_hidden()

    moderator = contexts.moderator()
    panel = moderator.locator("#agenda-panel")
    expect(panel.locator(".agenda-item")).to_have_count(3)
    expect(panel.get_by_role("button", name="No item (break)")).to_be_disabled()

    panel.get_by_role("button", name="Next item").click()
    expect(screen.locator("#agenda-current")).to_have_text(ITEMS[0], timeout=2_000)
    expect(screen.locator("#agenda-current")).to_be_visible()
    expect(phone.locator("#agenda-current")).to_contain_text(ITEMS[0], timeout=2_000)
    expect(panel.locator(".agenda-item").nth(0)).to_have_attribute("aria-current", "true")
    expect(panel.locator("#agenda-now")).to_contain_text(ITEMS[0])

    # A long title stays on one line of the screen; nothing scrolls.
    panel.get_by_role("button", name="Next item").click()
    expect(screen.locator("#agenda-current")).to_have_text(ITEMS[1], timeout=2_000)
    size = screen.evaluate(
        """() => { const doc = document.documentElement;
                   return [doc.scrollWidth, innerWidth, doc.scrollHeight, innerHeight]; }"""
    )
    assert size[0] <= size[1] and size[2] <= size[3], f"the screen scrolls: {size}"
    screen.screenshot(path=str(_shots_dir(tmp_path) / "screen-agenda-1280x720.png"))

    panel.locator(".agenda-item").nth(2).get_by_role("button").click()  # "Make current"
    expect(screen.locator("#agenda-current")).to_have_text(ITEMS[2], timeout=2_000)
    expect(panel.locator(".agenda-item").nth(2)).to_have_attribute("aria-current", "true")

    panel.get_by_role("button", name="No item (break)").click()
    expect(screen.locator("#agenda-current")).to_be_hidden(timeout=2_000)
    expect(phone.locator("#agenda-current")).to_be_hidden(timeout=2_000)

    # Adding an item from the panel's form.
    moderator.fill("#agenda-title", "Mociones de urgencia")
    moderator.press("#agenda-title", "Enter")
    expect(panel.locator(".agenda-item")).to_have_count(4, timeout=2_000)
    expect(panel.locator(".agenda-item").nth(3)).to_contain_text("Mociones de urgencia")
    expect(moderator.locator("#agenda-title")).to_have_value("")
    assert screen.evaluate("window.__marker") == "no reload"


def test_moderator_records_from_the_panel(server, contexts, tmp_path):
    port = free_port()
    server.stop()
    # A huge low-disk threshold: the warning must show.
    server.overrides = {"rtmp_port": port, "recording_low_disk_gb": 1e6}
    server.start()

    moderator = contexts.moderator()
    panel = moderator.locator("#recording-panel")
    expect(panel.locator("#recording-status")).to_have_text("Not recording", timeout=5_000)
    panel.locator("#recording-mode").select_option("pull")
    expect(panel.locator("#recording-url")).to_be_visible()
    panel.locator("#recording-mode").select_option("rtmp")
    expect(panel.locator("#recording-url")).to_be_hidden()
    panel.get_by_role("button", name="Start recording").click()

    # Where OBS sends the stream, ready to paste, and the recorder's health.
    expect(panel.locator("#ingest-server")).to_have_value(
        f"rtmp://127.0.0.1:{port}/live", timeout=5_000
    )
    expect(panel.locator("#ingest-key")).to_have_value("council")
    expect(panel.locator("#recording-status")).to_have_text(
        "Waiting for the encoder to connect", timeout=5_000
    )
    expect(panel.locator("#recording-disk-warning")).to_be_visible(timeout=5_000)
    expect(panel.locator("#rec-disk")).not_to_have_text("–")

    # A real encoder pushes: the panel says so, with the bitrate.
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    encoder = subprocess.Popen(
        [
            *(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-re"),
            *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"),
            *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"),
            *("-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-g", "50"),
            *("-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv"),
            f"rtmp://127.0.0.1:{port}/live/council",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        expect(panel.locator("#recording-status")).to_have_text("Recording", timeout=5_000)
        expect(panel.locator("#rec-bitrate")).to_contain_text("kbit/s", timeout=5_000)
        expect(panel.locator("#rec-parts")).to_have_text("1")
        moderator.screenshot(
            path=str(_shots_dir(tmp_path) / "moderate-recording-1440.png"), full_page=True
        )

        panel.get_by_role("button", name="Stop recording").click()
        dialog = moderator.locator("#stop-dialog")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Keep recording").click()
        expect(panel.locator("#recording-status")).to_have_text("Recording")
        panel.get_by_role("button", name="Stop recording").click()
        dialog.get_by_role("button", name="Stop recording").click()
        expect(panel.locator("#recording-status")).to_have_text(
            "Recorded: the video is ready", timeout=5_000
        )
    finally:
        encoder.kill()
        encoder.wait(timeout=5)
    expect(panel.get_by_role("link", name="Watch the replay")).to_be_visible()
    expect(panel.get_by_role("button", name="Start recording")).to_be_visible()
