"""After the meeting: the HLS playlist, its remux to one MP4, the duration and a poster.

No ffprobe is bundled with imageio-ffmpeg, so durations come from the playlist (sum of
EXTINF) or from ffmpeg's own "Duration:" banner.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import ffmpeg

from council.archive.ffmpeg_bin import ProgressParser, ProgressReport, find_ffmpeg

ENDLIST = "#EXT-X-ENDLIST"

_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


class MediaError(RuntimeError):
    """ffmpeg could not produce the file; the message ends with ffmpeg's own last words."""


@dataclass(frozen=True)
class Segment:
    name: str
    duration_s: float
    start_s: float  # offset in the whole playlist, which is also the offset in the remuxed MP4
    discontinuity: bool  # a new part (ffmpeg restarted) begins here
    program_date_time: datetime | None


@dataclass(frozen=True)
class Playlist:
    segments: list[Segment]
    ended: bool

    @property
    def duration_s(self) -> float:
        return sum(segment.duration_s for segment in self.segments)

    def offset_of(self, segment_name: str) -> float | None:
        for segment in self.segments:
            if segment.name == segment_name:
                return segment.start_s
        return None


def _parse_pdt(text: str) -> datetime | None:
    # ffmpeg writes "2026-11-24T02:06:28.746+0000"; fromisoformat accepts it on 3.11+.
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def parse_playlist(text: str) -> Playlist:
    segments: list[Segment] = []
    ended = False
    duration: float | None = None
    discontinuity = False
    pdt: datetime | None = None
    start = 0.0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#EXTINF:"):
            try:
                duration = float(line.removeprefix("#EXTINF:").split(",", 1)[0])
            except ValueError:
                duration = 0.0
        elif line == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = _parse_pdt(line.removeprefix("#EXT-X-PROGRAM-DATE-TIME:"))
        elif line == ENDLIST:
            ended = True
        elif not line.startswith("#"):
            length = duration or 0.0
            segments.append(Segment(line, length, start, discontinuity, pdt))
            start += length
            duration, discontinuity, pdt = None, False, None
    return Playlist(segments, ended)


def read_playlist(playlist: Path) -> Playlist:
    return parse_playlist(playlist.read_text(encoding="utf-8", errors="replace"))


def playlist_duration(playlist: Path) -> float:
    """Seconds of media listed in an HLS playlist: the sum of its EXTINF durations."""
    return read_playlist(playlist).duration_s


def ensure_endlist(playlist: Path) -> bool:
    """Marks the playlist finished if it is not (ffmpeg was SIGKILLed). True if repaired.

    Without ENDLIST the playlist looks live: ffmpeg starts at the live edge and keeps
    reloading it, and browsers report an infinite duration.
    """
    text = playlist.read_text(encoding="utf-8", errors="replace")
    if parse_playlist(text).ended:
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    temporary = playlist.with_name(playlist.name + ".repair")
    temporary.write_text(text + ENDLIST + "\n", encoding="utf-8")
    os.replace(temporary, playlist)
    return True


@dataclass(frozen=True)
class _Completed:
    returncode: int
    stderr: str


