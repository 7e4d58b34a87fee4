"""Recorder cost: Council's ffmpeg recorder copying a 720p30 RTMP stream, then the remux.

Two stages, one run:

1. **record**: a synthetic publisher (ffmpeg: testsrc2 1280x720 30 fps, x264 veryfast,
   -g 60, 3 Mbit/s, AAC 128k, in real time) pushes RTMP over 127.0.0.1 to Council's own
   ``Recorder`` (``mode="rtmp"``). Once it is recording, the CPU time of the recorder's
   ffmpeg, of the publisher and of this Python process (where Council's supervisor runs)
   is sampled over ``--seconds``; then ``Recorder.stop()``. Disk per hour and bitrate come
   from the finished segments.
2. **remux**: ``--remux-minutes`` of HLS, made fast with the recorder's HLS flags (by
   looping stage 1's recording with ``-stream_loop``, or by encoding with x264 ultrafast),
   then ``media.remux()`` to MP4 with faststart and ``media.poster()``, timed in a worker
   process whose ``RUSAGE_CHILDREN`` gives the remux ffmpeg's exact CPU time and peak RSS.

    python bench/recorder.py --quick           # 15 s recording, 2 min remux (~25 s)
    python bench/recorder.py                   # 60 s recording, 10 min remux (~70 s)
    python bench/recorder.py --control         # + the same command outside Recorder (~3.5 min)
    python bench/recorder.py --json rec.json   # also write every raw figure

Target (from the issue): the recorder under 5 % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
# tests.archive.publisher lives beside the package, not in it.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from council.archive import media  # noqa: E402
from council.archive.ffmpeg_bin import find_ffmpeg  # noqa: E402
from council.archive.recorder import (  # noqa: E402
    HLS_FLAGS,
    PLAYLIST,
    SEGMENT_PATTERN,
    Recorder,
    RecorderConfig,
    build_command,
)
from tests.archive.publisher import Publisher, command, free_port, wait_listening  # noqa: E402

TARGET_RECORDER_PCT = 5.0
SETTLE_S = 3.0  # after "recording": connection, probing and the first segment are not billed
SAMPLE_EVERY_S = 1.0
LISTEN_TIMEOUT_S = 15.0
RECORDING_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
POSTER_AT_S = 30.0


# For generating a long recording fast (no -re), the same encoding as the publisher.
VIDEO = ["-c:v", "libx264", "-g", "60", "-b:v", "3000k", "-maxrate", "3000k"]
VIDEO += ["-bufsize", "6000k", "-pix_fmt", "yuv420p"]
AUDIO = ["-c:a", "aac", "-b:a", "128k"]


def publisher_args(ffmpeg: str, url: str) -> list[str]:
    """The test suite's publisher at 720p30 and 3 Mbit/s, as in the ffmpeg notes."""
    return command(ffmpeg, "flv", url, size="1280x720", video_kbps=3000, audio_kbps=128)


def hls_output(folder: Path) -> list[str]:
    """The recorder's HLS options (council.archive.recorder.build_command)."""
    return [
        "-f",
        "hls",
        "-hls_time",
        "4",
        "-hls_playlist_type",
        "event",
        "-hls_segment_type",
        "mpegts",
        "-hls_flags",
        HLS_FLAGS,
        "-hls_segment_filename",
        str(folder / SEGMENT_PATTERN),
        str(folder / PLAYLIST),
    ]


# -- measuring processes ---------------------------------------------------------------------


def cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def peak_rss(pid: int) -> int | None:
    """VmHWM (the kernel's peak resident set size) in bytes, None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def context_switches(pid: int) -> int:
    """Voluntary and involuntary context switches of all the process's threads."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        with contextlib.suppress(OSError):
            for line in status.read_text().splitlines():
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
    return total


