"""Residents watch the meeting live on its public page, from Council's own recording."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import pytest
from playwright.sync_api import expect

from tests.archive.publisher import Publisher
from tests.e2e.conftest import Contexts, LiveServer, free_port
from tests.factories import wait_until

pytestmark = pytest.mark.browser


def test_public_page_plays_the_live_recording(
    server: LiveServer, contexts: Contexts, tmp_path: Path
) -> None:
    port = free_port()
    server.stop()
    server.overrides = {"rtmp_port": port}
    server.start()
    token = server.moderator_token()
    with server.api(token) as api:
        assert api.post("/api/meetings/pleno/recording/start", json={"mode": "rtmp"}).is_success
        wait_until(
            lambda: (
                api.get("/api/meetings/pleno/recording").json()["recording"]["status"] == "waiting"
            ),
            timeout=10,
        )
    with Publisher.rtmp(imageio_ffmpeg.get_ffmpeg_exe(), port, tmp_path / "pub.log"):
        with server.api() as api:
            # A first segment (4 s) after the encoder's 2 s of probing. With one segment only,
            # Chromium's player fails at first: the page must try again by itself.
            wait_until(lambda: ".ts" in api.get("/live/pleno/index.m3u8").text, timeout=20)
        page = contexts.page(360, 740)
        page.goto("/m/pleno")
        video = page.locator("#live-video")
        expect(video).to_be_visible()
        expect(video).to_have_attribute("data-player", "native", timeout=5000)
        page.evaluate("document.getElementById('live-video').muted = true")
        page.evaluate("document.getElementById('live-video').play()")
        # (wait_for_function would need eval, which the page's CSP rightly forbids.)
        wait_until(
            lambda: page.evaluate("document.getElementById('live-video').currentTime") > 1,
            timeout=25,
        )
        assert page.evaluate("document.getElementById('live-video').videoWidth") == 640


def test_an_outside_player_is_embedded_instead(server: LiveServer, contexts: Contexts) -> None:
    from council.meetings import set_stream_url

    server.write(set_stream_url, slug="pleno", url="https://tv.jun.es/embed/pleno?a=1&b=<2>")
    page = contexts.page()
    page.goto("/m/pleno")
    frame = page.locator(".video-frame iframe")
    expect(frame).to_have_attribute("src", "https://tv.jun.es/embed/pleno?a=1&b=<2>")
    assert page.locator("#live-video").count() == 0
