"""What a client starts from: a snapshot of the meeting, or the events it missed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from council.agenda import agenda_view
from council.collectors.state import collector_states, health_view
from council.errors import NotFound
from council.events import events_after
from council.i18n import _
from council.meetings import impossible_slug
from council.models import Meeting, Status, Submission
from council.moderation.board import moderation_extras, public_extras
from council.moderation.categories import NONE as NO_CATEGORY
from council.moderation.categories import check_filter as check_category_filter
from council.replies import meeting_replies
from council.views import (
    meeting_view,
    moderation_submission,
    pending_show_view,
    public_submission,
)

Audience = str  # "public" | "moderation"


def public_state(session: Session, *, meeting: Meeting) -> dict[str, Any]:
    # The seq is read before the rows: an event landing in between is then also delivered
    # live, and applying a submission's full view twice changes nothing.
    seq = session.scalar(select(Meeting.last_seq).where(Meeting.id == meeting.id)) or 0
    subs = session.scalars(
        select(Submission)
        .options(lazyload(Submission.meeting))
        .where(
            Submission.meeting_id == meeting.id,
            Submission.status.in_([Status.APPROVED, Status.ON_SCREEN, Status.ANSWERED]),
        )
        .order_by(Submission.approved_at, Submission.id)
    ).all()
    on_screen = next((s for s in subs if s.status == Status.ON_SCREEN), None)
    # The queue's order (council/moderation/priority.py), as the screen takes them.
    queued = sorted(
        (s for s in subs if s.status == Status.APPROVED),
        key=lambda s: (s.position is None, s.position or 0.0),
    )
    return {
        "meeting": meeting_view(meeting),
        "seq": seq,
        "agenda": agenda_view(session, meeting),
        **public_extras(session, meeting=meeting),
        "on_screen": public_submission(on_screen) if on_screen else None,
        "approved": [public_submission(s) for s in queued],
        "answered": [
            public_submission(s)
            for s in sorted(
                (s for s in subs if s.status == Status.ANSWERED),
                key=lambda s: (s.answered_at is None, s.answered_at),
            )
        ],
    }


def moderation_state(
    session: Session, *, meeting: Meeting, status: str | None = None, category: str | None = None
) -> dict[str, Any]:
    seq = session.scalar(select(Meeting.last_seq).where(Meeting.id == meeting.id)) or 0
    # Every row is of this meeting: joining the meeting to each of thousands of rows (the
    # relationship's default) took most of the snapshot's time (bench/moderation.py).
    query = (
        select(Submission)
        .options(lazyload(Submission.meeting))
        .where(Submission.meeting_id == meeting.id)
    )
    if status:
        query = query.where(Submission.status == status)
    category = check_category_filter(session, category)
    if category == NO_CATEGORY:
        query = query.where(Submission.category.is_(None))
    elif category:
        query = query.where(Submission.category == category)
    subs = session.scalars(query.order_by(Submission.received_at, Submission.id)).all()
    on_screen = next((s for s in subs if s.status == Status.ON_SCREEN), None)
    return {
        "meeting": meeting_view(meeting),
        "seq": seq,
        "agenda": agenda_view(session, meeting),
        "on_screen": moderation_submission(on_screen) if on_screen else None,
        "submissions": [moderation_submission(s) for s in subs],
        "collectors": [health_view(c) for c in collector_states(session, meeting_id=meeting.id)],
        "replies": meeting_replies(session, meeting_id=meeting.id),
        "pending_show": pending_show_view(meeting),
        **moderation_extras(session, meeting=meeting),
    }


def meeting_id_for(session: Session, *, slug: str) -> int:
    impossible_slug(slug)
    meeting_id = session.scalar(select(Meeting.id).where(Meeting.slug == slug))
    if meeting_id is None:
        raise NotFound(_("There is no meeting “{slug}”.").format(slug=slug))
    return int(meeting_id)


def meeting_seq(session: Session, *, meeting_id: int) -> int:
    return int(session.scalar(select(Meeting.last_seq).where(Meeting.id == meeting_id)) or 0)


def missed_messages(
    session: Session, *, meeting_id: int, audience: Audience, after: int | None, limit: int
) -> list[dict[str, Any]] | None:
    """What a client resuming from ``after`` missed, ending with a ``resumed`` marker that
    carries the seq it is now at; None when it needs a snapshot instead."""
    if after is None:
        return None
    upto = meeting_seq(session, meeting_id=meeting_id)
    if not 0 <= after <= upto:
        return None  # a cursor from another database, or from the future
    missed = events_after(session, meeting_id, after, upto, limit, audience)
    if missed is None:
        return None
    return [*missed, {"type": "resumed", "seq": upto}]


def snapshot_message(session: Session, *, meeting_id: int, audience: Audience) -> dict[str, Any]:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(_("This meeting no longer exists."))
    state = (
        public_state(session, meeting=meeting)
        if audience == "public"
        else moderation_state(session, meeting=meeting)
    )
    return {"type": "snapshot", **state}
