"""Commit first, then publish: a write that fails sends nothing to anyone."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from council.db import Database
from council.live.hub import Connection
from council.models import Submission
from council.moderation.actions import approve
from council.services import Council
from tests.factories import make_question

pytestmark = pytest.mark.both_databases


def test_failed_write_publishes_nothing_and_changes_nothing(
    app: FastAPI, db: Database, meeting: str
) -> None:
    council: Council = app.state.council
    sub = make_question(db)

    def approve_then_fail(session: Session) -> None:
        approve(session, slug="pleno", submission_id=sub.id, actor="mod")
        raise RuntimeError("disk full")

    sent: list[object] = []

    async def send(message: object) -> None:
        sent.append(message)

    async def scenario() -> None:
        connection = Connection("moderation", send, 10)
        council.hub.join(sub.meeting_id, connection)
        connection.start(0)
        with pytest.raises(RuntimeError):
            await council.act(approve_then_fail)

    asyncio.run(scenario())
    assert sent == []
    with db.session() as session:
        assert session.get(Submission, sub.id).status == "pending"  # type: ignore[union-attr]


def test_successful_write_publishes_after_commit(app: FastAPI, db: Database, meeting: str) -> None:
    council: Council = app.state.council
    sub = make_question(db)
    seen_in_database: list[str] = []

    async def witness(message: object) -> None:
        # When the message leaves, another session must already see the change.
        with db.session() as session:
            seen_in_database.append(session.get(Submission, sub.id).status)  # type: ignore[union-attr]

    async def scenario() -> None:
        connection = Connection("moderation", witness, 10)
        council.hub.join(sub.meeting_id, connection)
        connection.start(0)
        await council.act(approve, slug="pleno", submission_id=sub.id, actor="mod")

    asyncio.run(scenario())
    # Every message (earlier events this process had not published come first) leaves only
    # once the approval is committed.
    assert seen_in_database and set(seen_in_database) == {"approved"}
