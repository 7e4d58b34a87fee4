"""The archive's pages: past meetings with a search over their questions, and the replay.

Both are server-rendered and work without JavaScript (a time link reloads the page at
that moment, through the video's ``#t=`` media fragment); static/js/replay.js adds
seeking in place, the highlight that follows the video, and sharing a moment.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from council.archive.recordings import ACTIVE, latest_recording
from council.archive.replay import archive
from council.archive.search import WEIGHTS, ranked_matches, uses_full_text
from council.auth import council_of, current_actor
from council.meetings import get_meeting
from council.models import PUBLIC_STATUSES, Meeting, MeetingStatus, Recording, Status, Submission
from council.pages import render

router = APIRouter(include_in_schema=False)

MAX_QUERY = 200
MAX_WORDS = 10
MAX_HITS_PER_MEETING = 20


# -- times -------------------------------------------------------------------------------------


def clock(seconds: float | None) -> str:
    """A media time as people read it on a player: 04:05, or 1:02:03 past the hour."""
    if seconds is None:
        return ""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def duration_label(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes < 10 else f"{minutes} min"


def time_param(seconds: float) -> str:
    """``?t=`` for a moment: rounded up to a tenth, so the link lands inside the moment."""
    value = math.ceil(round(seconds, 3) * 10) / 10
    return f"{value:.1f}".removesuffix(".0")


_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")
_UNITS = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_time(text: str | None) -> float | None:
    """``?t=`` as people write it: 90, 90.5, 1:30, 1:02:03, 1h2m3s; None if it is not a time."""
    if not text:
        return None
    text = text.strip().lower()
    if len(text) > 20:
        return None
    value: float | None = None
    try:
        value = float(text)
    except ValueError:
        if match := _CLOCK.match(text):
            hours, minutes, secs = match.groups()
            if float(secs) >= 60 or (hours is not None and int(minutes) >= 60):
                return None
            value = int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
        elif (match := _UNITS.match(text)) and any(match.groups()):
            hours, minutes, secs = match.groups()
            value = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs or 0)
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return value


# -- search ------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lowercase without accents: "Petición" and "peticion" are the same word to a searcher."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def query_words(query: str) -> list[str]:
    words = re.findall(r"\w+", fold(query[:MAX_QUERY]))
    return list(dict.fromkeys(words))[:MAX_WORDS]


def matches(words: list[str], *texts: str | None) -> bool:
    folded = fold(" ".join(t for t in texts if t))
    return all(word in folded for word in words)


def highlight(text: str, words: list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, matched) runs, so a template can ``<mark>`` the found words
    (each piece is still escaped by the template)."""
    if not text or not words:
        return [(text, False)]
    folded: list[str] = []
    origin: list[int] = []  # the index in ``text`` of each folded character
    for index, char in enumerate(text):
        for piece in fold(char):
            folded.append(piece)
            origin.append(index)
    flat = "".join(folded)
    marked = [False] * len(text)
    for word in words:
        start = flat.find(word)
        while start >= 0:
            end = start + len(word)
            for i in range(origin[start], origin[end - 1] + 1):
                marked[i] = True
            start = flat.find(word, end)
    # A combining accent written apart from its letter belongs to the letter's mark.
    for i in range(1, len(text)):
        if marked[i - 1] and unicodedata.combining(text[i]):
            marked[i] = True
    runs: list[tuple[str, bool]] = []
    for char, on in zip(text, marked, strict=True):
        if runs and runs[-1][1] == on:
            runs[-1] = (runs[-1][0] + char, on)
        else:
            runs.append((char, on))
    return runs


# -- the list ----------------------------------------------------------------------------------


def _when(meeting: Meeting) -> datetime:
    return meeting.started_at or meeting.starts_at or meeting.created_at


