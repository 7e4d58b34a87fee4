"""What a resident replaying a meeting gets: the video, its questions at their moments,
and chapters from the agenda. Public: only questions that are still approved content."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from council.archive.timeline import Part, media_offset, moments_from_events, timeline
from council.meetings import get_meeting
from council.models import PUBLIC_STATUSES, Event, Meeting, Recording, Submission
from council.views import iso, meeting_view, public_submission

TIMELINE_EVENTS = ("shown", "hidden", "answered", "restored", "merged")


def ready_recording(session: Session, *, meeting_id: int) -> Recording | None:
    return session.scalar(
        select(Recording)
        .where(Recording.meeting_id == meeting_id, Recording.status == "ready")
        .order_by(Recording.id.desc())
    )


def recorded_parts(rec: Recording | None) -> list[Part]:
    if rec is None:
        return []
    return [
        Part(anchor=datetime.fromisoformat(p["anchor"]), duration_s=float(p["duration_s"]))
        for p in rec.parts or []
        if p.get("anchor") and p.get("duration_s")
    ]


def _chapters(
    events: list[Event],
    titles: dict[int, str],
    parts: list[Part],
    latency_s: float,
    total_s: float | None,
) -> list[dict[str, Any]]:
    chapters: list[dict[str, Any]] = []
    current: int | None = None
    for event in events:
        agenda = (event.payload or {}).get("agenda") or {}
        if agenda.get("current") == current:
            continue
        current = agenda.get("current")
        start = media_offset(parts, event.created_at, latency_s) if parts else None
        if chapters and chapters[-1]["end_s"] is None:
            chapters[-1]["end_s"] = start
        if current is not None and current in titles:
            chapters.append(
                {
                    "title": titles[current],
                    "start_s": start,
                    "end_s": None,
                    "started_at": iso(event.created_at),
                }
            )
    if chapters and chapters[-1]["end_s"] is None:
        chapters[-1]["end_s"] = total_s
    # Two changes within the same second of video make no chapter worth a click.
    return [
        c
        for c in chapters
        if c["start_s"] is None or c["end_s"] is None or c["end_s"] > c["start_s"]
    ]


def archive(session: Session, *, slug: str, latency_s: float) -> dict[str, Any]:
    meeting: Meeting = get_meeting(session, slug=slug)
    rec = ready_recording(session, meeting_id=meeting.id)
    parts = recorded_parts(rec)
    events = list(
        session.scalars(
            select(Event)
            .where(Event.meeting_id == meeting.id, Event.type.in_([*TIMELINE_EVENTS, "agenda"]))
            .order_by(Event.seq)
        ).all()
    )
    public_now = {
        s.id: public_submission(s)
        for s in session.scalars(
            select(Submission).where(
                Submission.meeting_id == meeting.id, Submission.status.in_(PUBLIC_STATUSES)
            )
        ).all()
    }
    moments = [
        m
        for m in moments_from_events(
            [
                {
                    "type": e.type,
                    "at": e.created_at,
                    "submissions": (e.public_payload or {}).get("submissions"),
                }
                for e in events
                if e.type in TIMELINE_EVENTS
            ]
        )
        if m.submission["id"] in public_now
    ]
    entries = timeline(parts, moments, latency_s)
    for entry in entries:
        entry["submission"] = public_now[entry["submission"]["id"]]  # as it reads today
    from council.agenda import agenda_items

    titles = {i.id: i.title for i in agenda_items(session, meeting_id=meeting.id)}
    total = rec.duration_s if rec else None
    return {
        "meeting": meeting_view(meeting),
        "recording": (
            {
                "url": f"/archive/{meeting.slug}/video.mp4",
                "poster": f"/archive/{meeting.slug}/poster.jpg" if rec and rec.poster else None,
                "duration_s": rec.duration_s,
                "started_at": iso(rec.started_at),
            }
            if rec
            else None
        ),
        "timeline": entries,
        "chapters": _chapters(
            [e for e in events if e.type == "agenda"], titles, parts, latency_s, total
        ),
    }


def _clock(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def chapters_vtt(data: dict[str, Any]) -> str:
    lines = ["WEBVTT", ""]
    for number, chapter in enumerate(data["chapters"], start=1):
        if chapter["start_s"] is None or chapter["end_s"] is None:
            continue
        # A cue's text cannot hold a blank line or "-->": both would end or break the cue.
        title = " ".join(chapter["title"].split()).replace("-->", "→")
        lines += [
            str(number),
            f"{_clock(chapter['start_s'])} --> {_clock(chapter['end_s'])}",
            title,
            "",
        ]
    return "\n".join(lines)


CSV_FIELDS = [
    "id",
    "offset_s",
    "hidden_offset_s",
    "shown_at",
    "answered",
    "author",
    "neighborhood",
    "source",
    "verified",
    "asked_count",
    "text",
]


def questions_csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for entry in data["timeline"]:
        sub = entry["submission"]
        row = [
            sub["id"],
            entry["offset_s"],
            entry["hidden_offset_s"],
            entry["shown_at"],
            entry["answered"],
            sub["author"],
            sub["neighborhood"] or "",
            sub["source"],
            sub["verified"],
            sub["asked_count"],
            sub["text"],
        ]
        # Spreadsheets run cells that start with = + - @ as formulas: defuse them.
        writer.writerow(["'" + v if isinstance(v, str) and v[:1] in "=+-@\t\r" else v for v in row])
    return out.getvalue()
