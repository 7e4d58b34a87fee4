"""Rows stored by the batch, beneath the ORM, read back exactly as the ORM stores them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from council.bulk import insert_rows, insert_rows_claiming
from council.db import Database
from council.models import Event, Meeting, Submission

pytestmark = pytest.mark.both_databases

# What a text array or a JSON text could trip on: quotes, backslashes, braces, commas,
# line breaks, NULL-looking words, characters beyond the BMP.
AWKWARD = "Dijo \"no\", luego {sí}, \\ y 'quizá'\nNULL, 🏊 ñ €"


def submission_row(meeting_id: int, token: str, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "meeting_id": meeting_id,
        "source": "web",
        "author_name": AWKWARD,
        "neighborhood": None,
        "original_text": AWKWARD,
        "display_text": AWKWARD,
        "status": "pending",
        "verified": False,
        "asked_count": 1,
        "category_suggested": False,
        "triaged": False,
        "votes": 0,
        "position_manual": False,
        "flags": ["long", AWKWARD],
        "duplicates": [{"id": 3, "score": 0.5, "text": AWKWARD}],
        "score": 1.5,
        "track_token": token,
        "received_at": datetime(2026, 12, 2, 10, 30, 15, 123456, tzinfo=UTC),
    }
    return row | changes


def meeting_id(db: Database, slug: str) -> int:
    with db.session() as session:
        return session.scalars(select(Meeting.id).where(Meeting.slug == slug)).one()


def as_stored(sub: Submission) -> dict[str, Any]:
    columns = ("author_name", "neighborhood", "original_text", "display_text", "status")
    return {
        **{name: getattr(sub, name) for name in columns},
        "flags": sub.flags,
        "duplicates": sub.duplicates,
        "score": sub.score,
        "received_at": sub.received_at,
    }


def test_rows_stored_in_bulk_read_back_as_the_orm_stores_them(db: Database, meeting: str) -> None:
    the_meeting = meeting_id(db, meeting)

    def store_both(session: Session) -> list[int]:
        by_orm = Submission(**submission_row(the_meeting, "by-the-orm"))
        session.add(by_orm)
        session.flush()
        in_bulk = insert_rows(
            session, Submission, [submission_row(the_meeting, "b")], return_ids=True
        )
        return [by_orm.id, *in_bulk]

    ids, _ = db.run_write(store_both)
    with db.session() as session:
        by_orm, in_bulk = (session.get(Submission, i) for i in ids)
        assert by_orm is not None and in_bulk is not None
        assert as_stored(in_bulk) == as_stored(by_orm)
        assert in_bulk.received_at.tzinfo is not None


def test_new_ids_come_back_in_the_order_of_the_rows(db: Database, meeting: str) -> None:
    the_meeting = meeting_id(db, meeting)
    rows = [submission_row(the_meeting, f"token-{i:02}") for i in range(40)]
    ids, _ = db.run_write(lambda session: insert_rows(session, Submission, rows, return_ids=True))
    with db.session() as session:
        tokens = {s.id: s.track_token for s in session.scalars(select(Submission))}
    assert [tokens[i] for i in ids] == [row["track_token"] for row in rows]


def test_new_ids_are_right_after_the_newest_row_was_deleted(db: Database, meeting: str) -> None:
    the_meeting = meeting_id(db, meeting)
    first = [submission_row(the_meeting, f"first-{i}") for i in range(3)]
    ids, _ = db.run_write(lambda session: insert_rows(session, Submission, first, return_ids=True))

    def delete_newest_then_store_more(session: Session) -> list[int]:
        session.delete(session.get(Submission, ids[-1]))
        session.flush()
        more = [submission_row(the_meeting, f"more-{i}") for i in range(3)]
        return insert_rows(session, Submission, more, return_ids=True)

    more_ids, _ = db.run_write(delete_newest_then_store_more)
    with db.session() as session:
        tokens = {s.id: s.track_token for s in session.scalars(select(Submission))}
    assert [tokens[i] for i in more_ids] == ["more-0", "more-1", "more-2"]


def test_rows_without_ids_wanted_are_stored_all_the_same(db: Database, meeting: str) -> None:
    the_meeting = meeting_id(db, meeting)
    rows = [
        {"meeting_id": the_meeting, "seq": seq, "type": "received", "payload": {"t": AWKWARD},
         "public_payload": None, "submission_id": None, "actor": None,
         "created_at": datetime.now(UTC)}
        for seq in (101, 102)
    ]  # fmt: skip
    assert db.run_write(lambda session: insert_rows(session, Event, rows))[0] == []
    with db.session() as session:
        stored = session.scalars(select(Event).where(Event.seq > 100).order_by(Event.seq)).all()
    assert [(e.seq, e.payload, e.public_payload) for e in stored] == [
        (101, {"t": AWKWARD}, None),
        (102, {"t": AWKWARD}, None),
    ]


def seq_claim() -> Any:
    table = Meeting.__table__
    assert isinstance(table, Table)
    return (
        update(table)
        .where(table.c.slug == bindparam("wanted"))
        .values(last_seq=table.c.last_seq + bindparam("count"))
        .returning(table.c.id, table.c.last_seq)
    )


CLAIM = seq_claim()


def last_seq(db: Database, slug: str) -> int:
    with db.session() as session:
        return session.scalars(select(Meeting.last_seq).where(Meeting.slug == slug)).one()


def store_behind_claim(db: Database, slug: str, rows: list[dict[str, Any]]) -> Any:
    for row in rows:
        del row["meeting_id"]  # the claim gives it
    outcome, _ = db.run_write(
        lambda session: insert_rows_claiming(
            session,
            Submission,
            rows,
            claim=CLAIM,
            params={"wanted": slug, "count": len(rows)},
            claimed={"meeting_id": "id"},
        )
    )
    return outcome


def test_rows_behind_a_claim_take_what_it_returns(db: Database, meeting: str) -> None:
    rows = [submission_row(0, f"claimed-{i}") for i in range(3)]
    before = last_seq(db, meeting)
    claimed, ids = store_behind_claim(db, meeting, rows)
    the_meeting = meeting_id(db, meeting)
    assert claimed == (the_meeting, before + 3)
    assert last_seq(db, meeting) == before + 3
    with db.session() as session:
        stored = session.scalars(select(Submission).order_by(Submission.id)).all()
    assert [(s.id, s.track_token, s.meeting_id) for s in stored] == [
        (i, row["track_token"], the_meeting) for i, row in zip(ids, rows, strict=True)
    ]


def test_a_claim_that_finds_nothing_stores_nothing(db: Database, meeting: str) -> None:
    assert store_behind_claim(db, "no-such-meeting", [submission_row(0, "never")]) is None
    with db.session() as session:
        assert session.scalars(select(Submission)).all() == []
