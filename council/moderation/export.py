"""The moderators' CSV of a meeting's questions: every question, every status, who and when.

Unlike the archive's public questions.csv, this one holds pending, rejected and merged
questions and the moderators' names, so it is for moderators only. It works during the
meeting as well as after it. Rows are built from the moderators' view of each question
(council/views.py), so fields that view gains (categories, flags, votes, ...) arrive here
without a second list to keep in step.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from council.meetings import get_meeting
from council.models import Event, Meeting, Submission
from council.views import moderation_submission

# The view's fields, in the order of the columns (times are UTC).
VIEW_COLUMNS = [
    "id",
    "received_at",
    "source",
    "author",
    "handle",
    "neighborhood",
    "verified",
    "category",
    "flags",
    "status",
    "text",
    "original_text",
    "asked_count",
    "merged_into",
    "votes",
    "score",
    "position",
    "rejection_reason",
    "rejection_note",
    "approved_at",
    "approved_by",
]
SHOWN_COLUMNS = ["first_shown_at", "first_shown_by", "times_shown"]
LATER_COLUMNS = [
    "shown_at",
    "shown_by",
    "hidden_at",
    "hidden_by",
    "answered_at",
    "answered_by",
    "rejected_at",
    "rejected_by",
    "restored_at",
    "restored_by",
    "merged_at",
    "merged_by",
    "edited_at",
    "edited_by",
]
DERIVED_COLUMNS = ["seconds_to_approve", "seconds_to_screen", "url"]
COLUMNS = VIEW_COLUMNS + SHOWN_COLUMNS + LATER_COLUMNS + DERIVED_COLUMNS

# Columns named apart from the view's field: the reason is a key of
# council/moderation/reasons.py, and the view's rejection_reason is the moderator's note.
RENAMED = {"rejection_reason": "rejection_key", "rejection_note": "rejection_reason"}

# Spreadsheets run a cell starting with one of these as a formula (CSV injection):
# such a cell gets a leading apostrophe, which they show as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _time(value: str | None) -> str:
    # "2026-11-24 19:00:05": what spreadsheets read as a date and time (UTC).
    if not value:
        return ""
    return value.replace("T", " ").removesuffix("Z").split(".")[0].split("+")[0]


def _cell(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if name.endswith("_at"):
        return _time(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ";".join(str(v.get("id", v)) if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, float):
        return round(value, 3)
    return value


def _seconds(start: datetime | None, end: datetime | None) -> int | str:
    if start is None or end is None:
        return ""
    return max(0, round((end - start).total_seconds()))


def shown_history(session: Session, *, meeting_id: int) -> dict[int, list[tuple[datetime, str]]]:
    """Each question's times on the screen, oldest first, from the event log (the row keeps
    only the last one)."""
    rows = session.execute(
        select(Event.submission_id, Event.created_at, Event.actor)
        .where(Event.meeting_id == meeting_id, Event.type == "shown")
        .order_by(Event.seq)
    )
    history: dict[int, list[tuple[datetime, str]]] = {}
    for submission_id, created_at, actor in rows:
        if submission_id is not None:
            history.setdefault(submission_id, []).append((created_at, actor or ""))
    return history


def rows(session: Session, meeting: Meeting) -> Iterable[list[Any]]:
    history = shown_history(session, meeting_id=meeting.id)
    subs = session.scalars(
        select(Submission)
        .where(Submission.meeting_id == meeting.id)
        .order_by(Submission.received_at, Submission.id)
    )
    for sub in subs:
        view = moderation_submission(sub)
        shown = history.get(sub.id, [])
        first_shown = shown[0][0] if shown else sub.shown_at
        row = [_cell(name, view.get(RENAMED.get(name, name))) for name in VIEW_COLUMNS]
        row += [
            _time(first_shown.isoformat()) if first_shown else "",
            shown[0][1] if shown else (sub.shown_by or ""),
            len(shown),
        ]
        row += [_cell(name, view.get(name)) for name in LATER_COLUMNS]
        row += [
            _seconds(sub.received_at, sub.approved_at),
            _seconds(sub.received_at, first_shown),
            view.get("url") or "",
        ]
        yield [defuse(value) for value in row]


def questions_csv(session: Session, *, slug: str) -> str:
    """The whole CSV, with a byte-order mark so spreadsheets read the accents right."""
    meeting = get_meeting(session, slug=slug)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows(session, meeting))
    return out.getvalue()
