"""The archive of a meeting: questions at their moments on the video, chapters, downloads."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from council.agenda import add_item, next_item
from council.db import Database
from council.models import Recording
from council.settings import Settings
from tests.factories import happened_at, make_question, recorded


def test_questions_sit_at_the_moments_they_were_on_screen(
    client: TestClient, db: Database, meeting: str, settings: Settings
) -> None:
    from council.moderation.actions import hide, reject, restore, show

    hidden_then_rejected = make_question(db, status="approved", text="secreto")
    for action in (show, hide, restore, reject):
        db.run_write(action, slug="pleno", submission_id=hidden_then_rejected.id, actor="m")
    first = make_question(db, status="answered", text="¿La farola?")  # shown, answered
    second = make_question(db, status="on_screen", text="¿El agua?")  # shown, still on
    happened_at(db, "shown", 2, 0)
    happened_at(db, "hidden", 4, 0)
    happened_at(db, "shown", 10, 1)
    happened_at(db, "answered", 40, 0)
    happened_at(db, "shown", 110, 2)
    recorded(db, settings)
    data = client.get("/api/meetings/pleno/archive").json()
    assert data["recording"]["url"] == "/archive/pleno/video.mp4"
    assert data["recording"]["duration_s"] == 90.0
    entries = {e["submission"]["id"]: e for e in data["timeline"]}
    assert hidden_then_rejected.id not in entries, "rejected content never reaches the archive"
    assert (entries[first.id]["offset_s"], entries[first.id]["hidden_offset_s"]) == (10.0, 40.0)
    assert entries[first.id]["answered"] is True
    assert entries[second.id]["offset_s"] == 70.0  # 60 s of part one, then 10 s into part two
    assert entries[second.id]["hidden_offset_s"] is None


def test_chapters_come_from_the_agenda(
    client: TestClient, db: Database, meeting: str, settings: Settings
) -> None:
    for title in ("Acta", "Presupuestos --> 2027"):
        db.run_write(add_item, slug="pleno", title=title)
    db.run_write(next_item, slug="pleno")
    db.run_write(next_item, slug="pleno")
    happened_at(db, "agenda", 5, 2)
    happened_at(db, "agenda", 30, 3)
    recorded(db, settings)
    chapters = client.get("/api/meetings/pleno/archive").json()["chapters"]
    assert [(c["title"], c["start_s"], c["end_s"]) for c in chapters] == [
        ("Acta", 5.0, 30.0),
        ("Presupuestos --> 2027", 30.0, 90.0),
    ]
    vtt = client.get("/archive/pleno/chapters.vtt")
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text == (
        "WEBVTT\n\n1\n00:00:05.000 --> 00:00:30.000\nActa\n\n"
        "2\n00:00:30.000 --> 00:01:30.000\nPresupuestos → 2027\n"
    )


def test_questions_download_as_csv_safe_for_spreadsheets(
    client: TestClient, db: Database, meeting: str, settings: Settings
) -> None:
    make_question(db, status="answered", name='=HYPERLINK("x")', text="¿Y la piscina, señor?")
    recorded(db, settings)
    response = client.get("/archive/pleno/questions.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0]["text"] == "¿Y la piscina, señor?" and rows[0]["answered"] == "True"
    assert rows[0]["author"].startswith("'="), "a formula stays text"


def test_video_is_served_with_range_requests(
    client: TestClient, db: Database, meeting: str, settings: Settings
) -> None:
    recorded(db, settings, mp4_bytes=bytes(range(256)) * 16)
    whole = client.get("/archive/pleno/video.mp4")
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    part = client.get("/archive/pleno/video.mp4", headers={"Range": "bytes=256-511"})
    assert part.status_code == 206 and part.content == bytes(range(256))
    assert client.get("/archive/pleno/poster.jpg").status_code == 200


def test_a_meeting_without_a_recording_says_so(client: TestClient, meeting: str) -> None:
    data = client.get("/api/meetings/pleno/archive").json()
    assert data["recording"] is None and data["timeline"] == []
    missing = client.get("/archive/pleno/video.mp4")
    assert missing.status_code == 404 and "no recording" in missing.text


def test_recording_files_never_leave_the_data_folder(
    client: TestClient, db: Database, meeting: str, settings: Settings, tmp_path: Path
) -> None:
    recorded(db, settings)
    with db.session() as session, session.begin():
        session.execute(update(Recording).values(mp4="../../etc/passwd"))
    assert client.get("/archive/pleno/video.mp4").status_code == 404


def test_live_stream_files_are_only_the_recorders(
    client: TestClient, db: Database, meeting: str, settings: Settings
) -> None:
    assert client.get("/live/pleno/index.m3u8").status_code == 404  # nothing streaming
    with db.session() as session, session.begin():
        session.add(
            Recording(
                meeting_id=1,
                desired="recording",
                status="recording",
                mode="rtmp",
                folder="recordings/pleno/live",
                parts=[],
            )
        )
    folder = settings.data_dir / "recordings" / "pleno" / "live"
    folder.mkdir(parents=True)
    (folder / "index.m3u8").write_text("#EXTM3U\n")
    (folder / "ffmpeg.log").write_text("secret passphrase")
    assert client.get("/live/pleno/index.m3u8").text == "#EXTM3U\n"
    for name in ("ffmpeg.log", "..%2F..%2Fcouncil.db", "seg_1.ts", "seg_00001.ts"):
        assert client.get(f"/live/pleno/{name}").status_code == 404, name
