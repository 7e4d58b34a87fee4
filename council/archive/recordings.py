"""Recordings as the rest of Council sees them: asked for, stopped, and their state.

The recorder itself (council/archive/recorder.py) runs inside the server; these domain
functions only record what is wanted and what happened, so any process (the API, the
CLI, a second worker) can ask, and the server's manager makes it so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from council.errors import Conflict, InvalidInput
from council.events import record
from council.i18n import _
from council.meetings import get_meeting
from council.models import Meeting, Recording, utcnow
from council.views import iso

MODES = ("rtmp", "srt", "pull")
PULL_SCHEMES = ("rtmp", "rtmps", "srt", "http", "https")
ACTIVE = ("starting", "waiting", "recording", "restarting", "stopping")


def recording_view(rec: Recording) -> dict[str, Any]:
    return {
        "id": rec.id,
        "desired": rec.desired,
        "status": rec.status,
        "mode": rec.mode,
        "ingest_url": rec.ingest_url,
        "pull_url": rec.pull_url,
        "parts": rec.parts or [],
        "started_at": iso(rec.started_at),
        "stopped_at": iso(rec.stopped_at),
        "duration_s": rec.duration_s,
        "progress": rec.progress,
        "error": rec.error,
    }


def _current(session: Session, meeting: Meeting) -> Recording | None:
    return session.scalar(
        select(Recording)
        .where(Recording.meeting_id == meeting.id, Recording.desired == "recording")
        .order_by(Recording.id.desc())
    )


def latest_recording(session: Session, *, slug: str) -> Recording | None:
    meeting = get_meeting(session, slug=slug)
    return session.scalar(
        select(Recording).where(Recording.meeting_id == meeting.id).order_by(Recording.id.desc())
    )


def _announce(session: Session, meeting: Meeting, rec: Recording, actor: str | None) -> None:
    # Moderators only: the public page has nothing to do with how the video is captured.
    session.flush()
    record(
        session,
        meeting=meeting,
        type="recording",
        payload={"recording": recording_view(rec)},
        public=None,
        actor=actor,
    )


def start_recording(
    session: Session, *, slug: str, mode: str, url: str | None = None, actor: str | None = None
) -> Recording:
    meeting = get_meeting(session, slug=slug)
    if mode not in MODES:
        raise InvalidInput(
            _("Recording mode must be rtmp, srt or pull, not “{mode}”.").format(mode=mode)
        )
    if mode == "pull":
        scheme = urlsplit(url or "").scheme
        if scheme not in PULL_SCHEMES:
            raise InvalidInput(
                _("To pull a stream, give its address, like rtmp://… srt://… or https://…m3u8.")
            )
    elif url:
        raise InvalidInput(_("An address goes with the pull mode only."))
    if _current(session, meeting) is not None:
        raise Conflict(_("Meeting “{slug}” is already being recorded.").format(slug=slug))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    rec = Recording(
        meeting_id=meeting.id,
        desired="recording",
        status="starting",
        mode=mode,
        pull_url=url if mode == "pull" else None,
        folder=f"recordings/{meeting.slug}/{stamp}",
        parts=[],
        requested_by=actor,
    )
    session.add(rec)
    _announce(session, meeting, rec, actor)
    return rec


def stop_recording(session: Session, *, slug: str, actor: str | None = None) -> Recording:
    meeting = get_meeting(session, slug=slug)
    rec = _current(session, meeting)
    if rec is None:
        raise Conflict(_("Meeting “{slug}” is not being recorded.").format(slug=slug))
    rec.desired = "stopped"
    _announce(session, meeting, rec, actor)
    return rec


def update_recording(session: Session, *, recording_id: int, **fields: Any) -> Recording:
    """The manager reports what the recorder did; the event tells moderators."""
    rec = session.get(Recording, recording_id)
    assert rec is not None
    for name, value in fields.items():
        setattr(rec, name, value)
    if fields.get("status") == "recording" and rec.started_at is None:
        rec.started_at = utcnow()
    meeting = session.get(Meeting, rec.meeting_id)
    assert meeting is not None
    _announce(session, meeting, rec, None)
    return rec


def wanted_recordings(session: Session) -> list[Recording]:
    """What the manager must act on: recordings wanted, and wanted ones it must stop."""
    return list(
        session.scalars(
            select(Recording).where(
                (Recording.desired == "recording") | Recording.status.in_(ACTIVE)
            )
        ).all()
    )


def follow_meetings(session: Session, *, mode: str) -> int:
    """Automatic recording: a meeting that goes live and was never recorded starts being
    recorded; one that ends stops. A recording stopped by hand is not restarted."""
    changed = 0
    meetings = session.scalars(select(Meeting).where(Meeting.status.in_(["live", "ended"]))).all()
    for meeting in meetings:
        recorded = session.scalar(select(Recording.id).where(Recording.meeting_id == meeting.id))
        if meeting.status == "live" and recorded is None:
            start_recording(session, slug=meeting.slug, mode=mode, actor="automatic")
            changed += 1
        elif meeting.status == "ended" and _current(session, meeting) is not None:
            stop_recording(session, slug=meeting.slug, actor="automatic")
            changed += 1
    return changed
