"""Recording a meeting for real: ffmpeg receives a synthetic stream over RTMP while a
moderator shows questions; the archive puts each question at its moment in the MP4."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import imageio_ffmpeg
from fastapi.testclient import TestClient
from sqlalchemy import select

from council.app import create_app
from council.models import Recording
from council.settings import Settings
from tests.archive.publisher import Publisher, free_port, is_listening
from tests.factories import (
    council_env,
    make_meeting,
    make_question,
    make_token,
    make_user,
    wait_until,
)


def recording(app: object) -> Recording | None:
    with app.state.council.db.session() as session:  # type: ignore[attr-defined]
        return session.scalar(select(Recording).order_by(Recording.id.desc()))


def test_questions_land_within_a_second_of_their_moment_in_the_recording(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", rtmp_port=port, _env_file=None)
    app = create_app(settings)
    db = app.state.council.db
    make_meeting(db)
    make_user(db)
    token = make_token(db)
    headers = {"Authorization": f"Bearer {token}"}
    questions = [make_question(db, status="approved", text=f"Pregunta {n}") for n in (1, 2)]
    publisher = Publisher.rtmp(imageio_ffmpeg.get_ffmpeg_exe(), port, tmp_path / "pub.log")
    with TestClient(app) as client:
        started = client.post(
            "/api/meetings/pleno/recording/start", json={"mode": "rtmp"}, headers=headers
        )
        assert started.status_code == 202
        wait_until(lambda: is_listening(port), timeout=15)
        waiting = client.get("/api/meetings/pleno/recording", headers=headers).json()
        assert waiting["recording"]["ingest_url"] == f"rtmp://127.0.0.1:{port}/live/council"
        try:
            publisher.start()
            wait_until(lambda: (r := recording(app)) and r.status == "recording", timeout=15)
            shown_at: dict[int, float] = {}
            for question in questions:
                time.sleep(2.5)
                shown_at[question.id] = time.time()
                response = client.post(
                    f"/api/meetings/pleno/submissions/{question.id}/show", headers=headers
                )
                assert response.status_code == 200
            time.sleep(3)
            # Meanwhile, viewers can watch it live, from the start.
            live = client.get("/live/pleno/index.m3u8")
            assert live.status_code == 200 and live.headers["cache-control"] == "no-cache"
            first_segment = next(line for line in live.text.splitlines() if line.endswith(".ts"))
            segment = client.get(f"/live/pleno/{first_segment}")
            assert segment.status_code == 200 and segment.content[:1] == b"\x47"  # MPEG-TS sync
        finally:
            publisher.stop()
        # The clerk stops it from a shell, and watches the MP4 being built.
        cli = subprocess.run(
            [sys.executable, "-m", "council.cli", "record", "stop", "pleno", "--wait"],
            env=council_env(settings.data_dir),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert cli.returncode == 0, cli.stderr
        assert "Ready:" in cli.stdout and "/archive/pleno" in cli.stdout
        done = wait_until(
            lambda: (r := recording(app)) and r.status in ("ready", "failed") and r, timeout=60
        )
        assert done.status == "ready", done.error
        archive = client.get("/api/meetings/pleno/archive").json()
        video = client.get("/archive/pleno/video.mp4", headers={"Range": "bytes=0-99"})
    assert publisher.started_wall is not None
    truth = {sub_id: at - publisher.started_wall for sub_id, at in shown_at.items()}
    found = {e["submission"]["id"]: e["offset_s"] for e in archive["timeline"]}
    for sub_id, expected in truth.items():
        assert abs(found[sub_id] - expected) < 1.0, (found, truth)
    assert archive["recording"]["duration_s"] > 6
    assert video.status_code == 206 and video.content[4:8] == b"ftyp"
    assert (settings.data_dir / done.poster).stat().st_size > 0  # type: ignore[operator]
    assert len(done.parts) == 1 and done.parts[0]["anchor"]


def test_meetings_can_be_recorded_automatically_from_live_to_end(tmp_path: Path) -> None:
    from council.meetings import end_meeting

    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data", rtmp_port=port, record_when_live="rtmp", _env_file=None
    )
    app = create_app(settings)
    make_meeting(app.state.council.db)  # live at once
    with TestClient(app):
        waiting = wait_until(lambda: (r := recording(app)) and r.status == "waiting" and r)
        assert (waiting.mode, waiting.requested_by) == ("rtmp", "automatic")
        wait_until(lambda: is_listening(port), timeout=15)
        app.state.council.db.run_write(end_meeting, slug="pleno")
        ended = wait_until(
            lambda: (r := recording(app)) and r.status in ("failed", "ready") and r, timeout=20
        )
    assert ended.desired == "stopped"
    assert ended.error == "Nothing was recorded: no encoder ever sent a stream."


def test_a_council_restart_continues_the_recording_as_a_new_part(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", rtmp_port=port, _env_file=None)
    ffmpeg_exe = imageio_ffmpeg.get_ffmpeg_exe()
    first = create_app(settings)
    make_meeting(first.state.council.db)
    make_user(first.state.council.db)
    token = make_token(first.state.council.db)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(first) as client:
        client.post("/api/meetings/pleno/recording/start", json={"mode": "rtmp"}, headers=headers)
        wait_until(lambda: is_listening(port), timeout=15)
        with Publisher.rtmp(ffmpeg_exe, port, tmp_path / "a.log"):
            wait_until(lambda: (r := recording(first)) and r.status == "recording", timeout=15)
            time.sleep(4)
    # Council is back (an upgrade, a reboot); the encoder reconnects.
    again = create_app(settings)
    with TestClient(again) as client:
        wait_until(lambda: is_listening(port), timeout=15)
        with Publisher.rtmp(ffmpeg_exe, port, tmp_path / "b.log"):
            wait_until(lambda: (r := recording(again)) and r.status == "recording", timeout=15)
            time.sleep(4)
        client.post("/api/meetings/pleno/recording/stop", headers=headers)
        done = wait_until(
            lambda: (r := recording(again)) and r.status in ("ready", "failed") and r, timeout=60
        )
    assert done.status == "ready", done.error
    assert len(done.parts) == 2
    assert done.parts[1]["offset_s"] > 0 and done.parts[1]["gap_before_s"] > 0
    assert done.duration_s is not None and done.duration_s > 5
