"""Keeping the chamber screen safe: a delay between "show" and the screen, and a blackout.

With a delay, *show* changes no question: it writes the due show on the meeting's row
(``pending_show_*``) and records ``show_scheduled`` for moderators only. The question goes
on screen when :func:`fire_due_shows` runs at the due time, in one transaction that clears
the pending show and shows the question. A show cancelled within the delay was therefore
never committed, and nothing about it ever reached the public websocket. Because the due
show lives in the database, a restart during the delay neither loses it (the new process
fires it) nor fires it twice (clearing and showing commit together, under the row lock).

The blackout is a meeting flag: the screen goes dark except for a discreet title while it
is on, and comes back as it was when it is lifted. It also cancels a pending show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from council.errors import Conflict, InvalidInput, NotFound
from council.events import record
from council.i18n import _
from council.meetings import get_meeting, impossible_slug
from council.models import Meeting, Status, Submission, utcnow
from council.moderation import actions
from council.tasks import cancel_and_wait
from council.views import meeting_view, moderation_submission, pending_show_view

if TYPE_CHECKING:
    from council.services import Council

log = logging.getLogger(__name__)

MAX_DELAY_SECONDS = 300
# A show overdue by more than this (the server was down) is cancelled, not fired: a question
# popping up minutes after the moderator asked is a surprise, and they can show it again.
STALE_AFTER = timedelta(seconds=60)
# How often the runner looks for shows scheduled by another process (the CLI, a worker).
POLL_SECONDS = 0.5
STOP_SECONDS = 5.0


def effective_delay(meeting: Meeting, default: int) -> int:
    return meeting.show_delay_seconds if meeting.show_delay_seconds is not None else default


def screen_view(meeting: Meeting, default_delay: int | None = None) -> dict[str, Any]:
    """The screen controls as moderators see them."""
    view: dict[str, Any] = {
        "blackout": meeting.blackout,
        "show_delay_s": meeting.show_delay_seconds,
        "pending_show": pending_show_view(meeting),
    }
    if default_delay is not None:
        view["default_delay_s"] = default_delay
        view["effective_delay_s"] = effective_delay(meeting, default_delay)
    return view


def pending_of(sub: Submission) -> dict[str, Any]:
    """For show's answer: the countdown now running (null when the show was done at once)."""
    return {"pending_show": pending_show_view(sub.meeting)}


def _clear_pending(meeting: Meeting) -> int | None:
    pending = meeting.pending_show_id
    meeting.pending_show_id = None
    meeting.pending_show_due_at = None
    meeting.pending_show_by = None
    return pending


def _cancelled(
    session: Session, meeting: Meeting, submission_id: int, reason: str, actor: str | None
) -> None:
    """Record that a pending show will not happen (moderators only: it never was public)."""
    sub = session.get(Submission, submission_id)
    record(
        session,
        meeting=meeting,
        type="show_cancelled",
        payload={
            "submissions": [moderation_submission(sub)] if sub is not None else [],
            "pending_show": None,
            "cancelled": {"submission_id": submission_id, "reason": reason},
        },
        public=None,
        actor=actor,
    )


def _locked_meeting(session: Session, slug: str) -> Meeting:
    impossible_slug(slug)
    # Locked: two workers firing or cancelling the same show must take turns (PostgreSQL).
    meeting = session.scalars(
        select(Meeting).where(Meeting.slug == slug).with_for_update()
    ).one_or_none()
    if meeting is None:
        get_meeting(session, slug=slug)  # raises the readable 404
        raise NotFound(_("There is no meeting “{slug}”.").format(slug=slug))
    return meeting


# -- the actions -------------------------------------------------------------------------------


def request_show(
    session: Session,
    *,
    slug: str,
    submission_id: int,
    actor: str,
    expected_status: str | None = None,
    default_delay: int = 0,
) -> Submission:
    """*Show*, as moderators ask for it: at once without a delay, else scheduled.

    A second show during the delay replaces the first (the moderator changed their mind);
    the same question again keeps its countdown.
    """
    meeting = _locked_meeting(session, slug)
    delay = effective_delay(meeting, default_delay)
    if delay <= 0:
        sub = actions.show(
            session,
            slug=slug,
            submission_id=submission_id,
            actor=actor,
            expected_status=expected_status,
        )
        pending = _clear_pending(meeting)
        if pending is not None and pending != sub.id:
            _cancelled(session, meeting, pending, "replaced", actor)
        return sub
    sub = actions.load_submission(session, slug=slug, submission_id=submission_id)
    # The very checks of show itself: a refused show is refused before any countdown.
    actions.check_status(
        sub, action="show", allowed_from=[Status.APPROVED], expected_status=expected_status
    )
    if meeting.pending_show_id == sub.id:
        return sub
    replaced = meeting.pending_show_id
    now = utcnow()
    meeting.pending_show_id = sub.id
    meeting.pending_show_due_at = now + timedelta(seconds=delay)
    meeting.pending_show_by = actor
    record(
        session,
        meeting=meeting,
        type="show_scheduled",
        payload={
            "submissions": [moderation_submission(sub)],
            "pending_show": pending_show_view(meeting, now),
            "replaced": replaced,
        },
        public=None,
        actor=actor,
        submissions=(sub,),
    )
    return sub


