"""Merging keeps every asker: the counts add up, and each asker is told when it is answered."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from council.db import Database
from council.events import committed_events
from council.models import Submission, Vote
from council.moderation import actions
from tests.factories import make_question

pytestmark = pytest.mark.both_databases


def merge(db: Database, sub_id: int, into: int) -> Any:
    _sub, events = db.run_write(
        actions.merge, slug="pleno", submission_id=sub_id, into=into, actor="mod"
    )
    return events


def run(db: Database, action: str, sub_id: int) -> Any:
    _sub, events = db.run_write(
        getattr(actions, action), slug="pleno", submission_id=sub_id, actor="mod"
    )
    return events


def row(db: Database, sub_id: int) -> Submission:
    with db.session() as session:
        sub = session.get(Submission, sub_id)
        assert sub is not None
        return sub


def test_asked_count_adds_up_through_merges_of_merges(db: Database, meeting: str) -> None:
    kept = make_question(db, status="approved")
    a, b, c = (make_question(db) for _ in range(3))
    merge(db, a.id, b.id)  # b now stands for 2 askers
    merge(db, b.id, kept.id)  # kept: 1 + 2
    merge(db, c.id, kept.id)  # kept: 4
    assert row(db, kept.id).asked_count == 4
    # Everyone merged now points at the question kept, one step away.
    assert {row(db, i).merged_into_id for i in (a.id, b.id, c.id)} == {kept.id}


def test_votes_follow_the_merge_each_browser_once(db: Database, meeting: str) -> None:
    kept = make_question(db, status="approved")
    gone = make_question(db, status="approved")
    with db.session() as session, session.begin():
        for sub_id, voters in ((kept.id, "ab"), (gone.id, "bcdef")):
            for voter in voters:
                session.add(Vote(meeting_id=1, submission_id=sub_id, voter=voter))
            sub = session.get(Submission, sub_id)
            assert sub is not None
            sub.votes = len(voters)  # as council/votes.py keeps it
    merge(db, gone.id, kept.id)
    assert row(db, kept.id).votes == 6  # a, b, c, d, e, f: b voted for both
    assert row(db, kept.id).score == pytest.approx(3 + 6)  # one more asker, six votes


def tracked(events: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        found.update(event.tracking)
    return found


def test_every_merged_asker_is_told_when_the_question_kept_is_answered(
    db: Database, meeting: str
) -> None:
    kept = make_question(db)
    a, b = make_question(db), make_question(db)
    merge(db, a.id, b.id)
    merge(db, b.id, kept.id)
    run(db, "approve", kept.id)
    run(db, "show", kept.id)
    told = tracked(run(db, "answer", kept.id))
    assert set(told) == {kept.track_token, a.track_token, b.track_token}
    for token in (a.track_token, b.track_token):
        assert told[token]["status"] == "answered"
        assert told[token]["merged"] is True
        assert told[token]["answered_at"] is not None


def test_a_merged_asker_follows_each_step_of_the_question_kept(db: Database, meeting: str) -> None:
    kept = make_question(db)
    gone = make_question(db)
    assert tracked(merge(db, gone.id, kept.id))[gone.track_token]["status"] == "merged"
    assert tracked(run(db, "approve", kept.id))[gone.track_token]["status"] == "approved"
    assert tracked(run(db, "show", kept.id))[gone.track_token]["status"] == "on_screen"
    assert tracked(run(db, "hide", kept.id))[gone.track_token]["status"] == "approved"


def test_the_tracking_page_of_a_merged_question_shows_the_answer(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    client = moderator
    kept = make_question(db, status="on_screen")
    gone = make_question(db)
    merge(db, gone.id, kept.id)
    with client.websocket_connect(f"/ws/track/{gone.track_token}") as ws:
        assert ws.receive_json()["submission"]["status"] == "on_screen"
        answered = client.post(f"/api/meetings/pleno/submissions/{kept.id}/answer")
        assert answered.status_code == 200, answered.text
        message = next_status(ws)
    assert message["submission"]["status"] == "answered"
    assert message["submission"]["merged"] is True
    api = client.get(f"/api/track/{gone.track_token}").json()["submission"]
    assert api["status"] == "answered"
    page = client.get(f"/t/{gone.track_token}").text
    assert 'data-status="answered"' in page


def next_status(ws: WebSocketTestSession) -> dict[str, Any]:
    for _ in range(3):
        message = ws.receive_json()
        if message["type"] != "ping":
            return message  # type: ignore[no-any-return]
    raise AssertionError("no status message")


def test_an_ordinary_action_looks_up_no_merged_askers(db: Database, meeting: str) -> None:
    sub = make_question(db)
    told = tracked(run(db, "approve", sub.id))
    assert set(told) == {sub.track_token}


def test_askers_hear_of_changes_made_by_another_process(db: Database, meeting: str) -> None:
    kept = make_question(db, status="on_screen")
    gone = make_question(db)
    merge(db, gone.id, kept.id)
    run(db, "answer", kept.id)  # as the CLI or another worker would: nothing published here
    with db.session() as session:
        last = committed_events(session, meeting_id=1, after=0)[-1]
    assert last.type == "answered"
    assert last.tracking[gone.track_token]["status"] == "answered"
