"""Public archive routes: the data, the video with Range support, chapters and questions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from council.archive.replay import archive, chapters_vtt, questions_csv, ready_recording
from council.auth import council_of
from council.errors import NotFound
from council.i18n import _
from council.meetings import get_meeting
from council.models import Recording

LIVE_STATUSES = ("waiting", "recording", "restarting")

router = APIRouter()


async def archive_data(request: Request, slug: str) -> dict[str, Any]:
    council = council_of(request)
    return await council.read(
        archive, slug=slug, latency_s=council.settings.recording_latency_seconds
    )


@router.get("/api/meetings/{slug}/archive")
async def get_archive(slug: str, request: Request) -> dict[str, Any]:
    """The recording, each question at the moments it was on screen, and agenda chapters."""
    return await archive_data(request, slug)


@router.get("/archive/{slug}/chapters.vtt", include_in_schema=False)
async def get_chapters(slug: str, request: Request) -> Response:
    text = chapters_vtt(await archive_data(request, slug))
    return PlainTextResponse(text, media_type="text/vtt; charset=utf-8")


@router.get("/archive/{slug}/questions.csv", include_in_schema=False)
async def get_questions_csv(slug: str, request: Request) -> Response:
    text = questions_csv(await archive_data(request, slug))
    return PlainTextResponse(
        "\ufeff" + text,  # a BOM, so spreadsheet programs read the accents right
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-questions.csv"'},
    )


@router.get("/archive/{slug}/questions.json", include_in_schema=False)
async def get_questions_json(slug: str, request: Request) -> dict[str, Any]:
    return await archive_data(request, slug)


def _recorded_file(request: Request, rec: Recording | None, name: str | None) -> Path:
    if rec is None or not name:
        raise NotFound(_("This meeting has no recording to show yet."))
    data_dir = council_of(request).settings.data_dir.resolve()
    path = (data_dir / name).resolve()
    if not path.is_relative_to(data_dir) or not path.is_file():
        raise NotFound(_("The recording's file is missing from the archive folder."))
    return path


async def _ready(request: Request, slug: str) -> Recording | None:
    def find(session: Any) -> Recording | None:
        return ready_recording(session, meeting_id=get_meeting(session, slug=slug).id)

    return await council_of(request).read(find)


@router.get("/archive/{slug}/video.mp4", include_in_schema=False)
async def get_video(slug: str, request: Request) -> Response:
    rec = await _ready(request, slug)
    path = _recorded_file(request, rec, rec.mp4 if rec else None)
    # FileResponse answers Range requests (206), which seeking in a browser needs.
    return FileResponse(
        path, media_type="video/mp4", filename=f"{slug}.mp4", content_disposition_type="inline"
    )


@router.get("/archive/{slug}/poster.jpg", include_in_schema=False)
async def get_poster(slug: str, request: Request) -> Response:
    rec = await _ready(request, slug)
    return FileResponse(
        _recorded_file(request, rec, rec.poster if rec else None), media_type="image/jpeg"
    )


# Only what the recorder writes: no other name, and nothing outside the recording's folder.
LIVE_FILE = re.compile(r"^(index\.m3u8|seg_\d{5,9}\.ts)$")


async def _live_folder(request: Request, slug: str) -> Path:
    def find(session: Session) -> Recording | None:
        meeting = get_meeting(session, slug=slug)
        return session.scalar(
            select(Recording)
            .where(Recording.meeting_id == meeting.id, Recording.status.in_(LIVE_STATUSES))
            .order_by(Recording.id.desc())
        )

    rec = await council_of(request).read(find)
    if rec is None:
        raise NotFound(_("This meeting is not being streamed right now."))
    return council_of(request).settings.data_dir / rec.folder


@router.get("/live/{slug}/{name}", include_in_schema=False)
async def get_live(slug: str, name: str, request: Request) -> Response:
    """The live recording as HLS, from its first segment on (so viewers can rewind)."""
    if not LIVE_FILE.match(name):
        raise NotFound(_("There is nothing at this address."))
    path = await _live_folder(request, slug) / name
    if not path.is_file():
        raise NotFound(_("The live stream has not started yet."))
    if name.endswith(".m3u8"):
        return FileResponse(
            path, media_type="application/vnd.apple.mpegurl", headers={"Cache-Control": "no-cache"}
        )
    return FileResponse(
        path,
        media_type="video/mp2t",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
