"""Triage's part of the snapshots (council/live/snapshot.py calls these)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from council.models import Meeting
from council.moderation import categories, counts, mutes, reasons
from council.moderation.context import triage_of


def moderation_extras(session: Session, *, meeting: Meeting) -> dict[str, Any]:
    """What the moderator page needs beside the questions: the lists to pick from, the
    counts, who is muted, and the weights behind the scores."""
    return {
        "counts": counts.meeting_counts(session, meeting=meeting),
        "categories": categories.choices(session),
        "reasons": reasons.choices(),
        "mutes": mutes.meeting_mutes(session, meeting_id=meeting.id),
        "priority": triage_of(session).weights.view(),
        "rejections": reasons.public_counts(session, meeting_id=meeting.id),
    }


def public_extras(session: Session, *, meeting: Meeting) -> dict[str, Any]:
    """How many questions were rejected for each reason (never which ones)."""
    return {"rejections": reasons.public_counts(session, meeting_id=meeting.id)}
