"""The meeting's agenda: items in order, and the one under discussion now.

Moving the current item is an event like any other: the chamber screen and the public
page show it live, and the replay turns these moments into chapters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from council.errors import InvalidInput, NotFound
from council.events import record
from council.i18n import _
from council.meetings import get_meeting
from council.models import AgendaItem, Meeting
from council.text import clean_line

MAX_TITLE = 200


def agenda_items(session: Session, *, meeting_id: int) -> list[AgendaItem]:
    return list(
        session.scalars(
            select(AgendaItem)
            .where(AgendaItem.meeting_id == meeting_id)
            .order_by(AgendaItem.position, AgendaItem.id)
        ).all()
    )


def agenda_view(session: Session, meeting: Meeting) -> dict[str, Any]:
    items = agenda_items(session, meeting_id=meeting.id)
    return {
        "items": [{"id": i.id, "position": i.position, "title": i.title} for i in items],
        "current": meeting.current_agenda_item_id,
    }


def _announce(session: Session, meeting: Meeting, actor: str | None) -> dict[str, Any]:
    session.flush()
    view = agenda_view(session, meeting)
    record(
        session,
        meeting=meeting,
        type="agenda",
        payload={"agenda": view},
        public={"agenda": view},
        actor=actor,
    )
    return view


def add_item(
    session: Session, *, slug: str, title: str, actor: str | None = None
) -> dict[str, Any]:
    meeting = get_meeting(session, slug=slug)
    title = clean_line(title)  # no control characters: PostgreSQL cannot store a NUL
    if not 1 <= len(title) <= MAX_TITLE:
        raise InvalidInput(_("An agenda item's title is 1 to {n} characters.").format(n=MAX_TITLE))
    last = session.scalar(
        select(func.max(AgendaItem.position)).where(AgendaItem.meeting_id == meeting.id)
    )
    session.add(AgendaItem(meeting_id=meeting.id, position=(last or 0) + 1, title=title))
    return _announce(session, meeting, actor)


def set_current(
    session: Session, *, slug: str, item_id: int | None, actor: str | None = None
) -> dict[str, Any]:
    """``item_id`` None: no item under discussion (a break, or the end)."""
    meeting = get_meeting(session, slug=slug)
    if item_id is not None:
        item = session.get(AgendaItem, item_id)
        if item is None or item.meeting_id != meeting.id:
            raise NotFound(
                _("Agenda item {id} is not on this meeting's agenda.").format(id=item_id)
            )
    meeting.current_agenda_item_id = item_id
    return _announce(session, meeting, actor)


def next_item(session: Session, *, slug: str, actor: str | None = None) -> dict[str, Any]:
    """On to the next item (the first one if none is current; none after the last)."""
    meeting = get_meeting(session, slug=slug)
    items = agenda_items(session, meeting_id=meeting.id)
    if not items:
        raise InvalidInput(_("This meeting has no agenda yet: add items first."))
    ids = [i.id for i in items]
    current = meeting.current_agenda_item_id
    following = (
        ids[0]
        if current not in ids
        else (ids[ids.index(current) + 1] if ids.index(current) + 1 < len(ids) else None)
    )
    return set_current(session, slug=slug, item_id=following, actor=actor)
