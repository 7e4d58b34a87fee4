"""Makes recordings happen: the server-side half of ``council record start|stop``.

Every second it compares what is wanted (recordings in the database) with the recorders
it runs: it starts the ones asked for, stops the ones asked to stop, and after a stop
builds the MP4 (no re-encoding) and the poster. Moderators see the recorder's state,
elapsed time, bitrate, parts and disk space live. A recording that was running when
Council itself stopped is continued into the same folder as a new part.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from council.archive import media
from council.archive.ffmpeg_bin import RecorderUnavailable, describe
from council.archive.recorder import Part, Recorder, RecorderConfig, RecordingResult, recover
from council.archive.recordings import (
    ACTIVE,
    follow_meetings,
    update_recording,
    wanted_recordings,
)
from council.leases import Lease
from council.models import Recording, utcnow
from council.services import Council
from council.tasks import cancel_and_wait

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 1.0
POSTER_AT_SECONDS = 30.0


def parts_json(parts: list[Part], total_s: float) -> list[dict[str, Any]]:
    """The parts as the replay's timeline needs them: anchor and length in the MP4."""
    out = []
    for number, part in enumerate(parts):
        start = part.offset_s
        following = parts[number + 1].offset_s if number + 1 < len(parts) else total_s
        duration = (following - start) if start is not None and following is not None else None
        out.append(
            {
                "index": part.index,
                "anchor": part.anchor_wall.isoformat() if part.anchor_wall else None,
                "started": part.started_wall.isoformat(),
                "ended": part.ended_wall.isoformat() if part.ended_wall else None,
                "offset_s": start,
                "duration_s": round(duration if duration is not None else part.media_s, 3),
                "gap_before_s": part.gap_before_s,
            }
        )
    return out


