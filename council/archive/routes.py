"""Public archive routes: the data, the video with Range support, chapters and questions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response

from council.archive.recordings import latest_recording
from council.archive.replay import archive, chapters_vtt, questions_csv, ready_recording
from council.auth import council_of
from council.errors import NotFound
from council.i18n import _
from council.meetings import get_meeting
from council.models import Recording

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


__all__ = ["latest_recording", "router"]