def machine_busy_s() -> float:
    """CPU seconds spent by everything on the machine (guest time is already in user)."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0))


@dataclass
class Sample:
    mono: float
    recorder_cpu_s: float
    recorder_system_s: float
    recorder_ctx_switches: int
    publisher_cpu_s: float
    self_cpu_s: float
    machine_busy_s: float
    recorder_rss: int
    publisher_rss: int
    recorder_write_chars: int
    recorded_media_s: float


class Sampler:
    """Reads the three processes; its own CPU time is kept apart from Council's."""

    def __init__(self, recorder: psutil.Process, publisher: psutil.Process, rec: Recorder):
        self.recorder = recorder
        self.publisher = publisher
        self.me = psutil.Process()
        self.rec = rec
        self.own_cpu_s = 0.0  # thread CPU time spent inside sample(), on the event loop
        self.samples: list[Sample] = []

    def sample(self) -> Sample:
        before = time.thread_time()
        with self.recorder.oneshot(), self.publisher.oneshot():
            taken = Sample(
                mono=time.monotonic(),
                recorder_cpu_s=cpu_s(self.recorder),
                recorder_system_s=self.recorder.cpu_times().system,
                recorder_ctx_switches=context_switches(self.recorder.pid),
                publisher_cpu_s=cpu_s(self.publisher),
                self_cpu_s=cpu_s(self.me),
                machine_busy_s=machine_busy_s(),
                recorder_rss=self.recorder.memory_info().rss,
                publisher_rss=self.publisher.memory_info().rss,
                recorder_write_chars=self.recorder.io_counters().write_chars,
                recorded_media_s=self.rec.status().recorded_s,
            )
        self.samples.append(taken)
        self.own_cpu_s += time.thread_time() - before
        return taken


def find_recorder_process(playlist: Path) -> psutil.Process:
    """The recorder's ffmpeg among this process's children: the RTMP listener on our playlist."""
    target = str(playlist.resolve())
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmdline = child.cmdline()
            if "-listen" in cmdline or target in cmdline:
                return child
    raise RuntimeError("no recorder ffmpeg among this process's children")


async def wait_for(condition: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.05)


def folder_bytes(folder: Path, pattern: str) -> int:
    return sum(path.stat().st_size for path in folder.glob(pattern))


# -- stage 1: recording ----------------------------------------------------------------------


async def record_stage(ffmpeg: str, seconds: float, work: Path) -> dict[str, Any]:
    folder = work / "meeting"
    port = free_port()
    rec = Recorder(RecorderConfig(folder=folder, mode="rtmp", listen_port=port, ffmpeg_path=ffmpeg))
    url = rec.ingest_url
    publisher = Publisher(publisher_args(ffmpeg, url), work / "publisher.log")
    recorder_proc: psutil.Process | None = None
    try:
        await rec.start()
        await wait_listening(port, within=LISTEN_TIMEOUT_S)
        recorder_proc = find_recorder_process(folder / PLAYLIST)
        recorder_cmdline = recorder_proc.cmdline()
        pid_file = (folder / "ffmpeg.pid").read_text().strip()
        if pid_file != str(recorder_proc.pid):
            raise RuntimeError(f"found ffmpeg {recorder_proc.pid}, ffmpeg.pid says {pid_file}")
        publisher.start()
        assert publisher.process is not None
        publisher_proc = psutil.Process(publisher.process.pid)
        await wait_for(lambda: rec.state == "recording", RECORDING_TIMEOUT_S, "'recording'")
        await asyncio.sleep(SETTLE_S)

        sampler = Sampler(recorder_proc, publisher_proc, rec)
        first = sampler.sample()
        deadline = first.mono + seconds
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(SAMPLE_EVERY_S, left))
            sampler.sample()
            if publisher.poll() is not None:
                raise RuntimeError(f"the publisher exited: see {publisher.log}")
            if not recorder_proc.is_running() or rec.status().restarts:
                raise RuntimeError(f"the recorder restarted: {rec.status().last_error}")
        last = sampler.samples[-1]
        status = rec.status()
        recorder_hwm = peak_rss(recorder_proc.pid)
        recorder_threads = recorder_proc.num_threads()
        publisher_hwm = peak_rss(publisher_proc.pid)

        stop_started = time.monotonic()
        result = await asyncio.wait_for(rec.stop(), STOP_TIMEOUT_S)
        stop_s = time.monotonic() - stop_started
        publisher.stop()
    finally:
        if publisher.process is not None:
            publisher.kill()
        if rec.running:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(rec.stop(), STOP_TIMEOUT_S)
        if recorder_proc is not None and recorder_proc.is_running():
            recorder_proc.kill()

    window = last.mono - first.mono
    sampler_cpu = sampler.own_cpu_s
    self_cpu = last.self_cpu_s - first.self_cpu_s
    recorder_cpu = last.recorder_cpu_s - first.recorder_cpu_s
    publisher_cpu = last.publisher_cpu_s - first.publisher_cpu_s
    machine = last.machine_busy_s - first.machine_busy_s
    ts_bytes = folder_bytes(folder, "seg_*.ts")
    duration = result.duration_s
    bitrate_bps = ts_bytes * 8 / duration if duration else 0.0

    def pct(cpu: float) -> float:
        return 100.0 * cpu / window

    return {
        "ingest_url": url,
        "window_s": window,
        "settle_s": SETTLE_S,
        "recorder_pid": recorder_proc.pid,
        "recorder_cmdline": recorder_cmdline,
        "recorder_cpu_s": recorder_cpu,
        "recorder_cpu_pct": pct(recorder_cpu),
        "recorder_system_s": last.recorder_system_s - first.recorder_system_s,
        "recorder_ctx_switches_per_s": (last.recorder_ctx_switches - first.recorder_ctx_switches)
        / window,
        "recorder_threads": recorder_threads,
        "recorder_max_rss": max(recorder_hwm or 0, max(s.recorder_rss for s in sampler.samples)),
        "recorder_write_chars_per_h": (last.recorder_write_chars - first.recorder_write_chars)
        / window
        * 3600,
        "publisher_cpu_s": publisher_cpu,
        "publisher_cpu_pct": pct(publisher_cpu),
        "publisher_max_rss": max(publisher_hwm or 0, max(s.publisher_rss for s in sampler.samples)),
        "python_cpu_s": self_cpu - sampler_cpu,
        "python_cpu_pct": pct(self_cpu - sampler_cpu),
        "sampler_cpu_s": sampler_cpu,
        "others_cpu_pct": pct(machine - recorder_cpu - publisher_cpu - self_cpu),
        "machine_cpu_pct": pct(machine),
        "media_speed": (last.recorded_media_s - first.recorded_media_s) / window,
        "status_bitrate_kbps": status.bitrate_kbps,
        "stop_s": stop_s,
        "state_after_stop": result.state,
        "repaired": result.repaired,
        "parts": len(result.parts),
        "segments": result.segments,
        "recorded_s": duration,
        "ts_bytes": ts_bytes,
        "bitrate_bps": bitrate_bps,
        "bytes_per_h": bitrate_bps / 8 * 3600,
        "samples": [asdict(s) for s in sampler.samples],
        "playlist": str(result.playlist),
    }


