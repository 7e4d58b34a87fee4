"""Counts at a glance: how many questions, where they stand, where they came from.

The moderation snapshot carries them as ``counts``. They are not sent with each
event: every event carries the full view of the questions it changed, so the page
recomputes the same numbers from its copy of the questions
(static/js/moderate-counts.js), every field they need being in those views.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from council.models import Meeting, Status, Submission, utcnow
from council.views import iso

STATUSES = tuple(s.value for s in Status)
NO_CATEGORY = "none"
BUCKET_SECONDS = 60
# Longer than this many minutes and buckets widen, so the chart stays a few hundred bars.
MAX_BUCKETS = 360
WIDER = (60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)


def _floor(moment: datetime, seconds: int) -> datetime:
    stamp = math.floor(moment.timestamp() / seconds) * seconds
    return datetime.fromtimestamp(stamp, tz=moment.tzinfo)


def per_minute(
    received: list[datetime], *, since: datetime | None, until: datetime
) -> dict[str, Any]:
    """Questions received per bucket (a minute, or wider for long spans) over the meeting."""
    if not received:
        return {"start": iso(since), "bucket_seconds": BUCKET_SECONDS, "counts": []}
    first = min(received)
    start_at = min(first, since) if since else first
    end_at = max(until, max(received))
    span = (end_at - start_at).total_seconds()
    size = next((w for w in WIDER if span / w < MAX_BUCKETS), WIDER[-1])
    start = _floor(start_at, size)
    buckets = [0] * (int((end_at - start).total_seconds() // size) + 1)
    for moment in received:
        buckets[int((moment - start).total_seconds() // size)] += 1
    return {"start": iso(start), "bucket_seconds": size, "counts": buckets}


def meeting_counts(
    session: Session, *, meeting: Meeting, now: datetime | None = None
) -> dict[str, Any]:
    rows = session.execute(
        select(
            Submission.status, Submission.source, Submission.category, Submission.received_at
        ).where(Submission.meeting_id == meeting.id)
    ).all()
    by_status = dict.fromkeys(STATUSES, 0)
    by_source: dict[str, int] = {}
    by_category: dict[str, int] = {}
    for status, source, category, _received in rows:
        by_status[status] = by_status.get(status, 0) + 1
        by_source[source] = by_source.get(source, 0) + 1
        key = category or NO_CATEGORY
        by_category[key] = by_category.get(key, 0) + 1
    until = meeting.ended_at or (now or utcnow())
    return {
        "received": len(rows),
        "by_status": by_status,
        "by_source": by_source,
        "by_category": by_category,
        "per_minute": per_minute([r[3] for r in rows], since=meeting.started_at, until=until),
    }


def rate(counts: dict[str, Any], minutes: int = 5) -> float:
    """Questions per minute over the last ``minutes`` buckets' worth of time."""
    series = counts["per_minute"]
    size = series["bucket_seconds"]
    take = max(1, round(minutes * 60 / size))
    recent = series["counts"][-take:]
    return sum(recent) / (len(recent) * size / 60) if recent else 0.0