def cancel_show(
    session: Session, *, slug: str, actor: str, submission_id: int | None = None
) -> Meeting:
    """Cancel the pending show; 409 when there is none (it may be on screen already)."""
    meeting = _locked_meeting(session, slug)
    pending = meeting.pending_show_id
    if pending is None:
        raise Conflict(
            _(
                "No show is waiting to be cancelled: it may be on the screen already. "
                "To take a question off the screen, hide it (h)."
            )
        )
    if submission_id is not None and submission_id != pending:
        raise Conflict(
            _(
                "The show waiting now is question {pending}, not question {id}: "
                "nothing was cancelled."
            ).format(pending=pending, id=submission_id)
        )
    _clear_pending(meeting)
    _cancelled(session, meeting, pending, "cancelled", actor)
    return meeting


def set_blackout(session: Session, *, slug: str, on: bool, actor: str | None) -> Meeting:
    """Dark screen (on) or back as it was (off). Turning it on also cancels a pending show."""
    meeting = _locked_meeting(session, slug)
    if meeting.blackout == on:
        return meeting  # a second press changes nothing and tells nobody
    meeting.blackout = on
    cancelled = _clear_pending(meeting) if on else None
    view = meeting_view(meeting)
    payload: dict[str, Any] = {"meeting": view, "blackout": on, "submissions": []}
    if cancelled is not None:
        sub = session.get(Submission, cancelled)
        payload["submissions"] = [moderation_submission(sub)] if sub is not None else []
        payload["pending_show"] = None
        payload["cancelled"] = {"submission_id": cancelled, "reason": "blackout"}
    record(
        session,
        meeting=meeting,
        type="blackout",
        payload=payload,
        public={"meeting": view, "blackout": on},
        actor=actor,
    )
    return meeting


def set_show_delay(
    session: Session, *, slug: str, seconds: int | None, actor: str | None
) -> Meeting:
    """The meeting's own delay (None: the server's default). A pending show keeps its time."""
    if seconds is not None and not 0 <= seconds <= MAX_DELAY_SECONDS:
        raise InvalidInput(
            _("The delay is a whole number of seconds from 0 (none) to {n}.").format(
                n=MAX_DELAY_SECONDS
            )
        )
    meeting = _locked_meeting(session, slug)
    meeting.show_delay_seconds = seconds
    view = meeting_view(meeting)
    record(
        session,
        meeting=meeting,
        type="meeting",
        payload={"meeting": view},
        public={"meeting": view},
        actor=actor,
    )
    return meeting


# -- carrying out due shows --------------------------------------------------------------------


def next_due_at(session: Session) -> datetime | None:
    due: datetime | None = session.scalar(
        select(func.min(Meeting.pending_show_due_at)).where(Meeting.pending_show_id.is_not(None))
    )
    return due


def fire_due_shows(session: Session, *, now: datetime | None = None) -> list[int]:
    """Show every question whose delay is over; return their ids.

    Clearing the pending show and showing the question commit together: a crash before
    the commit leaves the show pending for the next process, and after it, done.
    """
    now = now or utcnow()
    due = session.scalars(
        select(Meeting)
        .where(Meeting.pending_show_id.is_not(None), Meeting.pending_show_due_at <= now)
        .with_for_update()
    ).all()
    shown: list[int] = []
    for meeting in due:
        assert meeting.pending_show_due_at is not None
        late = now - meeting.pending_show_due_at
        by = meeting.pending_show_by or "system"
        pending = _clear_pending(meeting)
        assert pending is not None
        sub = session.get(Submission, pending)
        if late > STALE_AFTER:
            _cancelled(session, meeting, pending, "expired", None)
        elif sub is None or sub.meeting_id != meeting.id or sub.status != Status.APPROVED:
            _cancelled(session, meeting, pending, "not_approved", None)
        else:
            actions.show(session, slug=meeting.slug, submission_id=pending, actor=by)
            shown.append(pending)
    return shown


class DelayedShows:
    """The app's small task that carries out due shows, at their time.

    It sleeps until the earliest due show, and looks again at least every
    ``POLL_SECONDS`` for shows scheduled meanwhile by this or another process.
    """

    def __init__(self, council: Council) -> None:
        self.council = council
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None

    def start(self) -> None:
        if self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="council-delayed-shows")

    async def stop(self) -> None:
        """Let a look or a show under way finish (its database work runs on a thread that a
        cancel would not stop), then end."""
        if self._task is None or self._stopping is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=STOP_SECONDS)
        except TimeoutError:
            await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        assert self._stopping is not None
        while not self._stopping.is_set():
            try:
                wait = await self.tick()
            except Exception:
                log.exception("could not carry out due shows; trying again")
                wait = POLL_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=wait)

    async def tick(self) -> float:
        """Fire what is due; return how long to sleep before looking again."""
        due = await self.council.read(next_due_at)
        now = utcnow()
        if due is not None and due <= now:
            await self.council.act(fire_due_shows)
            return 0.0
        if due is None:
            return POLL_SECONDS
        return min(POLL_SECONDS, max(0.0, (due - now).total_seconds()))
