"""The activity log: every change to a meeting, who made it and when, read from the event log.

The event log already holds all of it (each row has its type, actor, time and the views of
the questions it changed), so this is a read-only view of it for moderators. It is never
public: it names pending and rejected questions and the moderators who acted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from council.errors import InvalidInput
from council.i18n import _, ngettext
from council.meetings import get_meeting
from council.models import Event
from council.moderation.reasons import explain
from council.views import iso

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
SNIPPET = 60


def _snippet(text: str | None) -> str:
    text = " ".join((text or "").split())
    if len(text) <= SNIPPET:
        return text
    cut = text[:SNIPPET]
    # At a word's end when there is one: half a word reads as a typo.
    if " " in cut[SNIPPET // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def _subs(payload: dict[str, Any]) -> list[dict[str, Any]]:
    subs = payload.get("submissions")
    return [s for s in subs if isinstance(s, dict)] if isinstance(subs, list) else []


def _first(payload: dict[str, Any]) -> dict[str, Any]:
    subs = _subs(payload)
    return subs[0] if subs else {}


def _question(sub: dict[str, Any]) -> str:
    return _("#{id} “{text}”").format(id=sub.get("id", "?"), text=_snippet(sub.get("text")))


def _received(p: dict[str, Any]) -> str:
    sub = _first(p)
    return _("new question {question} from {author} ({source})").format(
        question=_question(sub), author=sub.get("author", "?"), source=sub.get("source", "?")
    )


def _rejected(p: dict[str, Any]) -> str:
    sub = _first(p)
    reason = explain(sub.get("rejection_key"), sub.get("rejection_reason"))
    if reason:
        return _("rejected {question}: {reason}").format(question=_question(sub), reason=reason)
    return _("rejected {question}").format(question=_question(sub))


def _shown(p: dict[str, Any]) -> str:
    subs = _subs(p)
    shown = next((s for s in subs if s.get("status") == "on_screen"), subs[0] if subs else {})
    return _("put {question} on the screen").format(question=_question(shown))


def _merged(p: dict[str, Any]) -> str:
    sub = _first(p)
    return _("merged {question} into #{into}").format(
        question=_question(sub), into=sub.get("merged_into", "?")
    )


def _verified(p: dict[str, Any]) -> str:
    ids = ", ".join(f"#{s.get('id')}" for s in _subs(p))
    return _("verified-resident badge changed on {ids}").format(ids=ids)


def _meeting(p: dict[str, Any]) -> str:
    meeting = p.get("meeting") or {}
    return _("meeting is now {status}").format(status=meeting.get("status", "?"))


def _agenda(p: dict[str, Any]) -> str:
    agenda = p.get("agenda") or {}
    current = agenda.get("current")
    item = next((i for i in agenda.get("items", []) if i.get("id") == current), None)
    if item is None:
        return _("agenda: no item under discussion")
    return _("agenda: now “{title}”").format(title=item.get("title", ""))


def _recording(p: dict[str, Any]) -> str:
    rec = p.get("recording") or {}
    return _("recording: {status}").format(status=rec.get("status", "?"))


def _categorized(p: dict[str, Any]) -> str:
    sub = _first(p)
    return _("set the category of {question} to {category}").format(
        question=_question(sub), category=sub.get("category") or _("none")
    )


def _reordered(p: dict[str, Any]) -> str:
    subs = _subs(p)
    if len(subs) == 1:
        return _("moved {question} in the queue").format(question=_question(subs[0]))
    return _("reordered the approved queue ({n} questions)").format(n=len(subs))


def _blackout(p: dict[str, Any]) -> str:
    meeting = p.get("meeting") or {}
    on = p.get("blackout", meeting.get("blackout"))
    return _("blacked out the chamber screen") if on else _("ended the blackout")


SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "received": _received,
    "approved": lambda p: _("approved {question}").format(question=_question(_first(p))),
    "rejected": _rejected,
    "restored": lambda p: _("restored {question} to pending").format(question=_question(_first(p))),
    "shown": _shown,
    "hidden": lambda p: _("took {question} off the screen").format(question=_question(_first(p))),
    "answered": lambda p: _("marked {question} answered").format(question=_question(_first(p))),
    "merged": _merged,
    "edited": lambda p: _("edited the text of {question}").format(question=_question(_first(p))),
    "verified": _verified,
    "meeting": _meeting,
    "agenda": _agenda,
    "recording": _recording,
    "categorized": _categorized,
    "triaged": lambda p: ngettext(
        "suggested a category and found likely duplicates for {n} new question",
        "suggested categories and found likely duplicates for {n} new questions",
        len(_subs(p)),
    ).format(n=len(_subs(p))),
    "flagged": lambda p: _("flags changed on {question}").format(question=_question(_first(p))),
    "muted": lambda p: _("muted or unmuted an author ({n} questions)").format(n=len(_subs(p))),
    "reordered": _reordered,
    "voted": lambda p: _("a “me too” vote for {question}").format(question=_question(_first(p))),
    "show_scheduled": lambda p: _("scheduled {question} for the screen").format(
        question=_question(_first(p))
    ),
    "show_cancelled": lambda p: _("cancelled showing {question}").format(
        question=_question(_first(p))
    ),
    "blackout": _blackout,
}


def summarize(event_type: str, payload: dict[str, Any]) -> str:
    """One line a moderator reads in the log: what happened, in words."""
    summary = SUMMARIES.get(event_type)
    if summary is None:
        subs = _subs(payload)
        if subs:
            return _("{type}: {question}").format(type=event_type, question=_question(subs[0]))
        return event_type
    try:
        return summary(payload)
    except (AttributeError, KeyError, TypeError, ValueError):
        # An event of another version's shape still gets a line rather than a 500.
        return event_type


def entry(event: Event) -> dict[str, Any]:
    payload = event.payload or {}
    return {
        "seq": event.seq,
        "type": event.type,
        "at": iso(event.created_at),
        "actor": event.actor,
        "submission_id": event.submission_id,
        "submissions": [s.get("id") for s in _subs(payload)],
        "summary": summarize(event.type, payload),
    }


def activity(
    session: Session,
    *,
    slug: str,
    after: int | None = None,
    before: int | None = None,
    limit: int = DEFAULT_LIMIT,
    actions_only: bool = False,
) -> dict[str, Any]:
    """The meeting's log, newest first.

    ``after``: only what came after that seq (a live page catching up; the oldest ``limit``
    of them, so nothing is skipped); ``before``: an older page; ``actions_only``: only
    changes made by a person (leaves out new questions, votes and automatic changes).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(_("limit must be between 1 and {n}.").format(n=MAX_LIMIT))
    if after is not None and before is not None:
        raise InvalidInput(_("Give either 'after' or 'before', not both."))
    meeting = get_meeting(session, slug=slug)
    query = select(Event).where(Event.meeting_id == meeting.id)
    if actions_only:
        query = query.where(Event.actor.is_not(None))
    if after is not None:
        query = query.where(Event.seq > after).order_by(Event.seq)
    else:
        if before is not None:
            query = query.where(Event.seq < before)
        query = query.order_by(Event.seq.desc())
    rows = list(session.scalars(query.limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if after is not None:
        rows.reverse()
    return {
        "seq": meeting.last_seq,
        "entries": [entry(row) for row in rows],
        "more": more,
    }
