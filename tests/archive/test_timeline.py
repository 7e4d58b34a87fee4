"""Moments of the meeting onto media time, across parts and gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from council.archive.timeline import Moment, Part, media_offset, moments_from_events, timeline

T0 = datetime(2026, 11, 24, 19, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


PARTS = [Part(anchor=at(0.5), duration_s=60.0), Part(anchor=at(100.5), duration_s=30.0)]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (at(10), 10.0),  # part 1: 10 s after its true start (anchor 0.5 - latency 0.5)
        (at(-5), 0.0),  # before the recording
        (at(80), 60.0),  # in the gap: where part 2 begins in the MP4
        (at(110), 70.0),  # part 2: 60 s of part 1, then 10 s into part 2
        (at(500), 90.0),  # after the end
    ],
)
def test_moments_land_on_the_joined_media(moment: datetime, expected: float) -> None:
    assert media_offset(PARTS, moment, latency_s=0.5) == expected


def test_no_recording_no_offset() -> None:
    assert media_offset([], at(1), 0.0) is None


def sub(number: int) -> dict[str, object]:
    return {"id": number, "text": f"q{number}"}


def test_every_stretch_on_screen_becomes_a_moment() -> None:
    events = [
        {"type": "shown", "at": at(10), "submissions": [sub(1)]},
        {"type": "shown", "at": at(20), "submissions": [sub(2), sub(1)]},  # 2 replaces 1
        {"type": "answered", "at": at(30), "submissions": [sub(2)]},
        {"type": "approved", "at": at(31), "submissions": [sub(3)]},
        {"type": "shown", "at": at(40), "submissions": [sub(1)]},  # shown again
        {"type": "hidden", "at": at(45), "submissions": [sub(1)]},
        {"type": "shown", "at": at(50), "submissions": [sub(3)]},  # still on at the end
    ]
    moments = moments_from_events(events)
    assert [(m.submission["id"], m.shown_at, m.hidden_at, m.answered) for m in moments] == [
        (1, at(10), at(20), False),
        (2, at(20), at(30), True),
        (1, at(40), at(45), False),
        (3, at(50), None, False),
    ]


def test_timeline_entries_carry_both_offsets() -> None:
    [entry] = timeline(PARTS, [Moment(sub(7), at(110), at(115), True)], latency_s=0.5)
    assert entry == {
        "submission": sub(7),
        "shown_at": "2026-11-24T19:01:50Z",
        "offset_s": 70.0,
        "hidden_offset_s": 75.0,
        "answered": True,
    }
