"""The approved queue's order: by score (verified, askers, votes, age), overridden by hand."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from council.app import create_app
from council.db import Database
from council.intake import Post, collect
from council.models import Event, Submission
from council.moderation import actions, priority
from council.residents import add_resident
from council.settings import Settings
from tests.factories import make_meeting, make_question

pytestmark = pytest.mark.both_databases


def order(db: Database) -> list[int]:
    ids = [s.id for s in db.run_read(priority.queue, meeting_id=1)]
    assert db.run_read(priority.queue_ids, meeting_id=1) == ids
    return ids


def change(db: Database, sub_id: int, **values: Any) -> None:
    with db.session() as session, session.begin():
        session.execute(update(Submission).where(Submission.id == sub_id).values(**values))


def rescore(db: Database) -> list[int]:
    changed, _events = db.run_write(priority.rescore, meeting_id=1)
    return [s.id for s in changed]


def received_minutes_ago(db: Database, sub_id: int, minutes: float) -> None:
    with db.session() as session, session.begin():
        sub = session.get(Submission, sub_id)
        assert sub is not None
        sub.received_at = sub.received_at - timedelta(minutes=minutes)


def approved(db: Database, n: int) -> list[int]:
    ids = []
    for i in range(n):
        sub = make_question(db, text=f"Pregunta número {i} sobre el presupuesto")
        ids.append(sub.id)
    # Oldest first, a minute apart, before any is approved.
    for i, sub_id in enumerate(ids):
        received_minutes_ago(db, sub_id, 60 - i)
    for sub_id in ids:
        db.run_write(actions.approve, slug="pleno", submission_id=sub_id, actor="mod")
    return ids


def test_with_nothing_else_to_go_by_the_oldest_question_goes_first(
    db: Database, meeting: str
) -> None:
    ids = approved(db, 4)
    assert order(db) == ids


def test_a_verified_resident_more_askers_and_votes_each_move_a_question_up(
    db: Database, meeting: str
) -> None:
    first, second, third, fourth = approved(db, 4)
    change(db, fourth, votes=12)  # 12 points: beats 3 minutes of waiting
    change(db, third, verified=True)  # 5 points: beats 2 minutes
    rescore(db)
    assert order(db) == [fourth, third, first, second]
    # A merge adds an asker (3 points) to the question kept.
    extra = make_question(db, text="Otra")
    db.run_write(actions.merge, slug="pleno", submission_id=extra.id, into=second, actor="mod")
    assert order(db)[:3] == [fourth, third, second]


def test_the_score_counts_points_and_the_order_adds_the_minutes_waited(
    db: Database, meeting: str
) -> None:
    old, new = approved(db, 2)
    received_minutes_ago(db, old, 10)  # now 10 minutes older than the other (0.2 points each)
    change(db, new, votes=1)
    rescore(db)
    assert order(db) == [old, new], "ten minutes of waiting (2 points) beat one vote"
    change(db, new, votes=3)
    rescore(db)
    assert order(db) == [new, old], "three votes beat ten minutes"
    with db.session() as session:
        assert session.get(Submission, new).score == 3.0  # type: ignore[union-attr]


def test_the_weights_are_settings(tmp_path: Path, database_url: str | None) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        priority_vote_weight=0.0,
        priority_verified_weight=100.0,
        _env_file=None,
    )
    app = create_app(settings)
    db: Database = app.state.council.db
    try:
        make_meeting(db)
        first, second = approved(db, 2)
        change(db, first, votes=50)
        change(db, second, verified=True)
        rescore(db)
        assert order(db) == [second, first]
        with db.session() as session:
            assert session.get(Submission, second).score == 100.0  # type: ignore[union-attr]
    finally:
        db.engine.dispose()


def test_a_rescore_changes_only_the_questions_that_moved(db: Database, meeting: str) -> None:
    ids = approved(db, 8)
    change(db, ids[5], votes=40)
    assert rescore(db) == [ids[5]]
    assert order(db) == [ids[5], *ids[:5], *ids[6:]]
    assert rescore(db) == [], "nothing changed, nothing to send"


def test_approving_sends_the_new_question_with_its_place(db: Database, meeting: str) -> None:
    ids = approved(db, 3)
    sub = make_question(db, text="Nueva")
    change(db, sub.id, votes=30)
    _sub, events = db.run_write(actions.approve, slug="pleno", submission_id=sub.id, actor="m")
    (event,) = events
    views = event.public["submissions"] if event.public else []
    assert [v["id"] for v in views] == [sub.id], "only the newcomer changed"
    assert views[0]["position"] < min(
        s.position or 0 for s in db.run_read(priority.queue, meeting_id=1) if s.id in ids
    )
    assert order(db) == [sub.id, *ids]


def move(client: TestClient, sub_id: int, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/meetings/pleno/submissions/{sub_id}/move", json=body)
    return {"status": response.status_code, "body": response.json()}


def test_a_moderator_moves_a_question_before_after_or_last(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    a, b, c, d = approved(db, 4)
    assert move(moderator, d, before=a)["status"] == 200
    assert order(db) == [d, a, b, c]
    assert move(moderator, a, after=c)["status"] == 200
    assert order(db) == [d, b, c, a]
    assert move(moderator, d, before=None)["status"] == 200
    assert order(db) == [b, c, a, d]
    view = move(moderator, b, after=a)["body"]["submission"]
    assert view["position_manual"] is True


def test_a_question_moved_by_hand_keeps_its_place_in_line(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    a, b, c = approved(db, 3)
    move(moderator, c, before=a)  # the moderator wants c first
    newcomer = make_question(db, text="Muy votada")
    change(db, newcomer.id, votes=50)
    db.run_write(actions.approve, slug="pleno", submission_id=newcomer.id, actor="m")
    assert order(db) == [c, newcomer.id, a, b], "c stays first; the rest by score"
    db.run_write(actions.show, slug="pleno", submission_id=newcomer.id, actor="m")
    assert order(db) == [c, a, b]
    db.run_write(actions.hide, slug="pleno", submission_id=newcomer.id, actor="m")
    assert order(db) == [c, newcomer.id, a, b], "back from the screen, back in its place"
    # Sent back to the score order, c goes where its score puts it.
    assert move(moderator, c, auto=True)["status"] == 200
    assert order(db) == [newcomer.id, a, b, c]


def test_a_reordered_event_tells_everyone_the_new_positions(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    a, b = approved(db, 2)
    move(moderator, b, before=a)
    with db.session() as session:
        event = session.scalars(select(Event).order_by(Event.seq.desc())).first()
    assert event is not None and event.type == "reordered"
    assert event.public_payload is not None
    positions = {s["id"]: s["position"] for s in event.public_payload["submissions"]}
    assert positions[b] < (db.run_read(priority.queue, meeting_id=1)[1].position or 0)


def test_the_public_queue_follows_the_order(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    a, b, c = approved(db, 3)
    move(moderator, c, before=a)
    state = moderator.get("/api/meetings/pleno/state").json()
    assert [s["id"] for s in state["approved"]] == [c, a, b]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({}, 422, "Say where"),
        ({"before": 2, "after": 3}, 422, "not both"),
        ({"before": 1}, 422, "itself"),
        ({"auto": True, "before": 2}, 422, "no place"),
        ({"before": 99}, 404, "does not exist"),
    ],
)
def test_bad_moves_are_refused_with_a_reason(
    moderator: TestClient, db: Database, meeting: str, body: dict, status: int, words: str
) -> None:
    approved(db, 3)
    result = move(moderator, 1, **body)
    assert result["status"] == status, result
    assert words in result["body"]["detail"]


def test_only_approved_questions_move(moderator: TestClient, db: Database, meeting: str) -> None:
    (a,) = approved(db, 1)
    pending = make_question(db)
    result = move(moderator, pending.id, before=a)
    assert result["status"] == 409
    assert result["body"]["code"] == "invalid_transition"
    result = move(moderator, a, before=pending.id)
    assert result["status"] == 409
    assert "not in the approved queue" in result["body"]["detail"]


def test_positions_run_out_of_room_and_the_queue_is_renumbered(db: Database, meeting: str) -> None:
    ids = approved(db, 3)
    change(db, ids[0], position=1.0)
    change(db, ids[1], position=1.0 + 1e-9)
    change(db, ids[2], position=1.0 + 2e-9, position_manual=True)
    # Move the last between the first two: no room between 1.0 and 1.000000001.
    db.run_write(priority.move, slug="pleno", submission_id=ids[2], actor="m", after=ids[0])
    queue = db.run_read(priority.queue, meeting_id=1)
    assert [s.id for s in queue] == [ids[0], ids[2], ids[1]]
    assert [s.position for s in queue] == [1024.0, 2048.0, 3072.0]


def test_registering_a_resident_moves_their_question_up(db: Database, meeting: str) -> None:
    first, second = approved(db, 2)
    posts = [Post(external_id="9", text="Pregunta de una vecina", author_name="V", handle="Vecina")]
    (sub,), _events = db.run_write(collect, meeting_id=1, source="x", posts=posts)
    received_minutes_ago(db, sub.id, 58)  # two minutes after the first
    db.run_write(actions.approve, slug="pleno", submission_id=sub.id, actor="m")
    assert order(db) == [first, second, sub.id]
    _resident, events = db.run_write(add_resident, handle="@vecina", source="x")
    assert order(db) == [sub.id, first, second], "5 points for the badge beat two minutes"
    (event,) = events
    assert event.type == "verified"
    assert [s["id"] for s in event.payload["submissions"]] == [sub.id]
