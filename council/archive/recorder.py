"""The supervised recorder: ffmpeg copies the meeting's stream into an HLS event playlist.

One ``Recorder`` records one meeting into one folder::

    folder/index.m3u8     the playlist (TS segments, program date time, one part per restart)
    folder/seg_00000.ts   the segments
    folder/ffmpeg.log     ffmpeg's stderr, with a header line per ffmpeg process
    folder/parts.json     the parts and their anchors, kept current for recover()
    folder/ffmpeg.pid     the running ffmpeg, so recover() can stop an orphan

ffmpeg's listeners serve a single publisher session and then exit, so the supervisor
respawns ffmpeg whenever it exits while the recording is on; every respawn that receives
media becomes a new part, appended to the same playlist after an ``#EXT-X-DISCONTINUITY``.

Each part's *anchor* is the wall-clock time of its media time 0, measured as the minimum
over ffmpeg's ``-progress`` reports of (wall clock at the report - out_time). A moment T
of the meeting (wall clock, UTC) inside part p is at ``p.offset_s + (T - p.anchor_wall)``
in the playlist and in the remuxed MP4, minus the encoder and transport latency, which
only a calibration against a filmed clock can tell (see the ffmpeg notes, section 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import ffmpeg

from council.archive.ffmpeg_bin import ProgressParser, ProgressReport, find_ffmpeg
from council.archive.media import Playlist, ensure_endlist, parse_playlist, read_playlist

logger = logging.getLogger(__name__)

Mode = Literal["rtmp", "srt", "pull"]
State = Literal["waiting", "recording", "restarting", "stopped", "failed"]

PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%05d.ts"
LOG = "ffmpeg.log"
PARTS = "parts.json"
PID = "ffmpeg.pid"

HLS_FLAGS = "program_date_time+independent_segments+temp_file+append_list"

_TICK_SECONDS = 0.5
_DISK_EVERY_SECONDS = 1.0
_BITRATE_SEGMENTS = 2
# A listener that dies this fast never got to listen (port taken, bad address).
_QUICK_EXIT_SECONDS = 1.0
_MAX_QUICK_EXITS = 5
_MAX_BACKOFF_SECONDS = 10.0


@dataclass
class RecorderConfig:
    folder: Path
    mode: Mode
    listen_host: str = "127.0.0.1"
    listen_port: int = 1935
    srt_passphrase: str | None = None
    pull_url: str | None = None
    hls_time: int = 4
    rw_timeout_us: int = 5_000_000
    stall_seconds: float = 15.0
    stop_grace_seconds: float = 5
    kill_after_seconds: float = 10
    # The host encoders should use, when the listener binds a wildcard or internal address.
    public_host: str | None = None
    rtmp_path: str = "live/council"
    low_disk_bytes: int = 5 * 1024**3
    stats_period: float = 0.5
    # None: the system's ffmpeg, else imageio-ffmpeg's (see ffmpeg_bin.find_ffmpeg).
    ffmpeg_path: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("rtmp", "srt", "pull"):
            raise ValueError(f"unknown recording mode {self.mode!r}: use rtmp, srt or pull")
        if self.mode == "pull" and not self.pull_url:
            raise ValueError("pull mode needs the URL of the stream to record")
        if self.mode != "pull" and not 0 < self.listen_port < 65536:
            raise ValueError(f"listen port {self.listen_port} is not a TCP/UDP port")
        if self.srt_passphrase is not None and not 10 <= len(self.srt_passphrase) <= 79:
            # libsrt refuses other lengths, and ffmpeg would only say so in its log.
            raise ValueError("the SRT passphrase must be 10 to 79 characters long")
        if self.kill_after_seconds < self.stop_grace_seconds:
            raise ValueError("kill_after_seconds must not be shorter than stop_grace_seconds")

    @property
    def playlist(self) -> Path:
        return self.folder / PLAYLIST

    def ingest_url(self) -> str:
        """What to paste into OBS or the encoder (the pulled URL in pull mode)."""
        if self.mode == "pull":
            assert self.pull_url is not None
            return self.pull_url
        host = self.public_host or self.listen_host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        if self.mode == "rtmp":
            return f"rtmp://{host}:{self.listen_port}/{self.rtmp_path}"
        url = f"srt://{host}:{self.listen_port}"
        if self.srt_passphrase:
            url += "?passphrase=" + quote(self.srt_passphrase, safe="")
        return url


def build_command(config: RecorderConfig, ffmpeg_path: str) -> list[str]:
    """The ffmpeg command of one part, built with ffmpeg-python."""
    folder = config.folder.resolve()
    options: dict[str, Any] = {"rw_timeout": config.rw_timeout_us}
    host = config.listen_host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if config.mode == "rtmp":
        url = f"rtmp://{host}:{config.listen_port}/{config.rtmp_path}"
        options["listen"] = 1
    elif config.mode == "srt":
        url = f"srt://{host}:{config.listen_port}"
        # As options rather than URL query, so the passphrase stays out of ffmpeg's log.
        options["mode"] = "listener"
        if config.srt_passphrase:
            options["passphrase"] = config.srt_passphrase
    else:
        assert config.pull_url is not None
        url = config.pull_url
        if urlsplit(url).scheme in ("http", "https"):
            options.update(reconnect=1, reconnect_streamed=1, reconnect_on_network_error=1)
    stream = (
        ffmpeg.input(url, **options)
        .output(
            str(folder / PLAYLIST),
            f="hls",
            c="copy",
            hls_time=config.hls_time,
            hls_playlist_type="event",
            hls_segment_type="mpegts",
            hls_flags=HLS_FLAGS,
            hls_segment_filename=str(folder / SEGMENT_PATTERN),
        )
        .global_args("-hide_banner", "-nostats", "-loglevel", "info")
        .global_args("-progress", "pipe:1", "-stats_period", f"{config.stats_period:g}")
        # The playlist of an earlier part exists: append_list continues it, and without -y
        # ffmpeg would ask on stdin whether to overwrite it.
        .overwrite_output()
    )
    args: list[str] = stream.compile(cmd=ffmpeg_path)
    return args


def _redacted(args: list[str], secret: str | None) -> str:
    text = " ".join(args)
    return text.replace(secret, "***") if secret else text


@dataclass
class Part:
    """A stretch of continuous media: one ffmpeg process that received a publisher."""

    index: int
    started_wall: datetime  # when ffmpeg started writing this part
    anchor_wall: datetime | None  # wall clock of this part's media time 0
    first_segment: str | None
    ended_wall: datetime | None = None
    # Wall-clock time between the end of the previous part's media and this anchor.
    gap_before_s: float | None = None
    media_s: float = 0.0  # media written, per ffmpeg's progress reports
    offset_s: float | None = None  # where this part starts in the playlist and the MP4

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("started_wall", "anchor_wall", "ended_wall"):
            value = data[key]
            data[key] = None if value is None else value.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Part:
        def when(key: str) -> datetime | None:
            value = data.get(key)
            return None if value is None else datetime.fromisoformat(value)

        started = when("started_wall")
        assert started is not None
        return cls(
            index=int(data["index"]),
            started_wall=started,
            anchor_wall=when("anchor_wall"),
            first_segment=data.get("first_segment"),
            ended_wall=when("ended_wall"),
            gap_before_s=data.get("gap_before_s"),
            media_s=float(data.get("media_s") or 0.0),
            offset_s=data.get("offset_s"),
        )


@dataclass(frozen=True)
class RecorderStatus:
    state: State
    ingest_url: str
    parts: list[Part]
    elapsed_s: float  # since start(), gaps included
    recorded_s: float  # media in all parts
    bitrate_kbps: float | None
    last_error: str | None
    bytes_on_disk: int
    free_disk_bytes: int | None
    low_disk: bool
    restarts: int  # ffmpeg processes started after the first


@dataclass(frozen=True)
class RecordingResult:
    folder: Path
    playlist: Path
    parts: list[Part]
    duration_s: float  # sum of the playlist's EXTINF
    segments: int
    repaired: bool  # ENDLIST had to be appended (ffmpeg was killed)
    state: State
    last_error: str | None = None


def _wall(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Run:
    """One ffmpeg process. The reader thread writes the progress fields under ``lock``."""

    process: subprocess.Popen[bytes]
    exited: asyncio.Future[int]
    spawned_mono: float
    segments_before: int
    log_offset: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    first_report_wall: float | None = None
    anchor: float | None = None
    out_time_s: float = 0.0
    last_advance_mono: float = 0.0
    bitrate_kbps: float | None = None
    # Set on the loop only.
    part: Part | None = None
    stop_requested: bool = False
    watchdog_fired: bool = False
    kill_at_mono: float | None = None
    term_sent: bool = False

    def take(self, report: ProgressReport, wall: float, mono: float) -> None:
        with self.lock:
            if self.first_report_wall is None:
                self.first_report_wall = wall
                self.last_advance_mono = mono
            out_time = report.out_time_s
            if out_time is not None and out_time >= 0:
                if out_time > self.out_time_s:
                    self.out_time_s = out_time
                    self.last_advance_mono = mono
                # Later reports only add delay (buffering, scheduling), so the minimum is the
                # best estimate of when media time 0 happened.
                candidate = wall - out_time
                if self.anchor is None or candidate < self.anchor:
                    self.anchor = candidate
            if report.bitrate_kbps is not None:
                self.bitrate_kbps = report.bitrate_kbps

    def snapshot(self) -> tuple[float | None, float | None, float, float, float | None]:
        with self.lock:
            return (
                self.first_report_wall,
                self.anchor,
                self.out_time_s,
                self.last_advance_mono,
                self.bitrate_kbps,
            )

    def alive(self) -> bool:
        return not self.exited.done()

    def terminate(self) -> None:
        """SIGTERM, at most once.

        Once ffmpeg is writing, a second SIGTERM or SIGINT means "exit immediately": it
        aborts the muxer's final writes and leaves index.m3u8 EMPTY (measured with ffmpeg
        9), losing the list of every part. One signal is safe; SIGKILL is the next step.
        """
        if self.alive() and not self.term_sent:
            self.term_sent = True
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)


def _drain(run: _Run, loop: asyncio.AbstractEventLoop) -> None:
    """Reader thread: progress lines until ffmpeg exits, then reaps it and tells the loop."""
    parser = ProgressParser()
    stdout = run.process.stdout
    assert stdout is not None
    try:
        with stdout:
            for raw in stdout:
                report = parser.feed(raw.decode("utf-8", "replace"))
                if report is not None:
                    run.take(report, time.time(), time.monotonic())
    except (OSError, ValueError):  # the pipe broke; ffmpeg's exit is what matters
        logger.debug("progress pipe closed early", exc_info=True)
    finally:
        returncode = run.process.wait()
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            loop.call_soon_threadsafe(_resolve, run.exited, returncode)


def _resolve(future: asyncio.Future[int], value: int) -> None:
    if not future.done():
        future.set_result(value)


def _tail_error(log: Path, offset: int) -> str | None:
    """The last line of a part's log that looks like a reason, else its last line."""
    try:
        with log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read()[-16_384:].decode("utf-8", "replace")
    except OSError:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        lowered = line.lower()
        if "error" in lowered or "cannot" in lowered or "failed" in lowered:
            return line
    return lines[-1] if lines else None