# -- control: the same ffmpeg command without Council's Recorder ----------------------------


async def control_stage(
    ffmpeg: str, seconds: float, work: Path, new_session: bool
) -> dict[str, Any]:
    """build_command()'s recorder under a plain Popen, stdout drained by a thread.

    With ``new_session`` it gets its own session, as ``Recorder`` starts it; without, it
    shares this process's session (and, with CONFIG_SCHED_AUTOGROUP, its scheduling group).
    """
    folder = work / ("control-new-session" if new_session else "control-same-session")
    folder.mkdir()
    port = free_port()
    config = RecorderConfig(folder=folder, mode="rtmp", listen_port=port, ffmpeg_path=ffmpeg)
    publisher = Publisher(publisher_args(ffmpeg, config.ingest_url()), folder / "publisher.log")
    reporting = threading.Event()
    with (folder / "ffmpeg.log").open("ab") as log:
        # Popen returns once ffmpeg is exec'd; nothing else runs on this loop meanwhile.
        process = subprocess.Popen(  # noqa: ASYNC220
            build_command(config, ffmpeg),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=folder,
            start_new_session=new_session,
        )

    def drain() -> None:
        assert process.stdout is not None
        with process.stdout:
            for _line in process.stdout:
                reporting.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        await wait_listening(port, within=LISTEN_TIMEOUT_S)
        publisher.start()
        await wait_for(reporting.is_set, RECORDING_TIMEOUT_S, "the first progress report")
        await asyncio.sleep(SETTLE_S)
        target = psutil.Process(process.pid)
        started, cpu0, system0 = time.monotonic(), cpu_s(target), target.cpu_times().system
        switches0 = context_switches(process.pid)
        await asyncio.sleep(seconds)
        window = time.monotonic() - started
        cpu = cpu_s(target) - cpu0
        system = target.cpu_times().system - system0
        switches = context_switches(process.pid) - switches0
        if publisher.poll() is not None or process.poll() is not None:
            raise RuntimeError(f"the control run in {folder} ended early")
    finally:
        if process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert process.stdin is not None
                process.stdin.write(b"q")
                process.stdin.flush()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if publisher.process is not None:
            publisher.kill()
    return {
        "new_session": new_session,
        "window_s": window,
        "recorder_cpu_s": cpu,
        "recorder_cpu_pct": 100.0 * cpu / window,
        "recorder_system_s": system,
        "recorder_ctx_switches_per_s": switches / window,
    }