def _last_words(stderr: str, lines: int = 3) -> str:
    kept = [line.strip() for line in stderr.splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "no output"


async def _run_ffmpeg(
    args: list[str],
    *,
    on_report: Callable[[ProgressReport], None] | None = None,
) -> _Completed:
    """Runs one ffmpeg command to completion without blocking the event loop.

    ``-progress pipe:1`` lines are parsed in a thread and handed to ``on_report`` on the
    loop. stderr goes to a temporary file: the HLS demuxer logs a line per segment, which
    would fill an undrained pipe on a long meeting and freeze ffmpeg. Cancelling the
    caller (for example with ``asyncio.timeout``) kills ffmpeg.
    """
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryFile() as stderr:
        # Popen returns once ffmpeg is exec'd; only the waiting blocks, and it runs in a thread.
        process = subprocess.Popen(  # noqa: S603, ASYNC220 - args built by ffmpeg-python
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
        )

        def drain() -> int:
            parser = ProgressParser()
            assert process.stdout is not None
            with process.stdout:
                for raw in process.stdout:
                    report = parser.feed(raw.decode("utf-8", "replace"))
                    if report is not None and on_report is not None:
                        loop.call_soon_threadsafe(on_report, report)
            return process.wait()

        waiter = asyncio.ensure_future(asyncio.to_thread(drain))
        try:
            returncode = await asyncio.shield(waiter)
        except BaseException:
            # Cancelled: ffmpeg must not outlive the caller's interest.
            process.kill()
            await asyncio.wait([waiter])
            raise
        stderr.seek(0)
        return _Completed(returncode, stderr.read().decode("utf-8", "replace"))


async def _ffmpeg_path(ffmpeg_path: str | None) -> str:
    if ffmpeg_path is not None:
        return ffmpeg_path
    return (await asyncio.to_thread(find_ffmpeg)).path


def _quiet(stream: Any) -> Any:
    return stream.global_args("-hide_banner", "-nostdin", "-nostats", "-loglevel", "info")


def _parse_duration(stderr: str) -> float | None:
    match = _DURATION.search(stderr)
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


async def media_duration(path: Path, *, ffmpeg_path: str | None = None) -> float:
    """The duration of a media file in seconds, as ffmpeg reports it (there is no ffprobe)."""
    exe = await _ffmpeg_path(ffmpeg_path)
    # "-t 0" to the null muxer opens the input, prints its banner and reads nothing more.
    banner = _quiet(ffmpeg.input(str(path)).output("-", f="null", c="copy", t=0))
    completed = await _run_ffmpeg(banner.compile(cmd=exe))
    duration = _parse_duration(completed.stderr)
    if completed.returncode == 0 and duration is not None:
        return duration
    if completed.returncode != 0:
        raise MediaError(f"cannot read {path.name}: {_last_words(completed.stderr)}")
    # The container states no duration ("Duration: N/A"): read it through to the end.
    last: list[float] = [0.0]

    def keep(report: ProgressReport) -> None:
        if report.out_time_s is not None:
            last[0] = max(last[0], report.out_time_s)

    full = _quiet(ffmpeg.input(str(path)).output("-", f="null", c="copy", map="0"))
    completed = await _run_ffmpeg(
        full.global_args("-progress", "pipe:1").compile(cmd=exe), on_report=keep
    )
    if completed.returncode != 0:
        raise MediaError(f"cannot read {path.name}: {_last_words(completed.stderr)}")
    return last[0]


def _partial_name(target: Path) -> Path:
    # Keeps the extension so nothing half-written is ever taken for the finished file.
    return target.with_name(f"{target.stem}.partial{target.suffix}")


async def remux(
    playlist: Path,
    mp4: Path,
    *,
    progress: Callable[[float], None] | None = None,
    ffmpeg_path: str | None = None,
) -> float:
    """Copies a finished HLS recording into one MP4 with faststart; returns its duration (s).

    ``progress`` receives fractions in [0, 1] on the event loop. The MP4 appears under its
    final name only once complete. Parts separated by discontinuities are joined without
    their gaps.
    """
    listed = await asyncio.to_thread(read_playlist, playlist)
    if not listed.ended:
        raise MediaError(
            f"{playlist} is not finished (no {ENDLIST}): stop the recording or recover it first"
        )
    if not listed.segments:
        raise MediaError(f"{playlist} lists no segments: nothing was recorded")
    exe = await _ffmpeg_path(ffmpeg_path)
    total = listed.duration_s
    partial = _partial_name(mp4)
    stream = _quiet(
        ffmpeg.input(str(playlist)).output(str(partial), f="mp4", c="copy", movflags="+faststart")
    )
    args = stream.global_args("-progress", "pipe:1").overwrite_output().compile(cmd=exe)

    def report_progress(report: ProgressReport) -> None:
        if progress is not None and report.out_time_s is not None and total > 0:
            progress(min(1.0, max(0.0, report.out_time_s / total)))

    try:
        completed = await _run_ffmpeg(args, on_report=report_progress)
        if completed.returncode != 0 or not partial.exists():
            raise MediaError(f"remux of {playlist} failed: {_last_words(completed.stderr)}")
        os.replace(partial, mp4)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    if progress is not None:
        progress(1.0)
    return await media_duration(mp4, ffmpeg_path=exe)


async def poster(
    mp4: Path, jpg: Path, at_seconds: float, *, ffmpeg_path: str | None = None
) -> Path:
    """Writes one frame near ``at_seconds`` as a JPEG 640 pixels wide; returns ``jpg``.

    ``at_seconds`` is clamped into the video, since seeking past the end yields no frame.
    """
    exe = await _ffmpeg_path(ffmpeg_path)
    duration = await media_duration(mp4, ffmpeg_path=exe)
    at = min(max(0.0, at_seconds), max(0.0, duration - 1.0))
    partial = _partial_name(jpg)
    stream = _quiet(
        ffmpeg.input(str(mp4), ss=f"{at:.3f}").output(
            str(partial), vf="scale=640:-2", update=1, **{"frames:v": 1, "q:v": 3}
        )
    )
    try:
        completed = await _run_ffmpeg(stream.overwrite_output().compile(cmd=exe))
        if completed.returncode != 0 or not partial.exists() or partial.stat().st_size == 0:
            raise MediaError(f"no poster from {mp4.name}: {_last_words(completed.stderr)}")
        os.replace(partial, jpg)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return jpg