class RecorderManager:
    def __init__(self, council: Council, lease: Lease | None = None) -> None:
        self.council = council
        # Several workers: only the holder of the "recorder" lease runs ffmpeg.
        self.lease = lease
        self.recorders: dict[int, tuple[Recorder, int]] = {}  # recording id -> (recorder, meeting)
        self._task: asyncio.Task[None] | None = None
        self._finishing: set[int] = set()
        self._jobs: set[asyncio.Task[None]] = set()
        self._described = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="recorder-manager")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        # Council is stopping, not the meeting: stop ffmpeg cleanly; the recording is
        # still wanted and continues as a new part when Council comes back.
        for recorder, _meeting in list(self.recorders.values()):
            with contextlib.suppress(Exception):
                await recorder.stop()
        self.recorders.clear()
        for job in list(self._jobs):
            job.cancel()

    async def _run(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:
                log.exception("could not reconcile recordings; trying again")
            await asyncio.sleep(RECONCILE_SECONDS)

    async def reconcile(self) -> None:
        if self.lease is not None and not self.lease.held:
            # Another worker records now; its recover() takes over the folders.
            for recording_id, (recorder, _meeting) in list(self.recorders.items()):
                with contextlib.suppress(Exception):
                    await recorder.stop()
                del self.recorders[recording_id]
            return
        automatic = self.council.settings.record_when_live
        if automatic:
            await self.council.act(follow_meetings, mode=automatic)
        for rec in await self.council.read(wanted_recordings):
            running = rec.id in self.recorders
            if rec.desired == "recording" and not running and rec.status != "failed":
                await self._begin(rec)
            elif (
                rec.desired != "recording"
                and rec.id not in self._finishing
                and (running or rec.status in ACTIVE)
            ):
                self._finishing.add(rec.id)
                job = asyncio.create_task(self._finish(rec), name=f"finish-recording-{rec.id}")
                self._jobs.add(job)
                job.add_done_callback(self._jobs.discard)
        for recording_id, (recorder, meeting_id) in list(self.recorders.items()):
            await self._report(recording_id, meeting_id, recorder)

    def _folder(self, rec: Recording) -> Path:
        return self.council.settings.data_dir / rec.folder

    def _config(self, rec: Recording) -> RecorderConfig:
        settings = self.council.settings
        srt = rec.mode == "srt"
        return RecorderConfig(
            folder=self._folder(rec),
            mode=rec.mode,  # type: ignore[arg-type]
            listen_host=settings.rtmp_host,
            listen_port=settings.srt_port if srt else settings.rtmp_port,
            srt_passphrase=settings.srt_passphrase if srt else None,
            pull_url=rec.pull_url,
            public_host=settings.ingest_public_host,
            low_disk_bytes=int(settings.recording_low_disk_gb * 1024**3),
        )

    async def _begin(self, rec: Recording) -> None:
        if not self._described:
            self._described = True
            log.info("%s", await asyncio.to_thread(describe))
        try:
            config = self._config(rec)
            if config.folder.exists():
                # Council stopped while recording: an ffmpeg that outlived it may still hold
                # the port. Stop it and repair the playlist; this recorder then continues the
                # same recording as a new part.
                await recover(config.folder)
            recorder = Recorder(config)
            await recorder.start()
        except (RecorderUnavailable, ValueError, OSError) as exc:
            await self._update(rec.id, rec.meeting_id, status="failed", error=str(exc))
            return
        self.recorders[rec.id] = (recorder, rec.meeting_id)
        await self._update(
            rec.id,
            rec.meeting_id,
            status=recorder.state,
            ingest_url=recorder.ingest_url,
            error=None,
        )

    async def _report(self, recording_id: int, meeting_id: int, recorder: Recorder) -> None:
        status = recorder.status()
        self.council.hub.notify(
            meeting_id,
            "moderation",
            {
                "type": "recorder",
                "recorder": {
                    "recording_id": recording_id,
                    "state": status.state,
                    "ingest_url": status.ingest_url,
                    "elapsed_s": round(status.elapsed_s, 1),
                    "recorded_s": round(status.recorded_s, 1),
                    "bitrate_kbps": status.bitrate_kbps,
                    "parts": len(status.parts),
                    "gaps_s": round(sum(p.gap_before_s or 0 for p in status.parts), 1),
                    "disk_free_bytes": status.free_disk_bytes,
                    "low_disk": status.low_disk,
                    "error": status.last_error,
                },
            },
        )
        current = await self.council.read(_status_of, recording_id=recording_id)
        if current != status.state and current in ACTIVE:
            await self._update(
                recording_id,
                meeting_id,
                status=status.state,
                error=status.last_error,
                parts=parts_json(status.parts, status.recorded_s),
            )

    async def _finish(self, rec: Recording) -> None:
        folder = self._folder(rec)
        try:
            await self._update(rec.id, rec.meeting_id, status="stopping")
            entry = self.recorders.pop(rec.id, None)
            result: RecordingResult | None
            if entry is not None:
                result = await entry[0].stop()
            else:
                result = await recover(folder)  # Council died while it was recording
            if result is None or not result.parts or result.segments == 0:
                await self._update(
                    rec.id,
                    rec.meeting_id,
                    status="failed",
                    stopped_at=utcnow(),
                    error="Nothing was recorded: no encoder ever sent a stream.",
                )
                return
            await self._update(rec.id, rec.meeting_id, status="processing", stopped_at=utcnow())
            mp4, jpg = folder / "meeting.mp4", folder / "poster.jpg"
            duration = await media.remux(
                result.playlist, mp4, progress=self._progress_reporter(rec)
            )
            await media.poster(mp4, jpg, min(POSTER_AT_SECONDS, duration / 2))
            data_dir = self.council.settings.data_dir
            await self._update(
                rec.id,
                rec.meeting_id,
                status="ready",
                duration_s=round(duration, 3),
                mp4=str(mp4.relative_to(data_dir)),
                poster=str(jpg.relative_to(data_dir)),
                parts=parts_json(result.parts, duration),
                error=result.last_error,
            )
        except Exception as exc:
            log.exception("finishing recording %s failed", rec.id)
            await self._update(rec.id, rec.meeting_id, status="failed", error=str(exc))
        finally:
            self._finishing.discard(rec.id)

    def _progress_reporter(self, rec: Recording) -> Callable[[float], None]:
        """Store the MP4's progress about once a second, for the CLI's and the page's bars."""
        last = [0.0]

        def report(fraction: float) -> None:
            now = time.monotonic()
            if now - last[0] >= 1.0 or fraction >= 1.0:
                last[0] = now
                job = asyncio.ensure_future(
                    self._update(rec.id, rec.meeting_id, progress=round(fraction, 3))
                )
                self._jobs.add(job)
                job.add_done_callback(self._jobs.discard)

        return report

    async def _update(self, recording_id: int, meeting_id: int, **fields: Any) -> None:
        await self.council.act(update_recording, recording_id=recording_id, **fields)


def _status_of(session: Any, *, recording_id: int) -> str | None:
    rec = session.get(Recording, recording_id)
    return rec.status if rec else None