def archived_meetings(session: Session) -> list[dict[str, Any]]:
    """Ended meetings and any with a finished recording, newest first."""
    ready: dict[int, Recording] = {
        rec.meeting_id: rec  # ordered by id: the newest ready recording wins
        for rec in session.scalars(
            select(Recording).where(Recording.status == "ready").order_by(Recording.id)
        ).all()
    }
    answered: dict[int, int] = {
        meeting_id: count
        for meeting_id, count in session.execute(
            select(Submission.meeting_id, func.count())
            .where(Submission.status == Status.ANSWERED)
            .group_by(Submission.meeting_id)
        ).all()
    }
    found = [
        m
        for m in session.scalars(select(Meeting)).all()
        if m.status == MeetingStatus.ENDED or m.id in ready
    ]
    found.sort(key=lambda m: (_when(m), m.id), reverse=True)
    return [
        {
            "id": m.id,
            "slug": m.slug,
            "title": m.title,
            "status": m.status,
            "date": _when(m).date().isoformat(),
            "datetime": _when(m).isoformat(),
            "recorded": m.id in ready,
            "duration": duration_label(ready[m.id].duration_s) if m.id in ready else "",
            "answered": int(answered.get(m.id, 0)),
            "hits": [],
            "more_hits": 0,
        }
        for m in found
    ]


def python_rank(words: list[str], sub: Submission) -> float:
    """The SQLite path's ranking: each found word counts by where it is, with the weights
    ts_rank gives the same fields on PostgreSQL (question, then name, then neighbourhood)."""
    fields = (
        (sub.display_text, WEIGHTS["text"]),
        (sub.author_name, WEIGHTS["author"]),
        (sub.neighborhood, WEIGHTS["neighborhood"]),
    )
    return sum(
        weight * sum(fold(text).count(word) for word in words) for text, weight in fields if text
    )


def matching_questions(
    session: Session, *, words: list[str], meeting_ids: list[int]
) -> list[tuple[Submission, float]]:
    """The public questions of these meetings holding every word, each with its rank.

    PostgreSQL finds them through migration 0009's full-text index; SQLite reads them all and
    matches in Python (any part of a word, not only its start).
    """
    if uses_full_text(session):
        return ranked_matches(session, words=words, meeting_ids=meeting_ids)
    subs = session.scalars(
        select(Submission)
        .where(Submission.meeting_id.in_(meeting_ids), Submission.status.in_(PUBLIC_STATUSES))
        .order_by(Submission.id)
    ).all()
    return [
        (sub, python_rank(words, sub))
        for sub in subs
        if matches(words, sub.display_text, sub.author_name, sub.neighborhood)
    ]


def search_archive(session: Session, *, words: list[str], latency_s: float) -> list[dict[str, Any]]:
    """The archived meetings with a public question holding every word, and those questions,
    each with the moment it was first on screen; the best match first, in each meeting and
    among meetings (ties: the earlier moment, the newer meeting)."""
    listed = {m["id"]: m for m in archived_meetings(session)}
    if not listed or not words:
        return []
    hits: dict[int, list[tuple[Submission, float]]] = {}
    for sub, rank in matching_questions(session, words=words, meeting_ids=list(listed)):
        hits.setdefault(sub.meeting_id, []).append((sub, rank))
    results = []
    best: dict[int, float] = {}
    for meeting_id, meeting in listed.items():
        found = hits.get(meeting_id)
        if not found:
            continue
        first_seen: dict[int, float | None] = {}
        for entry in archive(session, slug=meeting["slug"], latency_s=latency_s)["timeline"]:
            first_seen.setdefault(entry["submission"]["id"], entry["offset_s"])
        found.sort(
            key=lambda hit: (
                -hit[1],
                first_seen.get(hit[0].id) is None,
                first_seen.get(hit[0].id) or 0,
                hit[0].id,
            )
        )
        best[meeting_id] = found[0][1]
        meeting["hits"] = [
            {
                "id": sub.id,
                "text": highlight(sub.display_text, words),
                "author": highlight(sub.author_name, words),
                "neighborhood": sub.neighborhood,
                "verified": sub.verified,
                "answered": sub.status == Status.ANSWERED,
                "label": clock(first_seen.get(sub.id)),
                "t": (
                    time_param(offset)
                    if (offset := first_seen.get(sub.id)) is not None and meeting["recorded"]
                    else None
                ),
            }
            for sub, _rank in found[:MAX_HITS_PER_MEETING]
        ]
        meeting["more_hits"] = max(0, len(found) - MAX_HITS_PER_MEETING)
        results.append(meeting)
    # Stable: meetings that match equally well stay newest first.
    results.sort(key=lambda m: -best[m["id"]])
    return results


