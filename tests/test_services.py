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


def test_failed_write_publishes_nothing_and_changes_nothing(
    app: FastAPI, db: Database, meeting: str
) -> None:
    council: Council = app.state.council
    sub = make_question(db)

    def approve_then_fail(session: Session) -> None:
        approve(session, slug="pleno", submission_id=sub.id, actor="mod")
        raise RuntimeError("disk full")

    async def scenario() -> int:
        connection = Connection("moderation", 10)
        council.hub.join(sub.meeting_id, connection)
        with pytest.raises(RuntimeError):
            await council.act(approve_then_fail)
        return connection.queue.qsize()

    assert asyncio.run(scenario()) == 0
    with db.session() as session:
        assert session.get(Submission, sub.id).status == "pending"  # type: ignore[union-attr]


def test_successful_write_publishes_after_commit(app: FastAPI, db: Database, meeting: str) -> None:
    council: Council = app.state.council
    sub = make_question(db)
    seen_in_database: list[str] = []

    class Witness(Connection):
        def offer(self, item: tuple[int | None, str]) -> bool:
            # When the hub hears of it, another session must already see the change.
            with db.session() as session:
                seen_in_database.append(session.get(Submission, sub.id).status)  # type: ignore[union-attr]
            return super().offer(item)

    async def scenario() -> None:
        council.hub.join(sub.meeting_id, Witness("moderation", 10))
        await council.act(approve, slug="pleno", submission_id=sub.id, actor="mod")

    asyncio.run(scenario())
    assert seen_in_database == ["approved"]
