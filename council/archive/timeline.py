"""Mapping moments of the meeting onto the recording's media time.

Each recorded part has an *anchor* A: the wall-clock time of its media time 0 as
measured from ffmpeg's progress reports. The picture reaches ffmpeg a little after it
was filmed (encoder and network), so the true start of a part is A - L, where L is a
latency constant calibrated once by filming a clock on the chamber screen
(shared/notes/ffmpeg.md, section 4; about 0.6 s with a local encoder). The MP4 joins
the parts end to end, so a moment T in part k lands at

    offset = (durations of parts before k) + (T - (A_k - L))

A moment in a gap between parts (the encoder was away) lands at the start of the next
part; one before the recording at 0; one after it at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Part:
    anchor: datetime
    duration_s: float


@dataclass(frozen=True)
class Moment:
    """A question's time on screen, in wall-clock time."""

    submission: dict[str, Any]
    shown_at: datetime
    hidden_at: datetime | None
    answered: bool


def media_offset(parts: list[Part], moment: datetime, latency_s: float) -> float | None:
    """Seconds into the MP4 at which ``moment`` happened, or None without any part."""
    if not parts:
        return None
    before = 0.0
    for part in parts:
        start = part.anchor.timestamp() - latency_s
        into = moment.timestamp() - start
        if into < 0:
            return round(before, 3)  # before this part: in a gap, or before the recording
        if into <= part.duration_s:
            return round(before + into, 3)
        before += part.duration_s
    return round(before, 3)


def moments_from_events(events: list[dict[str, Any]]) -> list[Moment]:
    """Each time a question was on screen, from the event log (oldest first).

    ``events`` are ``{"type", "at": datetime, "submissions": [...]}``; a ``shown`` event's
    first submission is the one shown, and any other in it is the one it replaced.
    """
    open_: dict[int, tuple[dict[str, Any], datetime]] = {}
    moments: list[Moment] = []

    def close(sub_id: int, at: datetime, answered: bool) -> None:
        shown = open_.pop(sub_id, None)
        if shown is not None:
            moments.append(Moment(shown[0], shown[1], at, answered))

    for event in events:
        subs = event.get("submissions") or []
        if not subs:
            continue
        kind, at = event["type"], event["at"]
        if kind == "shown":
            for replaced in subs[1:]:
                close(replaced["id"], at, False)
            open_[subs[0]["id"]] = (subs[0], at)
        elif kind in ("hidden", "restored", "merged"):
            close(subs[0]["id"], at, False)
        elif kind == "answered":
            close(subs[0]["id"], at, True)
    for sub, at in open_.values():
        moments.append(Moment(sub, at, None, False))
    return sorted(moments, key=lambda m: m.shown_at)


def timeline(parts: list[Part], moments: list[Moment], latency_s: float) -> list[dict[str, Any]]:
    return [
        {
            "submission": m.submission,
            "shown_at": m.shown_at.isoformat().replace("+00:00", "Z"),
            "offset_s": media_offset(parts, m.shown_at, latency_s),
            "hidden_offset_s": (
                media_offset(parts, m.hidden_at, latency_s) if m.hidden_at else None
            ),
            "answered": m.answered,
        }
        for m in moments
    ]
