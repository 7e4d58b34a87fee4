"""A collector's bookkeeping: resume point, counters, health, errors. Domain functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from council.intake import Post, collect
from council.models import CollectorState, Submission, utcnow
from council.views import iso


def load_state(session: Session, *, meeting_id: int, source: str) -> CollectorState:
    state = session.scalar(
        select(CollectorState).where(
            CollectorState.meeting_id == meeting_id, CollectorState.source == source
        )
    )
    if state is None:
        state = CollectorState(
            meeting_id=meeting_id,
            source=source,
            status="starting",
            collected=0,
            requests=0,
            posts_read=0,
            users_read=0,
        )
        session.add(state)
        session.flush()
    return state


def record_page(
    session: Session,
    *,
    meeting_id: int,
    source: str,
    posts: list[Post],
    posts_read: int,
    users_read: int,
    cost: float = 0.0,
    newest_id: str | None = None,
    cursors: dict[str, str] | None = None,
) -> tuple[list[Submission], CollectorState]:
    """One answered request: its new posts stored, its reads counted, in one transaction.

    ``newest_id`` moves the resume point; X gives it only once every page of a poll is
    stored, so a crash in the middle of a burst re-reads it instead of skipping it.
    ``cursors`` move the resume points of a source that reads several timelines; they are
    saved with the page they follow, so a restart goes on from the page after it.
    """
    state = load_state(session, meeting_id=meeting_id, source=source)
    stored = collect(session, meeting_id=meeting_id, source=source, posts=posts)
    state.collected += len(stored)
    state.requests += 1
    state.posts_read += posts_read
    state.users_read += users_read
    state.estimated_cost = round(state.estimated_cost + cost, 4)
    state.last_poll_at = utcnow()
    state.status = "running"
    state.paused_until = None
    if newest_id is not None:
        state.newest_id = newest_id
    if cursors:
        # A new dict, not an update in place: SQLAlchemy sees a JSON column change by assignment.
        state.cursors = {**(state.cursors or {}), **cursors}
    return stored, state


def record_resume(
    session: Session, *, meeting_id: int, source: str, newest_id: str
) -> CollectorState:
    """Move the resume point after a poll that stored its posts page by page."""
    state = load_state(session, meeting_id=meeting_id, source=source)
    state.newest_id = newest_id
    return state


def record_status(
    session: Session,
    *,
    meeting_id: int,
    source: str,
    status: str,
    error: str | None = None,
    paused_until: datetime | None = None,
    polled: bool = False,
    cost_cap: float | None = None,
) -> CollectorState:
    state = load_state(session, meeting_id=meeting_id, source=source)
    state.status = status
    if cost_cap is not None:
        state.cost_cap = cost_cap
    state.paused_until = paused_until
    if polled:
        state.last_poll_at = utcnow()
        state.requests += 1
    if error is not None:
        state.last_error, state.last_error_at = error, utcnow()
    return state


def health_view(state: CollectorState) -> dict[str, Any]:
    return {
        "source": state.source,
        "status": state.status,
        "collected": state.collected,
        "requests": state.requests,
        "last_poll_at": iso(state.last_poll_at),
        "last_error": state.last_error,
        "last_error_at": iso(state.last_error_at),
        "paused_until": iso(state.paused_until),
        "estimated_cost": state.estimated_cost,
        "cost_cap": state.cost_cap,
    }


def collector_states(session: Session, *, meeting_id: int) -> list[CollectorState]:
    return list(
        session.scalars(
            select(CollectorState)
            .where(CollectorState.meeting_id == meeting_id)
            .order_by(CollectorState.source)
        ).all()
    )