# -- stage 2: remux --------------------------------------------------------------------------


def run_ffmpeg(args: list[str], log: Path, timeout: float) -> float:
    """Runs ffmpeg to completion (stderr to ``log``); returns its wall time."""
    started = time.perf_counter()
    with log.open("ab") as stderr:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stderr=stderr)
        try:
            returncode = process.wait(timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    if returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"{args[0]} exited with {returncode}: {' | '.join(tail)}")
    return time.perf_counter() - started


def make_source(
    ffmpeg: str, how: str, recording: Path | None, seconds: float, work: Path
) -> tuple[Path, float]:
    """``seconds`` of HLS in the recorder's format, made faster than real time."""
    out = work / "long"
    out.mkdir()
    log = work / "generate.log"
    quiet = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"]
    limit = 120 + 3 * seconds
    if how == "loop":
        assert recording is not None
        # One TS first: looping a TS file is a byte seek, looping a playlist is not.
        flat = work / "loop.ts"
        took = run_ffmpeg(
            [*quiet, "-i", str(recording), "-map", "0", "-c", "copy", str(flat)], log, limit
        )
        args = [*quiet, "-stream_loop", "-1", "-i", str(flat), "-map", "0", "-c", "copy"]
    else:
        took = 0.0
        args = [*quiet, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"]
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
        args += [*VIDEO, "-preset", "ultrafast", *AUDIO]
    args += ["-t", f"{seconds:g}", *hls_output(out)]
    took += run_ffmpeg(args, log, limit)
    return out / PLAYLIST, took


def rusage_children() -> dict[str, float]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "maxrss": usage.ru_maxrss * 1024}


async def remux_worker(playlist: Path, out: Path, ffmpeg: str) -> dict[str, Any]:
    """Runs in its own process, so RUSAGE_CHILDREN holds nothing but these ffmpeg runs."""
    mp4 = out / "meeting.mp4"
    jpg = out / "poster.jpg"
    remuxed_at: list[float] = []

    def progress(fraction: float) -> None:
        if fraction >= 1.0 and not remuxed_at:
            remuxed_at.append(time.perf_counter())

    before = rusage_children()
    started = time.perf_counter()
    duration = await media.remux(playlist, mp4, progress=progress, ffmpeg_path=ffmpeg)
    remux_s = time.perf_counter() - started
    after_remux = rusage_children()
    started_poster = time.perf_counter()
    await media.poster(mp4, jpg, POSTER_AT_S, ffmpeg_path=ffmpeg)
    poster_s = time.perf_counter() - started_poster
    after_poster = rusage_children()
    return {
        "remux_s": remux_s,
        # remux() also reads the MP4's duration back (an ffmpeg -i): that part of it.
        "duration_check_s": remux_s - (remuxed_at[0] - started) if remuxed_at else None,
        "remux_cpu_s": after_remux["cpu_s"] - before["cpu_s"],
        # ru_maxrss is the largest child so far: the remux and its duration check only.
        "remux_max_rss": after_remux["maxrss"],
        "mp4_duration_s": duration,
        "mp4_bytes": mp4.stat().st_size,
        "poster_s": poster_s,
        "poster_cpu_s": after_poster["cpu_s"] - after_remux["cpu_s"],
        "poster_bytes": jpg.stat().st_size,
    }


def remux_stage(
    ffmpeg: str, how: str, recording: Path | None, minutes: float, work: Path
) -> dict[str, Any]:
    playlist, generate_s = make_source(ffmpeg, how, recording, minutes * 60, work)
    listed = media.read_playlist(playlist)
    if not listed.ended:
        raise RuntimeError(f"{playlist} was not finished by ffmpeg")
    hls_bytes = folder_bytes(playlist.parent, "seg_*.ts")
    out = work / "remuxed"
    out.mkdir()
    limit = 120 + 2 * minutes * 60  # the notes: 3 h in 17 s on a warm cache
    completed = subprocess.run(
        [sys.executable, __file__, "--remux-worker", str(playlist), str(out), ffmpeg],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=limit,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"remux worker failed: {completed.stderr.decode(errors='replace')}")
    measured: dict[str, Any] = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    hours = listed.duration_s / 3600
    measured.update(
        source=how,
        generate_s=generate_s,
        hls_duration_s=listed.duration_s,
        hls_segments=len(listed.segments),
        hls_bytes=hls_bytes,
        remux_s_per_h=measured["remux_s"] / hours,
        remux_cpu_s_per_h=measured["remux_cpu_s"] / hours,
        mp4_bytes_per_h=measured["mp4_bytes"] / hours,
    )
    return measured


