"""Muting an author for one meeting: their questions keep arriving, flagged ``muted_author``.

An author is who posted: the handle on X, Mastodon or Bluesky (capitals and a leading
@ do not matter), or, on the web form, the name as typed (people can change it; a
mute is a hint for moderators, not a wall).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from council.errors import InvalidInput, NotFound
from council.events import record
from council.i18n import _
from council.meetings import get_meeting
from council.models import Meeting, Mute, Status, Submission
from council.moderation import flags
from council.moderation.categories import moderators_only
from council.text import clean_line
from council.views import iso

SOURCES = ("web", "x", "mastodon", "bluesky")
MAX_HANDLE_LENGTH = 200


def author_key(source: str, handle: str | None, name: str | None = None) -> str:
    """Who an author is, for muting: the folded handle, or the web form's folded name."""
    raw = handle if source != "web" and handle else (name or "")
    # clean_line: no control characters, which PostgreSQL cannot store or compare (a NUL).
    return " ".join(clean_line(raw).lstrip("@").casefold().split())


def sub_author(sub: Submission) -> str:
    return author_key(sub.source, sub.author_handle, sub.author_name)


def is_muted(session: Session, *, meeting_id: int, source: str, author: str) -> bool:
    return (
        session.scalar(
            select(Mute.id).where(
                Mute.meeting_id == meeting_id, Mute.source == source, Mute.handle == author
            )
        )
        is not None
    )


def mute_view(mute: Mute) -> dict[str, Any]:
    return {
        "source": mute.source,
        "handle": mute.handle,
        "by": mute.created_by,
        "at": iso(mute.created_at),
    }


def meeting_mutes(session: Session, *, meeting_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Mute).where(Mute.meeting_id == meeting_id).order_by(Mute.created_at, Mute.id)
    ).all()
    return [mute_view(m) for m in rows]


def _who(
    session: Session,
    meeting: Meeting,
    *,
    source: str | None,
    handle: str | None,
    submission_id: int | None,
) -> tuple[str, str]:
    if submission_id is not None:
        if source is not None or handle is not None:
            raise InvalidInput(_("Give either a question's number or a source and handle."))
        sub = session.scalar(
            select(Submission).where(
                Submission.id == submission_id, Submission.meeting_id == meeting.id
            )
        )
        if sub is None:
            raise NotFound(
                _("Question {id} does not exist in meeting {slug}.").format(
                    id=submission_id, slug=meeting.slug
                )
            )
        return sub.source, sub_author(sub)
    if not source or not handle:
        raise InvalidInput(
            _("Say whom to mute: a question's number, or a source and a handle (or name).")
        )
    if source not in SOURCES:
        raise InvalidInput(
            _("Unknown source {source!r}: use one of {sources}.").format(
                source=source, sources=", ".join(SOURCES)
            )
        )
    author = author_key(source, handle, handle)
    if not author:
        raise InvalidInput(_("The handle is empty."))
    if len(author) > MAX_HANDLE_LENGTH:
        raise InvalidInput(
            _("The handle is too long: at most {n} characters.").format(n=MAX_HANDLE_LENGTH)
        )
    return source, author


def _reflag(session: Session, meeting: Meeting, source: str, author: str, on: bool) -> list[Any]:
    """Flag (or unflag) the author's questions still waiting for a decision."""
    waiting = session.scalars(
        select(Submission).where(
            Submission.meeting_id == meeting.id,
            Submission.source == source,
            Submission.status == Status.PENDING,
        )
    ).all()
    return [
        s for s in waiting if sub_author(s) == author and flags.with_flag(s, "muted_author", on)
    ]


def _find(session: Session, meeting_id: int, source: str, author: str) -> Mute | None:
    return session.scalar(
        select(Mute).where(
            Mute.meeting_id == meeting_id, Mute.source == source, Mute.handle == author
        )
    )


def mute(
    session: Session,
    *,
    slug: str,
    actor: str,
    source: str | None = None,
    handle: str | None = None,
    submission_id: int | None = None,
) -> dict[str, Any]:
    """Mute an author for the meeting; their pending questions are flagged at once."""
    meeting = get_meeting(session, slug=slug)
    source, author = _who(
        session, meeting, source=source, handle=handle, submission_id=submission_id
    )
    existing = _find(session, meeting.id, source, author)
    row = existing or Mute(meeting_id=meeting.id, source=source, handle=author, created_by=actor)
    if existing is None:
        session.add(row)
        session.flush()
    changed = _reflag(session, meeting, source, author, True)
    view = {**mute_view(row), "muted": True}
    _announce(session, meeting, actor, changed, view)
    return view


def unmute(
    session: Session,
    *,
    slug: str,
    actor: str,
    source: str | None = None,
    handle: str | None = None,
    submission_id: int | None = None,
) -> dict[str, Any]:
    meeting = get_meeting(session, slug=slug)
    source, author = _who(
        session, meeting, source=source, handle=handle, submission_id=submission_id
    )
    row = _find(session, meeting.id, source, author)
    if row is None:
        raise NotFound(
            _("{handle} ({source}) is not muted in this meeting.").format(
                handle=author, source=source
            )
        )
    view = {**mute_view(row), "muted": False}
    session.delete(row)
    session.flush()
    changed = _reflag(session, meeting, source, author, False)
    _announce(session, meeting, actor, changed, view)
    return view


def _announce(
    session: Session,
    meeting: Meeting,
    actor: str,
    changed: list[Submission],
    view: dict[str, Any],
) -> None:
    if changed:
        moderators_only(session, type="muted", actor=actor, changed=changed, extra={"mute": view})
    else:
        record(
            session,
            meeting=meeting,
            type="muted",
            payload={"submissions": [], "mute": view},
            public=None,
            actor=actor,
        )
