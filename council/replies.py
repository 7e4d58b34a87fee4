"""Replies that close the loop: when a posted question is answered, tell its asker where.

An outbox: a row per question, created once (unique per submission), claimed before
the call and settled after it. If X answered with an error, nothing was posted and the
reply is retried. If X never answered (a dropped connection, a crash mid-call) the
reply may or may not exist, so it becomes *uncertain* and waits for a moderator:
a second reply to a resident is worse than a visible "please check".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from council.errors import InvalidTransition, NotFound
from council.i18n import _, current_language, language
from council.meetings import impossible_slug
from council.models import Meeting, Reply, Status, Submission, utcnow
from council.views import iso

MAX_ATTEMPTS = 5
# Only questions answered this recently get a reply: switching replies on does not
# suddenly answer last month's meeting.
REPLY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class ClaimedReply:
    id: int
    source: str
    in_reply_to: str
    text: str


def reply_text(*, name: str, link: str) -> str:
    return _("Thank you, {name}: your question was answered at the council meeting. {link}").format(
        name=name[:60], link=link
    )


def enqueue_answered(
    session: Session, *, sources: tuple[str, ...], public_url: str, now: datetime | None = None
) -> int:
    """An outbox row for each recently answered post (and each post merged into one)."""
    now = now or utcnow()
    kept = aliased(Submission)
    candidates = session.execute(
        select(Submission, Meeting.slug, Meeting.language)
        .join(Meeting, Submission.meeting_id == Meeting.id)
        .outerjoin(kept, Submission.merged_into_id == kept.id)
        .outerjoin(Reply, Reply.submission_id == Submission.id)
        .where(
            Reply.id.is_(None),
            Submission.source.in_(sources),
            Submission.external_id.is_not(None),
            (
                (Submission.status == Status.ANSWERED)
                & (Submission.answered_at >= now - REPLY_WINDOW)
            )
            | (
                (Submission.status == Status.MERGED)
                & (kept.status == Status.ANSWERED)
                & (kept.answered_at >= now - REPLY_WINDOW)
            ),
        )
    ).all()
    for sub, slug, spoken in candidates:
        link = f"{public_url.rstrip('/')}/m/{slug}"
        # In the meeting's language, like its screen; else the server's (this task's).
        with language(spoken or current_language()):
            text = reply_text(name=sub.author_name, link=link)
        session.add(
            Reply(
                submission_id=sub.id,
                source=sub.source,
                in_reply_to=sub.external_id,
                text=text,
                status="pending",
                attempts=0,
            )
        )
    session.flush()
    return len(candidates)


def claim_next(session: Session, *, now: datetime | None = None) -> ClaimedReply | None:
    now = now or utcnow()
    reply = session.scalars(
        select(Reply)
        .where(
            Reply.status.in_(["pending", "failed"]),
            Reply.attempts < MAX_ATTEMPTS,
            (Reply.next_attempt_at.is_(None)) | (Reply.next_attempt_at <= now),
        )
        .order_by(Reply.id)
        .limit(1)
    ).first()
    if reply is None:
        return None
    reply.status = "sending"
    reply.attempts += 1
    return ClaimedReply(reply.id, reply.source, reply.in_reply_to, reply.text)


def settle(
    session: Session,
    *,
    reply_id: int,
    outcome: str,
    external_id: str | None = None,
    error: str | None = None,
    now: datetime | None = None,
) -> Reply:
    """``outcome``: sent, failed (X said no: retry later) or uncertain (no answer from X)."""
    now = now or utcnow()
    reply = session.get(Reply, reply_id)
    if reply is None:
        raise NotFound(_("There is no reply {id}.").format(id=reply_id))
    reply.status = outcome
    reply.last_error = error
    if outcome == "sent":
        reply.external_id, reply.sent_at = external_id, now
    elif outcome == "failed":
        reply.next_attempt_at = now + timedelta(seconds=min(300, 5 * 2 ** (reply.attempts - 1)))
    return reply


def recover_interrupted(session: Session) -> int:
    """Replies caught mid-call by a crash: X may have posted them, so a person decides."""
    interrupted = session.scalars(select(Reply).where(Reply.status == "sending")).all()
    services = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky"}
    for reply in interrupted:
        reply.status = "uncertain"
        reply.last_error = _(
            "Council stopped while sending this reply: check on {service} whether it was "
            "posted before sending it again."
        ).format(service=services.get(reply.source, reply.source))
    return len(interrupted)


def send_again(session: Session, *, slug: str, reply_id: int) -> Reply:
    impossible_slug(slug)
    reply = session.scalar(
        select(Reply)
        .join(Submission, Reply.submission_id == Submission.id)
        .join(Meeting, Submission.meeting_id == Meeting.id)
        .where(Reply.id == reply_id, Meeting.slug == slug)
    )
    if reply is None:
        raise NotFound(_("There is no reply {id} in this meeting.").format(id=reply_id))
    if reply.status not in ("failed", "uncertain"):
        raise InvalidTransition(
            _("This reply is {status}: only failed or uncertain replies can be sent again.").format(
                status=reply.status
            )
        )
    reply.status, reply.next_attempt_at, reply.attempts = "pending", None, 0
    return reply


def reply_view(reply: Reply) -> dict[str, Any]:
    return {
        "id": reply.id,
        "submission": reply.submission_id,
        "source": reply.source,
        "status": reply.status,
        "attempts": reply.attempts,
        "external_id": reply.external_id,
        "last_error": reply.last_error,
        "sent_at": iso(reply.sent_at),
    }


def meeting_replies(session: Session, *, meeting_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Reply)
        .join(Submission, Reply.submission_id == Submission.id)
        .where(Submission.meeting_id == meeting_id)
        .order_by(Reply.id)
    ).all()
    return [reply_view(r) for r in rows]


def meeting_of_reply(session: Session, *, reply_id: int) -> int | None:
    return session.scalar(
        select(Submission.meeting_id)
        .join(Reply, Reply.submission_id == Submission.id)
        .where(Reply.id == reply_id)
    )