@router.get("/archive", response_class=HTMLResponse)
async def archive_list(request: Request, q: str = "") -> Response:
    council = council_of(request)
    query = q.strip()[:MAX_QUERY]
    words = query_words(query)
    if words:
        found = await council.read(
            search_archive, words=words, latency_s=council.settings.recording_latency_seconds
        )
    else:
        found = await council.read(archived_meetings)
    return render(
        request,
        "archive.html",
        meetings=found,
        query=query,
        searching=bool(words),
        actor=await current_actor(request),
    )


# -- the replay --------------------------------------------------------------------------------


def replay_context(
    session: Session, *, slug: str, latency_s: float, start: float | None, question: int | None
) -> dict[str, Any]:
    data = archive(session, slug=slug, latency_s=latency_s)
    meeting = get_meeting(session, slug=slug)
    latest = latest_recording(session, slug=slug)
    recording = data["recording"]
    duration = recording["duration_s"] if recording else None
    entries = []
    anchored: set[int] = set()
    for entry in data["timeline"]:
        offset, until = entry["offset_s"], entry["hidden_offset_s"]
        playable = recording is not None and offset is not None
        sub_id = entry["submission"]["id"]
        entries.append(
            {
                **entry,
                "q": entry["submission"],
                # The first moment of each question is its #q-ID anchor.
                "anchor": f"q-{sub_id}" if sub_id not in anchored else None,
                "label": clock(offset) if playable else "",
                "t": time_param(offset) if playable else None,
                "end": until if until is not None else duration,
            }
        )
        anchored.add(sub_id)
    if question is not None and start is None and recording is not None:
        start = next(
            (e["offset_s"] for e in entries if e["q"]["id"] == question and e["t"] is not None),
            None,
        )
    if start is not None and duration is not None:
        start = min(start, duration)
    current = None
    if start is not None and recording is not None:
        for index, entry in enumerate(entries):
            if entry["t"] is None or entry["offset_s"] > start:
                continue
            if entry["end"] is None or start < entry["end"]:
                current = index
    chapters = [
        {
            **chapter,
            "label": clock(chapter["start_s"]) if recording else "",
            "t": (
                time_param(chapter["start_s"])
                if recording and chapter["start_s"] is not None
                else None
            ),
        }
        for chapter in data["chapters"]
    ]
    status = None
    if recording is None and latest is not None:
        if latest.desired == "recording" or latest.status in ACTIVE:
            status = "recording"
        elif latest.status == "processing":
            status = "processing"
    return {
        "meeting": data["meeting"],
        "date": meeting.started_at or meeting.starts_at,
        "recording": recording,
        "recording_status": status,
        "entries": entries,
        "chapters": chapters,
        "start": start,
        "start_param": time_param(start) if start is not None else None,
        "current": current,
        "question": question,
        "shown_count": len(anchored),
        "answered_count": sum(
            1
            for sub in {e["q"]["id"]: e["q"] for e in entries}.values()
            if sub["status"] == Status.ANSWERED
        ),
    }


@router.get("/archive/{slug}", response_class=HTMLResponse)
async def replay_page(
    request: Request, slug: str, t: str | None = None, q: str | None = None
) -> Response:
    council = council_of(request)
    question = int(q) if q and q.isdigit() and len(q) < 12 else None
    context = await council.read(
        replay_context,
        slug=slug,
        latency_s=council.settings.recording_latency_seconds,
        start=parse_time(t),
        question=question,
    )
    return render(request, "replay.html", actor=await current_actor(request), **context)
