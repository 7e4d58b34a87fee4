"""The per-meeting event log: one appended row per change, in the change's own transaction.

Domain functions call :func:`record`; the writer collects what was recorded and
hands it to the hub only after the transaction committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Insert, Table, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from council.bulk import insert_rows
from council.models import PUBLIC_STATUSES, Event, Meeting, Submission, utcnow
from council.views import moderation_submission, public_submission, tracking_view

_PENDING = "council_pending_events"


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    meeting_id: int
    seq: int
    type: str
    payload: dict[str, Any]
    public: dict[str, Any] | None
    # Tracking pages of these submissions get their new status: {track_token: view}.
    tracking: dict[str, dict[str, Any]] = field(default_factory=dict)

    def message(self, audience: str) -> dict[str, Any] | None:
        body = self.payload if audience == "moderation" else self.public
        if body is None:
            return None
        return {"type": self.type, "seq": self.seq, **body}


def next_seq(session: Session, meeting_id: int, count: int = 1) -> int:
    """Take ``count`` seqs of the meeting; returns the last (the first is ``last - count + 1``)."""
    # One UPDATE ... RETURNING: the row lock serialises concurrent writers on PostgreSQL too.
    # Core on the session's connection: the ORM's bulk-update path costs more than the
    # rest of a moderator's action (measured in bench/fanout.py's approve).
    bumped = (
        session.connection()
        .execute(_take_seqs(), {"meeting_id": meeting_id, "count": count})
        .scalar_one()
    )
    return int(bumped)


@cache
def _take_seqs() -> Update:
    # Built once: a statement made per call costs its cache key on every click.
    table = Meeting.__table__
    assert isinstance(table, Table)
    return (
        update(table)
        .where(table.c.id == bindparam("meeting_id"))
        .values(last_seq=table.c.last_seq + bindparam("count"))
        .returning(table.c.last_seq)
    )


@cache
def _insert_event() -> Insert:
    return insert(Event)


def record(
    session: Session,
    *,
    meeting: Meeting,
    type: str,
    payload: dict[str, Any],
    public: dict[str, Any] | None,
    actor: str | None,
    submissions: tuple[Submission, ...] = (),
    followers: tuple[Submission, ...] = (),
) -> PublishedEvent:
    """``followers``: questions merged into a changed one, whose askers follow it now."""
    seq = next_seq(session, meeting.id)
    # The row already holds it: tell the session so without a second UPDATE at flush.
    set_committed_value(meeting, "last_seq", seq)
    # Core, like the seq: nothing reads the row back in this transaction, so the ORM's
    # unit of work would only add cost to every moderator click.
    session.connection().execute(
        _insert_event(),
        {
            "meeting_id": meeting.id,
            "seq": seq,
            "type": type,
            "payload": payload,
            "public_payload": public,
            "submission_id": submissions[0].id if submissions else None,
            "actor": actor,
            "created_at": utcnow(),
        },
    )
    published = PublishedEvent(
        meeting_id=meeting.id,
        seq=seq,
        type=type,
        payload=payload,
        public=public,
        tracking={sub.track_token: tracking_view(sub) for sub in (*submissions, *followers)},
    )
    session.info.setdefault(_PENDING, []).append(published)
    return published


def submission_event(
    session: Session,
    *,
    type: str,
    actor: str | None,
    changed: list[Submission],
    was_public: set[int],
    extra: dict[str, Any] | None = None,
) -> PublishedEvent:
    """Record a change to ``changed`` (primary first).

    The public hears of it only when approved content appears, changes or goes:
    a submission that was never public stays out of the public message entirely.
    ``extra`` is meeting-level news for everyone (e.g. the rejection counts).
    """
    public_subs = [s for s in changed if s.id in was_public or s.status in PUBLIC_STATUSES]
    public: dict[str, Any] | None = (
        {"submissions": [public_submission(s) for s in public_subs]} if public_subs else None
    )
    if extra:
        public = {**(public or {}), **extra}
    return record(
        session,
        meeting=changed[0].meeting,
        type=type,
        payload={"submissions": [moderation_submission(s) for s in changed], **(extra or {})},
        public=public,
        actor=actor,
        submissions=tuple(changed),
        followers=merged_askers(session, changed),
    )


def note_last_seq(session: Session, *, meeting_id: int, last: int) -> None:
    """After seqs were taken by a statement of its own: a meeting another write of this
    batch loaded must not keep the seq it read."""
    loaded = session.identity_map.get(identity_key(Meeting, meeting_id))
    if loaded is not None:
        set_committed_value(loaded, "last_seq", last)


def arrivals_received(
    session: Session, *, subs: list[Submission], last_seqs: dict[int, int]
) -> list[PublishedEvent]:
    """One ``received`` event per new question of a batch (of one meeting or several), in
    one multi-row INSERT, with the seqs taken for each meeting (``intake._claim``): what lets a
    burst of web questions share their statements as well as their commit
    (council/arrivals.py)."""
    by_meeting: dict[int, list[Submission]] = {}
    for sub in subs:
        by_meeting.setdefault(sub.meeting_id, []).append(sub)
    published: list[PublishedEvent] = []
    rows = []
    now = utcnow()
    for meeting_id, mine in by_meeting.items():
        last = last_seqs[meeting_id]
        for seq, sub in enumerate(mine, start=last - len(mine) + 1):
            # New questions are pending (never public): only moderators and the asker hear.
            payload = {"submissions": [moderation_submission(sub)]}
            rows.append(
                {
                    "meeting_id": meeting_id,
                    "seq": seq,
                    "type": "received",
                    "payload": payload,
                    "public_payload": None,
                    "submission_id": sub.id,
                    "actor": None,
                    "created_at": now,
                }
            )
            published.append(
                PublishedEvent(
                    meeting_id=meeting_id,
                    seq=seq,
                    type="received",
                    payload=payload,
                    public=None,
                    tracking={sub.track_token: tracking_view(sub)},
                )
            )
    insert_rows(session, Event, rows)
    session.info.setdefault(_PENDING, []).extend(published)
    return published


def merged_askers(session: Session, changed: list[Submission]) -> tuple[Submission, ...]:
    """The questions merged into any of ``changed``: their askers follow the one kept."""
    # Only a question that absorbed others counts more than one asker: the usual action
    # (asked_count 1) costs no query.
    targets = [s.id for s in changed if s.asked_count > 1 and s.status != "merged"]
    if not targets:
        return ()
    mine = {s.id for s in changed}
    return tuple(
        s
        for s in session.scalars(select(Submission).where(Submission.merged_into_id.in_(targets)))
        if s.id not in mine
    )


def take_pending_events(session: Session) -> list[PublishedEvent]:
    events: list[PublishedEvent] = session.info.pop(_PENDING, [])
    return events


def events_after(
    session: Session, meeting_id: int, after: int, upto: int, limit: int, audience: str
) -> list[dict[str, Any]] | None:
    """Messages in (after, upto] for one audience, or None when more than ``limit`` were missed."""
    rows = session.scalars(
        select(Event)
        .where(Event.meeting_id == meeting_id, Event.seq > after, Event.seq <= upto)
        .order_by(Event.seq)
        .limit(limit + 1)
    ).all()
    if len(rows) > limit:
        return None
    messages = []
    for row in rows:
        body = row.payload if audience == "moderation" else row.public_payload
        if body is not None:
            messages.append({"type": row.type, "seq": row.seq, **body})
    return messages


def meeting_seqs(session: Session) -> dict[int, int]:
    return {int(m): int(s) for m, s in session.execute(select(Meeting.id, Meeting.last_seq))}


def committed_events(
    session: Session, *, meeting_id: int, after: int, upto: int | None = None
) -> list[PublishedEvent]:
    """Events another process committed, ready to publish as if written here."""
    query = select(Event).where(Event.meeting_id == meeting_id, Event.seq > after)
    if upto is not None:
        query = query.where(Event.seq <= upto)
    rows = session.scalars(query.order_by(Event.seq)).all()
    subs = {
        s.id: s
        for s in session.scalars(
            select(Submission).where(
                Submission.id.in_([r.submission_id for r in rows if r.submission_id])
            )
        )
    }
    return [
        PublishedEvent(
            meeting_id=row.meeting_id,
            seq=row.seq,
            type=row.type,
            payload=row.payload,
            public=row.public_payload,
            tracking=(
                {
                    sub.track_token: tracking_view(sub)
                    for sub in (
                        subs[row.submission_id],
                        *merged_askers(session, [subs[row.submission_id]]),
                    )
                }
                if row.submission_id in subs
                else {}
            ),
        )
        for row in rows
    ]