# -- report ----------------------------------------------------------------------------------


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def report(
    info: dict[str, Any],
    rec: dict[str, Any] | None,
    controls: list[dict[str, Any]],
    rmx: dict[str, Any] | None,
) -> str:
    rows: list[tuple[str, str]] = []
    if rec is not None:
        window = rec["window_s"]
        rows += [
            (
                "recorder ffmpeg CPU (`-c copy`, RTMP to HLS)",
                f"**{rec['recorder_cpu_pct']:.2f} % of one core** "
                f"({rec['recorder_cpu_s']:.2f} CPU-s in {window:.1f} s, "
                f"{rec['recorder_system_s']:.2f} of them in the kernel; "
                f"{rec['recorder_ctx_switches_per_s']:.0f} context switches/s, "
                f"{rec['recorder_threads']} threads)",
            ),
            *(
                (
                    "control: the same command, plain `Popen`, "
                    + ("own session (as `Recorder`)" if c["new_session"] else "this session"),
                    f"{c['recorder_cpu_pct']:.2f} % of one core ({c['recorder_cpu_s']:.2f} "
                    f"CPU-s in {c['window_s']:.1f} s, {c['recorder_system_s']:.2f} in the "
                    f"kernel; {c['recorder_ctx_switches_per_s']:.0f} context switches/s)",
                )
                for c in controls
            ),
            ("recorder ffmpeg max RSS", mb(rec["recorder_max_rss"])),
            (
                "publisher ffmpeg CPU (x264 veryfast + AAC, 720p30)",
                f"{rec['publisher_cpu_pct']:.1f} % of one core, max RSS "
                f"{mb(rec['publisher_max_rss'])}",
            ),
            (
                "Council's Python side (supervisor, progress thread)",
                f"{rec['python_cpu_pct']:.2f} % of one core ({rec['python_cpu_s']:.2f} CPU-s; "
                f"the sampler's own {rec['sampler_cpu_s']:.2f} s left out)",
            ),
            ("everything else on the machine", f"{rec['others_cpu_pct']:.1f} % of one core"),
            (
                "media recorded per wall second",
                f"{rec['media_speed']:.3f} (1 = real time; progress comes every 0.5 s, so "
                f"+-{0.5 / rec['window_s']:.3f})",
            ),
            (
                "bitrate on disk (segments / playlist duration)",
                f"{rec['bitrate_bps'] / 1e6:.2f} Mbit/s "
                f"(Recorder.status(): {rec['status_bitrate_kbps'] or 0:.0f} kbit/s)",
            ),
            (
                "disk per hour of meeting",
                f"{rec['bytes_per_h'] / 1e9:.2f} GB "
                f"(ffmpeg write() calls: {rec['recorder_write_chars_per_h'] / 1e9:.2f} GB/h)",
            ),
            (
                "`Recorder.stop()`",
                f"{rec['stop_s']:.2f} s, state {rec['state_after_stop']}, "
                f"{rec['segments']} segments, {rec['recorded_s']:.1f} s recorded"
                + (", playlist repaired" if rec["repaired"] else ""),
            ),
        ]
    if rmx is not None:
        minutes = rmx["hls_duration_s"] / 60
        rows += [
            (
                "remux input (HLS, recorder's flags)",
                f"{minutes:.1f} min, {rmx['hls_segments']} segments, {mb(rmx['hls_bytes'])} "
                f"({rmx['source']}, made in {rmx['generate_s']:.1f} s)",
            ),
            (
                "`media.remux()` to MP4 (faststart)",
                f"{rmx['remux_s']:.2f} s wall, {rmx['remux_cpu_s']:.2f} CPU-s"
                + (
                    f" (duration check {rmx['duration_check_s']:.2f} s of it)"
                    if rmx["duration_check_s"] is not None
                    else ""
                ),
            ),
            (
                "remux per hour of video",
                f"**{rmx['remux_s_per_h']:.1f} s** wall, {rmx['remux_cpu_s_per_h']:.1f} CPU-s",
            ),
            ("remux ffmpeg peak RSS", mb(rmx["remux_max_rss"])),
            (
                "MP4 size",
                f"{mb(rmx['mp4_bytes'])} ({rmx['mp4_bytes_per_h'] / 1e9:.2f} GB per hour, "
                f"{rmx['mp4_duration_s']:.1f} s)",
            ),
            (
                "`media.poster()` (JPEG, 640 wide)",
                f"{rmx['poster_s']:.2f} s, {rmx['poster_cpu_s']:.2f} CPU-s",
            ),
        ]
    lines = [
        f"{info['date']}, ffmpeg {info['ffmpeg_version']} ({info['ffmpeg_origin']}), "
        f"Python {info['python']}, {info['cpus']} CPUs, load {info['load_before']}",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
    ]
    if rec is not None:
        pct = rec["recorder_cpu_pct"]
        verdict = (
            f"met, {TARGET_RECORDER_PCT / pct:.1f}x under it"
            if pct < TARGET_RECORDER_PCT
            else "NOT met"
        )
        lines += [
            "",
            f"Recorder: {pct:.2f} % of one core against a target of "
            f"< {TARGET_RECORDER_PCT:g} %: {verdict}.",
        ]
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------


