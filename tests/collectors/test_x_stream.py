"""Stream mode: one filtered-stream connection, a tagged rule per live meeting, catch-up first."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from council.app import create_app
from council.meetings import end_meeting
from tests.factories import (
    collector,
    make_meeting,
    questions,
    running,
    searches,
    wait_until,
    x_settings,
)
from tests.fakes.x_api import FakeX


def test_streamed_tweets_arrive_once_after_catching_up(tmp_path: Path, fake_x: FakeX) -> None:
    missed = fake_x.post("publicada antes de arrancar #PlenoJun")
    with running(x_settings(tmp_path, fake_x, x_stream=True)) as (app, _client):
        db = app.state.council.db
        fake_x.wait_for_streams(1, timeout=10)
        live = fake_x.post("en directo #PlenoJun", username="vecina_jun")
        fake_x.post("otra cosa #OtroPleno")
        found = wait_until(lambda: len(questions(db)) == 2 and questions(db))
        time.sleep(0.3)
        assert len(questions(db)) == 2
        state = collector(db)
        rules = fake_x.rules
    assert [q.external_id for q in found] == [missed, live]
    assert state is not None and state.status == "running" and state.newest_id == live
    assert len(searches(fake_x)) == 1, "one catch-up search, then the stream only"
    assert [(r["value"], r["tag"]) for r in rules] == [("#PlenoJun -is:retweet", "council:pleno")]
    assert fake_x.rules == [], "the meeting's rule goes when Council stops listening"


def test_meetings_share_one_connection_and_rules_follow_them(tmp_path: Path, fake_x: FakeX) -> None:
    app = create_app(x_settings(tmp_path, fake_x, x_stream=True))
    db = app.state.council.db
    make_meeting(db, "pleno", hashtags=["PlenoJun"])
    make_meeting(db, "distrito", hashtags=["DistritoNorte"])
    with TestClient(app):
        wait_until(lambda: len(fake_x.rules) == 2, timeout=10)
        fake_x.wait_for_streams(1, timeout=10)
        fake_x.post("del pleno #PlenoJun")
        fake_x.post("del distrito #DistritoNorte")
        found = wait_until(lambda: len(questions(db)) == 2 and questions(db))
        assert {q.meeting.slug: q.original_text for q in found} == {
            "pleno": "del pleno #PlenoJun",
            "distrito": "del distrito #DistritoNorte",
        }
        assert fake_x.open_streams == 1 and fake_x.stream_connects == 1
        db.run_write(end_meeting, slug="distrito")
        wait_until(lambda: [r["tag"] for r in fake_x.rules] == ["council:pleno"], timeout=10)


def test_a_dropped_stream_reconnects_and_loses_nothing_sent_after(
    tmp_path: Path, fake_x: FakeX
) -> None:
    with running(x_settings(tmp_path, fake_x, x_stream=True)) as (app, _client):
        db = app.state.council.db
        fake_x.wait_for_streams(1, timeout=10)
        fake_x.post("primera #PlenoJun")
        wait_until(lambda: questions(db))
        fake_x.disconnect_streams()
        wait_until(lambda: fake_x.stream_connects >= 2, timeout=10)
        fake_x.wait_for_streams(1, timeout=10)
        fake_x.post("segunda #PlenoJun")
        wait_until(lambda: len(questions(db)) == 2)


def test_stream_credentials_rejected_are_shown(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.fail_next(401, endpoint="stream")
    with running(x_settings(tmp_path, fake_x, x_stream=True)) as (app, _client):
        db = app.state.council.db
        state = wait_until(lambda: (s := collector(db)) and s.status == "failed" and s)
    assert "credentials rejected" in (state.last_error or "")
