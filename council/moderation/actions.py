"""Every moderator action on a submission, one function each, in one place.

Each function takes a session and keyword arguments, checks the transition
against the diagram in DESIGN.md, changes the row, records who and when, and
appends one event in the same transaction. Nothing here commits or publishes.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, contains_eager

from council.errors import InvalidInput, InvalidTransition, NotFound, StaleAction
from council.events import submission_event
from council.i18n import _
from council.meetings import get_meeting, impossible_slug
from council.models import PUBLIC_STATUSES, Meeting, Status, Submission, utcnow
from council.moderation import priority, reasons
from council.text import clean_text
from council.views import moderation_submission
from council.votes import move_votes

ACTIONS = ("approve", "reject", "restore", "show", "hide", "answer", "merge")

STATUS_WORDS = {
    Status.PENDING: "waiting for moderation",
    Status.APPROVED: "approved",
    Status.REJECTED: "rejected",
    Status.ON_SCREEN: "on screen",
    Status.ANSWERED: "answered",
    Status.MERGED: "merged into another question",
}

MAX_REASON_LENGTH = 300


def load_submission(session: Session, *, slug: str, submission_id: int) -> Submission:
    impossible_slug(slug)
    sub = session.scalars(
        _submission_in_meeting(), {"submission_id": submission_id, "slug": slug}
    ).one_or_none()
    if sub is None:
        get_meeting(session, slug=slug)  # an unknown meeting says so, not "no question"
        raise NotFound(
            _("Question {id} does not exist in meeting {slug}.").format(id=submission_id, slug=slug)
        )
    return sub


@cache
def _submission_in_meeting() -> Select[Submission]:
    # One query, not two, built once: this is on the path of every moderator click
    # (bench/fanout.py), and a statement made per call costs its cache key each time.
    return (
        select(Submission)
        .join(Submission.meeting)
        .options(contains_eager(Submission.meeting))
        .where(Submission.id == bindparam("submission_id"), Meeting.slug == bindparam("slug"))
        .with_for_update(of=Submission)
    )


def _check(
    sub: Submission, *, action: str, allowed_from: Iterable[str], expected_status: str | None
) -> set[int]:
    """Refuse stale and invalid actions; return the ids that were public before the change."""
    if expected_status is not None and expected_status != sub.status:
        raise StaleAction(
            _(
                "Question {id} is now {status}, not {expected}: someone else acted on it first. "
                "Nothing was changed."
            ).format(id=sub.id, status=_status_words(sub.status), expected=expected_status),
            current=moderation_submission(sub),
        )
    allowed = set(allowed_from)
    if sub.status not in allowed:
        raise InvalidTransition(
            _(
                "Cannot {action} question {id}: it is {status}. Only questions that are {allowed} "
                "can be {done}."
            ).format(
                action=_(action),
                id=sub.id,
                status=_status_words(sub.status),
                allowed=_either(allowed),
                done=_past(action),
            ),
            current=moderation_submission(sub),
        )
    return {sub.id} if sub.status in PUBLIC_STATUSES else set()


# For actions that live in other modules (priority.move, triage.categorize, ...).
check_status = _check


def _status_words(status: str) -> str:
    return _(STATUS_WORDS[Status(status)]) if status in STATUS_WORDS else status


def _either(statuses: set[str]) -> str:
    separator: str = _(" or ")
    return separator.join(sorted(_status_words(s) for s in statuses))


def _past(action: str) -> str:
    words = {
        "approve": _("approved"),
        "reject": _("rejected"),
        "restore": _("restored"),
        "show": _("shown"),
        "hide": _("hidden"),
        "answer": _("answered"),
        "merge": _("merged"),
        "edit": _("edited"),
        "move": _("moved in the queue"),
        "categorize": _("categorised"),
    }
    return words.get(action, action)


def approve(
    session: Session,
    *,
    slug: str,
    submission_id: int,
    actor: str,
    expected_status: str | None = None,
) -> Submission:
    sub = load_submission(session, slug=slug, submission_id=submission_id)
    was_public = _check(
        sub, action="approve", allowed_from=[Status.PENDING], expected_status=expected_status
    )
    sub.status = Status.APPROVED
    sub.approved_at, sub.approved_by = utcnow(), actor
    placed = priority.enter_queue(session, sub)
    submission_event(
        session,
        type="approved",
        actor=actor,
        changed=[sub, *(m for m in placed if m is not sub)],
        was_public=was_public,
    )
    return sub


def reject(
    session: Session,
    *,
    slug: str,
    submission_id: int,
    actor: str,
    reason: str | None = None,
    note: str | None = None,
    expected_status: str | None = None,
) -> Submission:
    """``reason``: a key of council/moderation/reasons.py (or its label); ``note``: words
    for the asker. Free text as the reason (older clients) is kept as the note."""
    key, free_text = reasons.parse(reason)
    note = (note or "").strip() or None
    if free_text and note:
        raise InvalidInput(
            _("Unknown reason {reason!r}: use one of {keys}.").format(
                reason=reason, keys=", ".join(reasons.REASON_KEYS)
            )
        )
    note = note or free_text
    if note and len(note) > MAX_REASON_LENGTH:
        raise InvalidInput(
            _("The reason is too long: at most {n} characters.").format(n=MAX_REASON_LENGTH)
        )
    sub = load_submission(session, slug=slug, submission_id=submission_id)
    was_public = _check(
        sub, action="reject", allowed_from=[Status.PENDING], expected_status=expected_status
    )
    sub.status = Status.REJECTED
    sub.rejection_key = key
    sub.rejection_reason = note
    sub.rejected_at, sub.rejected_by = utcnow(), actor
    submission_event(
        session,
        type="rejected",
        actor=actor,
        changed=[sub],
        was_public=was_public,
        # Everyone learns the new counts per reason; nobody but moderators the question.
        extra=reasons.rejections_payload(session, meeting_id=sub.meeting_id),
    )
    return sub


def restore(
    session: Session,
    *,
    slug: str,
    submission_id: int,
    actor: str,
    expected_status: str | None = None,
) -> Submission:
    sub = load_submission(session, slug=slug, submission_id=submission_id)
    was_public = _check(
        sub,
        action="restore",
        allowed_from=[Status.APPROVED, Status.REJECTED],
        expected_status=expected_status,
    )
    was_rejected = sub.status == Status.REJECTED
    sub.status = Status.PENDING
    sub.rejection_reason = None
    sub.rejection_key = None
    sub.restored_at, sub.restored_by = utcnow(), actor
    submission_event(
        session,
        type="restored",
        actor=actor,
        changed=[sub],
        was_public=was_public,
        extra=reasons.rejections_payload(session, meeting_id=sub.meeting_id)
        if was_rejected
        else None,
    )
    return sub


def show(
    session: Session,
    *,
    slug: str,
    submission_id: int,
    actor: str,
    expected_status: str | None = None,
) -> Submission:
    sub = load_submission(session, slug=slug, submission_id=submission_id)
    was_public = _check(
        sub, action="show", allowed_from=[Status.APPROVED], expected_status=expected_status
    )
    now = utcnow()
    # At most one question on screen: the one there now goes back to the approved queue.
    previous = session.scalars(
        select(Submission)
        .where(Submission.meeting_id == sub.meeting_id, Submission.status == Status.ON_SCREEN)
        # of=: PostgreSQL cannot lock the outer-joined meeting the relationship loads.
        .with_for_update(of=Submission)
    ).all()
    for other in previous:
        other.status = Status.APPROVED
        other.hidden_at, other.hidden_by = now, actor
        was_public.add(other.id)
    sub.status = Status.ON_SCREEN
    sub.shown_at, sub.shown_by = now, actor
    # The one taken down goes back into the queue, in its place.
    moved = priority.rescore(session, meeting_id=sub.meeting_id) if previous else []
    changed = [sub, *previous]
    submission_event(
        session,
        type="shown",
        actor=actor,
        changed=[*changed, *(m for m in moved if m not in changed)],
        was_public=was_public,
    )
    return sub


def hide(
    session: Session,
    *,
    slug: str,
    submission_id: int,
    actor: str,
    expected_status: str | None = None,
) -> Submission:
    sub = load_submission(session, slug=slug, submission_id=submission_id)
    was_public = _check(
        sub, action="hide", allowed_from=[Status.ON_SCREEN], expected_status=expected_status
    )
    sub.status = Status.APPROVED
    sub.hidden_at, sub.hidden_by = utcnow(), actor
    moved = priority.rescore(session, meeting_id=sub.meeting_id)
    submission_event(
        session,
        type="hidden",
        actor=actor,
        changed=[sub, *(m for m in moved if m is not sub)],
        was_public=was_public,
    )
    return sub


def answer(
    session: Session,
    *,
    slug: str,
    submission_id: int,
    actor: str,
    expected_status: str | None = None,
) -> Submission:
    sub = load_submission(session, slug=slug, submission_id=submission_id)
    was_public = _check(
        sub, action="answer", allowed_from=[Status.ON_SCREEN], expected_status=expected_status
    )
    sub.status = Status.ANSWERED
    sub.answered_at, sub.answered_by = utcnow(), actor
    submission_event(session, type="answered", actor=actor, changed=[sub], was_public=was_public)
    return sub


def merge(
    session: Session,
    *,
    slug: str,
    submission_id: int,
    actor: str,
    into: int | None = None,
    expected_status: str | None = None,
) -> Submission:
    if into is None:
        raise InvalidInput(_("Say which question to merge into: give 'into' with its number."))
    if into == submission_id:
        raise InvalidInput(_("A question cannot be merged into itself."))
    sub = load_submission(session, slug=slug, submission_id=submission_id)
    was_public = _check(
        sub,
        action="merge",
        allowed_from=[Status.PENDING, Status.APPROVED, Status.REJECTED, Status.ON_SCREEN],
        expected_status=expected_status,
    )
    target = load_submission(session, slug=slug, submission_id=into)
    if target.status == Status.MERGED:
        raise InvalidTransition(
            _(
                "Question {id} was itself merged into question {target}: "
                "merge into that one instead."
            ).format(id=into, target=target.merged_into_id),
            current=moderation_submission(target),
        )
    if target.status in PUBLIC_STATUSES:
        was_public.add(target.id)
    was_rejected = sub.status == Status.REJECTED
    sub.status = Status.MERGED
    sub.merged_into_id = target.id
    sub.merged_into = target
    sub.merged_at, sub.merged_by = utcnow(), actor
    # Everyone who asked the merged question now counts towards the one kept, and so do
    # their "me too"s; those merged into it earlier now follow the one kept directly, so
    # each asker is one step from the question that will be answered.
    target.asked_count += sub.asked_count
    target.votes = move_votes(session, merged=sub, into=target)
    earlier = session.scalars(select(Submission).where(Submission.merged_into_id == sub.id)).all()
    for other in earlier:
        other.merged_into_id = target.id
        other.merged_into = target
    priority.refresh_score(session, target)
    moved = (
        priority.rescore(session, meeting_id=target.meeting_id)
        if target.status == Status.APPROVED
        else []
    )
    changed = [sub, target]
    submission_event(
        session,
        type="merged",
        actor=actor,
        changed=[*changed, *(m for m in moved if m not in changed)],
        was_public=was_public,
        extra=reasons.rejections_payload(session, meeting_id=sub.meeting_id)
        if was_rejected
        else None,
    )
    return sub


def edit(
    session: Session,
    *,
    slug: str,
    submission_id: int,
    actor: str,
    text: str,
    expected_status: str | None = None,
    max_length: int = 500,
) -> Submission:
    text = clean_text(text)
    if not text:
        raise InvalidInput(_("The question cannot be empty. To remove it, reject it instead."))
    if len(text) > max_length:
        raise InvalidInput(
            _("The question is too long: at most {n} characters.").format(n=max_length)
        )
    sub = load_submission(session, slug=slug, submission_id=submission_id)
    was_public = _check(
        sub,
        action="edit",
        allowed_from=[
            Status.PENDING,
            Status.APPROVED,
            Status.REJECTED,
            Status.ON_SCREEN,
            Status.ANSWERED,
        ],
        expected_status=expected_status,
    )
    sub.display_text = text
    sub.edited_at, sub.edited_by = utcnow(), actor
    submission_event(session, type="edited", actor=actor, changed=[sub], was_public=was_public)
    return sub