async def record_bounded(
    ffmpeg: str, seconds: float, work: Path, control: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    limit = seconds + SETTLE_S + LISTEN_TIMEOUT_S + RECORDING_TIMEOUT_S + 2 * STOP_TIMEOUT_S
    async with asyncio.timeout(limit):
        rec = await record_stage(ffmpeg, seconds, work)
    controls = []
    for new_session in (False, True) if control else ():
        async with asyncio.timeout(limit):
            controls.append(await control_stage(ffmpeg, seconds, work, new_session))
    return rec, controls


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, help="recording window (default 60)")
    parser.add_argument("--remux-minutes", type=float, help="HLS to remux (default 10)")
    parser.add_argument("--quick", action="store_true", help="15 s window, 2 min remux")
    parser.add_argument("--only", choices=["record", "remux"], help="run one stage")
    parser.add_argument(
        "--remux-source",
        choices=["loop", "encode"],
        help="loop stage 1's recording (default), or encode with x264 ultrafast",
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="also time the recorder's command outside Recorder, in this session and its own",
    )
    parser.add_argument("--json", type=Path, help="write raw results here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--remux-worker", nargs=3, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)

    if options.remux_worker:
        playlist, out, ffmpeg_path = options.remux_worker
        print(json.dumps(asyncio.run(remux_worker(Path(playlist), Path(out), ffmpeg_path))))
        return 0

    seconds = options.seconds or (15.0 if options.quick else 60.0)
    minutes = options.remux_minutes or (2.0 if options.quick else 10.0)
    source = options.remux_source or ("encode" if options.only == "remux" else "loop")
    if source == "loop" and options.only == "remux":
        parser.error("--remux-source loop needs the recording stage")

    found = find_ffmpeg()
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "ffmpeg_version": found.version,
        "ffmpeg_origin": found.origin,
        "ffmpeg_path": found.path,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "argv": sys.argv,
        "seconds": seconds,
        "remux_minutes": minutes,
    }
    work = Path(tempfile.mkdtemp(prefix="council-bench-recorder-"))
    rec: dict[str, Any] | None = None
    controls: list[dict[str, Any]] = []
    rmx: dict[str, Any] | None = None
    # SIGTERM ends the run through the finally blocks, like Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if options.only != "remux":
            print(f"recording {seconds:g} s of 720p30 over RTMP...", file=sys.stderr)
            rec, controls = asyncio.run(record_bounded(found.path, seconds, work, options.control))
        if options.only != "record":
            print(f"remuxing {minutes:g} min of HLS ({source})...", file=sys.stderr)
            recording = Path(rec["playlist"]) if rec is not None else None
            rmx = remux_stage(found.path, source, recording, minutes, work)
    finally:
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()
        if options.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(report(info, rec, controls, rmx))
    if options.json:
        raw = {"info": info, "record": rec, "controls": controls, "remux": rmx}
        options.json.write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