@dataclass(frozen=True)
class _Measure:
    total_bytes: int
    free_bytes: int | None
    sizes: dict[str, int]
    playlist: Playlist | None  # None when unchanged since the last measure
    playlist_text: str
    playlist_mtime: float | None


def _measure(folder: Path, playlist_mtime: float | None) -> _Measure:
    """Sizes of the folder's files, free disk space, and the playlist if it changed."""
    sizes: dict[str, int] = {}
    with contextlib.suppress(FileNotFoundError), os.scandir(folder) as entries:
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False):
                    sizes[entry.name] = entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:  # a .tmp renamed under us
                continue
    try:
        free: int | None = shutil.disk_usage(folder).free
    except OSError:
        free = None
    listed: Playlist | None = None
    text = ""
    mtime = playlist_mtime
    path = folder / PLAYLIST
    with contextlib.suppress(FileNotFoundError):
        mtime = path.stat().st_mtime
        if mtime != playlist_mtime:
            text = path.read_text(encoding="utf-8", errors="replace")
            listed = parse_playlist(text)
    return _Measure(sum(sizes.values()), free, sizes, listed, text, mtime)


def _write_parts(folder: Path, parts: list[Part]) -> None:
    target = folder / PARTS
    temporary = folder / (PARTS + ".tmp")
    temporary.write_text(
        json.dumps({"parts": [part.to_json() for part in parts]}, indent=1), encoding="utf-8"
    )
    os.replace(temporary, target)


def _read_parts(folder: Path) -> list[Part]:
    try:
        data = json.loads((folder / PARTS).read_text(encoding="utf-8"))
        return [Part.from_json(item) for item in data["parts"]]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError, AssertionError):
        logger.warning("ignoring unreadable %s", folder / PARTS, exc_info=True)
        return []


def _fill_offsets(parts: list[Part], playlist: Path) -> None:
    """Sets each part's offset in the playlist from its first segment's position."""
    try:
        listed = read_playlist(playlist)
    except FileNotFoundError:
        return
    for part in parts:
        if part.first_segment is not None:
            part.offset_s = listed.offset_of(part.first_segment)


class Recorder:
    """Records one meeting; ``start()`` and ``stop()`` from the event loop that runs it."""

    def __init__(self, config: RecorderConfig) -> None:
        self.config = config
        self._state: State = "stopped"
        self._parts: list[Part] = []
        self._run: _Run | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._ffmpeg_path: str | None = None
        self._started_mono: float | None = None
        self._stopped_mono: float | None = None
        self._last_error: str | None = None
        self._restarts = 0
        self._bytes_on_disk = 0
        self._free_disk: int | None = None
        self._disk_checked_mono = 0.0
        self._playlist_mtime: float | None = None
        # The longest playlist seen, to undo an emptied one (see _Run.terminate).
        self._good_playlist: tuple[int, str] = (0, "")
        self._bitrate_kbps: float | None = None
        self._parts_written = ""
        self._stopper: asyncio.Task[RecordingResult] | None = None

    # -- public API ---------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def ingest_url(self) -> str:
        return self.config.ingest_url()

    @property
    def parts(self) -> list[Part]:
        return [replace(part) for part in self._parts]

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Starts ffmpeg (listening, or pulling) and returns; recording goes on in a task.

        Raises RecorderUnavailable when no ffmpeg works.
        """
        if self._task is not None:
            raise RuntimeError("this recorder was already started; make a new one")
        folder = self.config.folder
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        if self.config.ffmpeg_path is not None:
            self._ffmpeg_path = self.config.ffmpeg_path
        else:
            self._ffmpeg_path = (await asyncio.to_thread(find_ffmpeg)).path
        # Recording again into a folder continues it: earlier parts keep their numbers.
        self._parts = await asyncio.to_thread(_read_parts, folder)
        self._started_mono = time.monotonic()
        self._state = "waiting"
        self._spawn_or_fail()
        self._task = asyncio.create_task(self._supervise(), name=f"recorder {folder}")

    async def stop(self) -> RecordingResult:
        """Stops ffmpeg ('q', then SIGTERM, then SIGKILL), repairs the playlist if needed.

        Safe to call more than once and from several tasks: all get the same result.
        """
        if self._stopper is None:
            self._stopper = asyncio.create_task(self._stop(), name="recorder stop")
        # Shielded: a caller that gives up must not leave ffmpeg half-stopped.
        return await asyncio.shield(self._stopper)

    async def _stop(self) -> RecordingResult:
        self._stopping = True
        self._stop_event.set()
        run = self._run
        if run is not None and run.alive():
            await self._terminate(run)
        if self._task is not None:
            await self._task
        self._stopped_mono = time.monotonic()
        if self._state != "failed":
            self._state = "stopped"
        return await asyncio.to_thread(self._finish)

    def status(self) -> RecorderStatus:
        if self._started_mono is None:
            elapsed = 0.0
        else:
            elapsed = (self._stopped_mono or time.monotonic()) - self._started_mono
        free = self._free_disk
        return RecorderStatus(
            state=self._state,
            ingest_url=self.ingest_url,
            parts=self.parts,
            elapsed_s=elapsed,
            recorded_s=sum(part.media_s for part in self._parts),
            bitrate_kbps=self._bitrate_kbps if self._state == "recording" else None,
            last_error=self._last_error,
            bytes_on_disk=self._bytes_on_disk,
            free_disk_bytes=free,
            low_disk=free is not None and free < self.config.low_disk_bytes,
            restarts=self._restarts,
        )

    # -- supervision ----------------------------------------------------------------------

    def _spawn_or_fail(self) -> None:
        try:
            self._run = self._spawn()
        except OSError as exc:
            self._run = None
            self._state = "failed"
            self._last_error = f"cannot start ffmpeg ({self._ffmpeg_path}): {exc}"
            logger.error("recording in %s failed: %s", self.config.folder, self._last_error)

    def _spawn(self) -> _Run:
        assert self._ffmpeg_path is not None
        config = self.config
        args = build_command(config, self._ffmpeg_path)
        try:
            segments_before = len(read_playlist(config.playlist).segments)
        except FileNotFoundError:
            segments_before = 0
        with (config.folder / LOG).open("ab") as log:
            header = f"\n--- {_now().isoformat()} {_redacted(args, config.srt_passphrase)}\n"
            log.write(header.encode("utf-8"))
            log.flush()
            offset = log.tell()
            process = subprocess.Popen(  # noqa: S603 - built by ffmpeg-python from the config
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=config.folder,
                # Out of the terminal's process group: a double Ctrl+C on the server would be
                # two signals, which empty the playlist (see _Run.terminate). stop() stops it.
                start_new_session=True,
            )
        (config.folder / PID).write_text(f"{process.pid}\n", encoding="utf-8")
        loop = asyncio.get_running_loop()
        run = _Run(
            process=process,
            exited=loop.create_future(),
            spawned_mono=time.monotonic(),
            segments_before=segments_before,
            log_offset=offset,
        )
        threading.Thread(
            target=_drain, args=(run, loop), name=f"ffmpeg-progress-{process.pid}", daemon=True
        ).start()
        self._bitrate_kbps = None
        logger.info("ffmpeg %s started for %s", process.pid, config.folder)
        return run

    async def _supervise(self) -> None:
        try:
            await self._respawning()
        except asyncio.CancelledError:
            # The loop is shutting down without stop(): one SIGTERM still lets ffmpeg
            # finish the playlist on its own.
            if self._run is not None:
                self._run.terminate()
            raise
        except Exception as exc:
            self._state = "failed"
            self._last_error = f"recorder crashed: {exc!r}"
            logger.exception("recorder %s crashed", self.config.folder)
            if self._run is not None:
                self._run.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        asyncio.shield(self._run.exited), self.config.kill_after_seconds
                    )
                self._run.kill()

    async def _respawning(self) -> None:
        quick_exits = 0
        while (run := self._run) is not None:
            await self._watch(run)
            self._end_run(run)
            if self._stopping:
                return
            delay = 0.0
            if run.part is not None or run.watchdog_fired:
                quick_exits = 0
            else:
                lived = time.monotonic() - run.spawned_mono
                quick_exits = quick_exits + 1 if lived < _QUICK_EXIT_SECONDS else 0
                if quick_exits >= _MAX_QUICK_EXITS and self.config.mode != "pull":
                    self._state = "failed"
                    self._run = None
                    logger.error(
                        "recorder for %s gave up: %s", self.config.folder, self._last_error
                    )
                    return
                # Pulling retries forever, as the source may come back, but never in a tight
                # loop; a listener whose publisher left before sending media listens again now.
                if quick_exits:
                    delay = min(_MAX_BACKOFF_SECONDS, 0.5 * 2 ** (quick_exits - 1))
            if self.config.mode == "pull":
                delay = max(delay, 1.0)
            if delay:
                self._state = "restarting"
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_event.wait(), delay)
                if self._stopping:
                    return
            self._restarts += 1
            self._state = "waiting"
            self._spawn_or_fail()

    async def _watch(self, run: _Run) -> None:
        while run.alive():
            await asyncio.wait([run.exited], timeout=_TICK_SECONDS)
            await self._refresh(run)
            now = time.monotonic()
            if run.kill_at_mono is not None and now >= run.kill_at_mono:
                run.kill()
            if self._stopping or run.watchdog_fired:
                continue
            first, _anchor, out_time, last_advance, _bitrate = run.snapshot()
            if first is not None and now - last_advance > self.config.stall_seconds:
                self._last_error = (
                    f"no new media for {now - last_advance:.0f} s (at {out_time:.1f} s): "
                    "restarted ffmpeg"
                )
                logger.warning("recorder %s: %s", self.config.folder, self._last_error)
                run.watchdog_fired = True
                self._state = "restarting"
                run.terminate()
                # After one signal, ffmpeg still waits for a read blocked on a frozen input
                # until rw_timeout (about twice it, measured); let it finish the playlist.
                run.kill_at_mono = now + max(
                    self.config.kill_after_seconds - self.config.stop_grace_seconds,
                    2 * self.config.rw_timeout_us / 1_000_000 + 1,
                )
        await self._refresh(run)

    async def _refresh(self, run: _Run) -> None:
        first, anchor, out_time, _last_advance, bitrate = run.snapshot()
        part = run.part
        if first is not None and part is None:
            part = Part(
                index=len(self._parts),
                started_wall=_wall(first),
                anchor_wall=None,
                first_segment=None,
            )
            run.part = part
            self._parts.append(part)
            if not self._stopping:
                self._state = "recording"
        if part is not None:
            part.media_s = out_time
            if anchor is not None:
                part.anchor_wall = _wall(anchor)
                self._set_gap(part)
        now = time.monotonic()
        if now - self._disk_checked_mono >= _DISK_EVERY_SECONDS or not run.alive():
            self._disk_checked_mono = now
            measured = await asyncio.to_thread(_measure, self.config.folder, self._playlist_mtime)
            self._bytes_on_disk, self._free_disk = measured.total_bytes, measured.free_bytes
            if measured.playlist is not None:
                self._playlist_mtime = measured.playlist_mtime
                if len(measured.playlist.segments) >= self._good_playlist[0]:
                    self._good_playlist = (
                        len(measured.playlist.segments),
                        measured.playlist_text,
                    )
                self._read_segments(run, measured.playlist, measured.sizes)
        if bitrate is not None:  # ffmpeg reports N/A for HLS output, but may not always
            self._bitrate_kbps = bitrate
        self._save_parts()

    def _set_gap(self, part: Part) -> None:
        if part.index == 0 or part.anchor_wall is None:
            return
        previous = self._parts[part.index - 1]
        if previous.anchor_wall is None:
            return
        media_end = previous.anchor_wall.timestamp() + previous.media_s
        part.gap_before_s = part.anchor_wall.timestamp() - media_end

    def _read_segments(self, run: _Run, listed: Playlist, sizes: dict[str, int]) -> None:
        new = listed.segments[run.segments_before :]
        if run.part is not None and run.part.first_segment is None and new:
            run.part.first_segment = new[0].name
            run.part.offset_s = new[0].start_s
        # The HLS muxer writes a segment out only when it closes it, so the current bitrate
        # is that of the last complete segments of this part.
        recent = new[-_BITRATE_SEGMENTS:]
        seconds = sum(segment.duration_s for segment in recent)
        if recent and seconds > 0:
            size = sum(sizes.get(segment.name, 0) for segment in recent)
            self._bitrate_kbps = size * 8 / seconds / 1000

    def _save_parts(self) -> None:
        if not self._parts:
            return
        data = json.dumps([part.to_json() for part in self._parts])
        if data != self._parts_written:
            try:
                _write_parts(self.config.folder, self._parts)
            except OSError:
                logger.warning("cannot save %s", self.config.folder / PARTS, exc_info=True)
            else:
                self._parts_written = data

    def _end_run(self, run: _Run) -> None:
        returncode = run.exited.result()
        if run.process.stdin is not None:
            with contextlib.suppress(OSError):
                run.process.stdin.close()
        if run.part is not None:
            run.part.ended_wall = _now()
        if run.part is not None and returncode == 0:
            logger.info("recorder %s: the publisher left; listening again", self.config.folder)
        elif not run.stop_requested and not run.watchdog_fired:
            reason = _tail_error(self.config.folder / LOG, run.log_offset)
            self._last_error = f"ffmpeg exited with status {returncode}: {reason or 'no reason'}"
            logger.warning("recorder %s: %s", self.config.folder, self._last_error)
        self._restore_playlist()
        self._save_parts()
        with contextlib.suppress(FileNotFoundError):
            (self.config.folder / PID).unlink()
        if self._run is run:
            self._run = None

    async def _terminate(self, run: _Run) -> None:
        """'q' (or SIGTERM for a listener still waiting), then SIGTERM, then SIGKILL."""
        run.stop_requested = True
        config = self.config
        first, *_ = run.snapshot()
        if first is None:
            # A listener waiting for its publisher does not read stdin yet; before ffmpeg
            # starts writing, one SIGTERM also interrupts the blocking accept.
            run.terminate()
        else:
            try:
                assert run.process.stdin is not None
                run.process.stdin.write(b"q")
                run.process.stdin.flush()
            except (OSError, ValueError):
                run.terminate()
        await asyncio.wait([run.exited], timeout=config.stop_grace_seconds)
        if run.alive():
            logger.warning("ffmpeg %s still running; sending SIGTERM", run.process.pid)
            run.terminate()
            await asyncio.wait(
                [run.exited], timeout=config.kill_after_seconds - config.stop_grace_seconds
            )
        if run.alive():
            logger.warning("ffmpeg %s still running; sending SIGKILL", run.process.pid)
            run.kill()
            await run.exited

    def _restore_playlist(self) -> None:
        known, text = self._good_playlist
        playlist = self.config.playlist
        try:
            current = len(read_playlist(playlist).segments)
        except FileNotFoundError:
            current = 0
        if current >= known:
            return
        self._last_error = (
            f"ffmpeg left a playlist of {current} segments instead of {known} or more: "
            "restored the last complete copy"
        )
        logger.error("recorder %s: %s", self.config.folder, self._last_error)
        temporary = playlist.with_name(PLAYLIST + ".restore")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, playlist)

    def _finish(self) -> RecordingResult:
        playlist = self.config.playlist
        repaired = False
        if playlist.exists():
            repaired = ensure_endlist(playlist)
        _fill_offsets(self._parts, playlist)
        self._save_parts()
        return _result(self.config.folder, self._parts, repaired, self._state, self._last_error)


def _result(
    folder: Path, parts: list[Part], repaired: bool, state: State, last_error: str | None
) -> RecordingResult:
    playlist = folder / PLAYLIST
    try:
        listed = read_playlist(playlist)
        duration, count = listed.duration_s, len(listed.segments)
    except FileNotFoundError:
        duration, count = 0.0, 0
    return RecordingResult(
        folder=folder,
        playlist=playlist,
        parts=[replace(part) for part in parts],
        duration_s=duration,
        segments=count,
        repaired=repaired,
        state=state,
        last_error=last_error,
    )


def _orphan_pid(folder: Path) -> int | None:
    """The pid in ffmpeg.pid if that process is still an ffmpeg writing into ``folder``."""
    try:
        pid = int((folder / PID).read_text(encoding="utf-8").strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    arguments = cmdline.split(b"\0")
    target = os.fsencode(str(folder.resolve() / PLAYLIST))
    return pid if target in arguments else None


def _stop_orphan(folder: Path, grace: float = 5.0) -> None:
    pid = _orphan_pid(folder)
    if pid is None:
        return
    logger.warning("stopping ffmpeg %s left recording into %s", pid, folder)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _orphan_pid(folder) == pid:
        time.sleep(0.05)
    if _orphan_pid(folder) == pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _recover(folder: Path) -> RecordingResult | None:
    _stop_orphan(folder)
    with contextlib.suppress(FileNotFoundError):
        (folder / PID).unlink()
    playlist = folder / PLAYLIST
    if not playlist.exists():
        return None
    repaired = ensure_endlist(playlist)
    parts = _read_parts(folder)
    ended = _wall(playlist.stat().st_mtime)
    for part in parts:
        if part.ended_wall is None:
            part.ended_wall = ended
    _fill_offsets(parts, playlist)
    if parts:
        _write_parts(folder, parts)
    return _result(folder, parts, repaired, "stopped", None)


async def recover(folder: Path) -> RecordingResult | None:
    """Makes a recording left behind by a crash of Council playable; None if none is there.

    Stops an ffmpeg still recording into the folder (one that outlived Council), then
    appends ENDLIST if ffmpeg died without writing it. Never call it on a folder that a
    live Recorder is using.
    """
    return await asyncio.to_thread(_recover, folder)
