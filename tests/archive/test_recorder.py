"""The recorder with the real ffmpeg, fed by a synthetic live publisher over RTMP and SRT."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from council.archive import ffmpeg_bin
from council.archive.ffmpeg_bin import FFmpeg, RecorderUnavailable, find_ffmpeg
from council.archive.media import playlist_duration, poster, read_playlist, remux
from council.archive.recorder import (
    Recorder,
    RecorderConfig,
    RecordingResult,
    build_command,
    recover,
)
from tests.archive.publisher import Publisher, free_port, wait_listening

ROOT = Path(__file__).parents[2]
PASSPHRASE = "correct horse battery"


@pytest.fixture(scope="module")
def ffmpeg() -> FFmpeg:
    return find_ffmpeg()


def run(scenario: Coroutine[Any, Any, Any], limit: float = 60.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(limit):
            return await scenario

    return asyncio.run(bounded())


async def wait_until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.05)


def segments_on_disk(folder: Path) -> list[Path]:
    return sorted(folder.glob("seg_*.ts"))


def test_find_ffmpeg_returns_a_working_binary_and_describes_it(ffmpeg: FFmpeg) -> None:
    assert ffmpeg.origin in ("system", "imageio-ffmpeg")
    assert Path(ffmpeg.path).is_file()
    assert ffmpeg.version
    line = ffmpeg.describe()
    assert line.startswith(f"Recording with ffmpeg {ffmpeg.version} from {ffmpeg.origin}")
    assert ffmpeg.path in line
    assert ffmpeg_bin.describe() == line


def test_no_working_ffmpeg_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_bundle() -> str:
        raise RuntimeError("No ffmpeg exe could be found")

    monkeypatch.setattr(
        ffmpeg_bin,
        "_candidates",
        lambda: [("system", lambda: "/nonexistent/ffmpeg"), ("imageio-ffmpeg", broken_bundle)],
    )
    with pytest.raises(RecorderUnavailable) as raised:
        find_ffmpeg()
    message = str(raised.value)
    assert "/nonexistent/ffmpeg" in message
    assert "No ffmpeg exe could be found" in message
    assert "Install ffmpeg" in message
    assert ffmpeg_bin.describe() == message


def test_command_is_the_verified_recorder_command(ffmpeg: FFmpeg, tmp_path: Path) -> None:
    config = RecorderConfig(
        folder=tmp_path, mode="srt", listen_port=9000, srt_passphrase=PASSPHRASE
    )
    args = build_command(config, ffmpeg.path)
    assert args[0] == ffmpeg.path
    joined = " ".join(args)
    # The passphrase is an option, not part of the URL that ffmpeg prints in its log.
    assert "-mode listener -passphrase correct horse battery -rw_timeout 5000000" in joined
    assert "-i srt://127.0.0.1:9000 " in joined
    for expected in (
        "-c copy",
        "-f hls",
        "-hls_time 4",
        "-hls_playlist_type event",
        "-hls_flags program_date_time+independent_segments+temp_file+append_list",
        f"-hls_segment_filename {tmp_path.resolve()}/seg_%05d.ts",
        "-progress pipe:1",
        "-nostats",
        "-y",
    ):
        assert expected in joined
    assert config.ingest_url() == "srt://127.0.0.1:9000?passphrase=correct%20horse%20battery"
    rtmp = RecorderConfig(folder=tmp_path, mode="rtmp", listen_port=1935, public_host="tv.jun.es")
    assert rtmp.ingest_url() == "rtmp://tv.jun.es:1935/live/council"
    assert "-listen 1" in " ".join(build_command(rtmp, ffmpeg.path))
    pull = RecorderConfig(folder=tmp_path, mode="pull", pull_url="https://tv.jun.es/live.m3u8")
    assert "-reconnect 1" in " ".join(build_command(pull, ffmpeg.path))
    with pytest.raises(ValueError, match="10 to 79"):
        RecorderConfig(folder=tmp_path, mode="srt", srt_passphrase="short")
    with pytest.raises(ValueError, match="URL"):
        RecorderConfig(folder=tmp_path, mode="pull")


def test_rtmp_recording_stops_cleanly_and_remuxes_to_a_playable_mp4(
    ffmpeg: FFmpeg, tmp_path: Path
) -> None:
    folder = tmp_path / "meeting"
    port = free_port()
    publisher = Publisher.rtmp(ffmpeg.path, port, tmp_path / "publisher.log")

    async def scenario() -> tuple[RecordingResult, Any, float]:
        recorder = Recorder(
            RecorderConfig(folder=folder, mode="rtmp", listen_port=port, ffmpeg_path=ffmpeg.path)
        )
        await recorder.start()
        try:
            assert recorder.status().state == "waiting"
            assert recorder.status().ingest_url == f"rtmp://127.0.0.1:{port}/live/council"
            await wait_listening(port)
            publisher.start()
            await wait_until(lambda: recorder.state == "recording", 10, "the publisher")
            await wait_until(lambda: recorder.status().recorded_s >= 9, 15, "9 s of media")
            status = recorder.status()
            started = time.monotonic()
            result = await recorder.stop()
            return result, status, time.monotonic() - started
        finally:
            await recorder.stop()
            publisher.kill()

    result, status, stop_seconds = run(scenario())
    assert stop_seconds < 3
    assert status.state == "recording"
    assert status.bitrate_kbps is not None and 300 < status.bitrate_kbps < 3000
    assert status.bytes_on_disk > 100_000
    assert status.free_disk_bytes is not None and status.free_disk_bytes > 0
    assert status.elapsed_s >= status.recorded_s
    assert status.last_error is None

    assert result.state == "stopped"
    assert not result.repaired  # 'q' lets ffmpeg write ENDLIST itself
    assert read_playlist(result.playlist).ended
    assert result.segments >= 3
    assert len(segments_on_disk(folder)) == result.segments
    [part] = result.parts
    assert part.first_segment == "seg_00000.ts" and part.offset_s == 0
    assert part.anchor_wall is not None and part.ended_wall is not None
    assert publisher.started_wall is not None
    anchor_error = part.anchor_wall.timestamp() - publisher.started_wall
    print(f"anchor - publisher start: {anchor_error:+.3f} s; stop took {stop_seconds:.2f} s")
    assert -1 < anchor_error < 3
    recorded = playlist_duration(result.playlist)
    assert abs(recorded - part.media_s) < 1
    assert recorded == pytest.approx(result.duration_s)

    mp4 = folder / "rec.mp4"
    fractions: list[float] = []
    started = time.monotonic()
    duration = run(remux(result.playlist, mp4, progress=fractions.append, ffmpeg_path=ffmpeg.path))
    print(f"remux of {recorded:.1f} s took {time.monotonic() - started:.2f} s")
    assert abs(duration - recorded) < 1
    assert fractions and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert mp4.read_bytes()[4:8] == b"ftyp"

    jpg = run(poster(mp4, folder / "poster.jpg", 3.0, ffmpeg_path=ffmpeg.path))
    assert jpg.read_bytes()[:2] == b"\xff\xd8"


def test_publisher_drop_continues_as_a_second_part_with_a_recorded_gap(
    ffmpeg: FFmpeg, tmp_path: Path
) -> None:
    folder = tmp_path / "meeting"
    port = free_port()
    first = Publisher.rtmp(ffmpeg.path, port, tmp_path / "publisher.log")
    second = Publisher.rtmp(ffmpeg.path, port, tmp_path / "publisher.log")
    away = 2.0

    async def scenario() -> tuple[RecordingResult, float]:
        recorder = Recorder(
            RecorderConfig(folder=folder, mode="rtmp", listen_port=port, ffmpeg_path=ffmpeg.path)
        )
        await recorder.start()
        try:
            await wait_listening(port)
            first.start()
            await wait_until(lambda: recorder.status().recorded_s >= 4, 15, "4 s of media")
            first.kill()
            dropped = time.time()
            # The listener exits with its publisher; the supervisor listens again at once.
            await wait_until(lambda: recorder.status().restarts == 1, 5, "a respawn")
            await wait_listening(port)
            assert recorder.state == "waiting"
            await asyncio.sleep(away - (time.time() - dropped))
            second.start()
            await wait_until(lambda: len(recorder.parts) == 2, 10, "the second part")
            await wait_until(lambda: recorder.parts[1].media_s >= 4, 15, "4 s more")
            return await recorder.stop(), time.time() - dropped
        finally:
            await recorder.stop()
            first.kill()
            second.kill()

    result, _ = run(scenario())
    one, two = result.parts
    print(f"gap recorded: {two.gap_before_s:.2f} s for a publisher away {away} s")
    assert two.gap_before_s is not None and away - 0.5 < two.gap_before_s < away + 3
    assert one.gap_before_s is None
    assert one.anchor_wall is not None and two.anchor_wall is not None
    assert second.started_wall is not None
    assert abs(two.anchor_wall.timestamp() - second.started_wall) < 3
    text = result.playlist.read_text()
    assert text.count("#EXT-X-DISCONTINUITY") >= 1
    listed = read_playlist(result.playlist)
    second_start = next(s for s in listed.segments if s.name == two.first_segment)
    assert second_start.discontinuity
    assert two.offset_s == pytest.approx(second_start.start_s)
    assert abs(two.offset_s - one.media_s) < 1
    assert result.last_error is None

    duration = run(remux(result.playlist, folder / "rec.mp4", ffmpeg_path=ffmpeg.path))
    # The MP4 joins the parts without the gap.
    assert abs(duration - (one.media_s + two.media_s)) < 1.5
    assert abs(duration - playlist_duration(result.playlist)) < 1


CRASHING_COUNCIL = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from council.archive.recorder import Recorder, RecorderConfig

    async def main():
        config = RecorderConfig(
            folder=Path(sys.argv[1]), mode="rtmp", listen_port=int(sys.argv[2]),
            ffmpeg_path=sys.argv[3], hls_time=2,
        )
        await Recorder(config).start()
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


def kill_recorder_ffmpeg(folder: Path) -> None:
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        os.kill(int((folder / "ffmpeg.pid").read_text()), signal.SIGKILL)


@pytest.mark.parametrize("killed", ["council-and-ffmpeg", "council-only"])
def test_recover_after_council_crashed_makes_the_recording_playable(
    ffmpeg: FFmpeg, tmp_path: Path, killed: str
) -> None:
    folder = tmp_path / "meeting"
    port = free_port()
    publisher = Publisher.rtmp(ffmpeg.path, port, tmp_path / "publisher.log")
    with (tmp_path / "council.log").open("wb") as log:
        council = subprocess.Popen(
            [sys.executable, "-c", CRASHING_COUNCIL, str(folder), str(port), ffmpeg.path],
            cwd=ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    async def scenario() -> RecordingResult | None:
        await wait_listening(port)
        publisher.start()
        await wait_until(lambda: len(segments_on_disk(folder)) >= 2, 15, "two segments")
        await asyncio.sleep(1)
        council.kill()
        assert council.wait(5) == -signal.SIGKILL
        # ffmpeg runs in its own session, so it outlives Council and goes on recording,
        # unless the crash takes it too (a killed cgroup, an OOM kill).
        if killed == "council-and-ffmpeg":
            kill_recorder_ffmpeg(folder)
        return await recover(folder)

    try:
        result = run(scenario())
    finally:
        council.kill()
        council.wait(5)
        kill_recorder_ffmpeg(folder)
        publisher.kill()

    assert result is not None
    # SIGKILL leaves no ENDLIST; an orphan is stopped by recover() and writes its own.
    assert result.repaired == (killed == "council-and-ffmpeg")
    assert read_playlist(result.playlist).ended
    assert not (folder / "ffmpeg.pid").exists()
    [part] = result.parts  # from parts.json, written while recording
    assert part.anchor_wall is not None and part.ended_wall is not None
    assert part.first_segment == "seg_00000.ts"
    duration = run(remux(result.playlist, folder / "rec.mp4", ffmpeg_path=ffmpeg.path))
    assert duration > 0
    assert abs(duration - playlist_duration(result.playlist)) < 1


def test_recover_without_a_recording_is_none(tmp_path: Path) -> None:
    assert run(recover(tmp_path)) is None


@pytest.mark.parametrize("mode", ["rtmp", "srt"])
def test_stop_while_waiting_for_a_publisher_is_prompt(
    ffmpeg: FFmpeg, tmp_path: Path, mode: str
) -> None:
    port = free_port("tcp" if mode == "rtmp" else "udp")
    config = RecorderConfig(
        folder=tmp_path / "meeting",
        mode="rtmp" if mode == "rtmp" else "srt",
        listen_port=port,
        ffmpeg_path=ffmpeg.path,
    )

    async def scenario() -> tuple[RecordingResult, float]:
        recorder = Recorder(config)
        await recorder.start()
        try:
            await wait_listening(port, "tcp" if mode == "rtmp" else "udp")
            await asyncio.sleep(0.5)
            started = time.monotonic()
            result = await recorder.stop()
            assert recorder.status().state == "stopped"
            return result, time.monotonic() - started
        finally:
            await recorder.stop()

    result, seconds = run(scenario())
    print(f"{mode}: stop while waiting took {seconds:.2f} s")
    assert seconds < 3
    assert result.state == "stopped"
    assert result.parts == []
    assert result.segments == 0
    assert result.last_error is None


def test_srt_with_passphrase_records_and_refuses_a_wrong_passphrase(
    ffmpeg: FFmpeg, tmp_path: Path
) -> None:
    folder = tmp_path / "meeting"
    port = free_port("udp")
    intruder = Publisher.srt(ffmpeg.path, port, tmp_path / "intruder.log", "wrong passphrase")
    publisher = Publisher.srt(ffmpeg.path, port, tmp_path / "publisher.log", PASSPHRASE)

    async def scenario() -> RecordingResult:
        recorder = Recorder(
            RecorderConfig(
                folder=folder,
                mode="srt",
                listen_port=port,
                srt_passphrase=PASSPHRASE,
                ffmpeg_path=ffmpeg.path,
            )
        )
        await recorder.start()
        try:
            await wait_listening(port, "udp")
            intruder.start()
            assert await asyncio.to_thread(intruder.wait, 10) != 0
            await asyncio.sleep(0.5)
            assert recorder.state == "waiting"
            assert recorder.parts == []
            assert not segments_on_disk(folder)
            publisher.start()
            await wait_until(lambda: recorder.state == "recording", 15, "the SRT publisher")
            await wait_until(lambda: recorder.status().recorded_s >= 5, 15, "5 s of media")
            return await recorder.stop()
        finally:
            await recorder.stop()
            intruder.kill()
            publisher.kill()

    result = run(scenario())
    [part] = result.parts
    assert read_playlist(result.playlist).ended
    assert result.segments >= 2
    assert part.anchor_wall is not None and publisher.started_wall is not None
    anchor_error = part.anchor_wall.timestamp() - publisher.started_wall
    print(f"SRT anchor - publisher start: {anchor_error:+.3f} s")
    assert -1 < anchor_error < 3
    assert PASSPHRASE not in (folder / "ffmpeg.log").read_text()


def test_watchdog_restarts_ffmpeg_when_media_stops_flowing(ffmpeg: FFmpeg, tmp_path: Path) -> None:
    port = free_port()
    publisher = Publisher.rtmp(ffmpeg.path, port, tmp_path / "publisher.log")
    config = RecorderConfig(
        folder=tmp_path / "meeting",
        mode="rtmp",
        listen_port=port,
        stall_seconds=2,
        rw_timeout_us=3_000_000,
        ffmpeg_path=ffmpeg.path,
    )

    async def scenario() -> tuple[RecordingResult, float, float]:
        recorder = Recorder(config)
        await recorder.start()
        try:
            await wait_listening(port)
            publisher.start()
            await wait_until(lambda: recorder.status().recorded_s >= 3, 15, "3 s of media")
            # A frozen encoder keeps its connection open and sends nothing.
            publisher.freeze()
            frozen = time.monotonic()
            await wait_until(lambda: recorder.state == "restarting", 5, "the watchdog")
            noticed = time.monotonic() - frozen
            await wait_until(lambda: recorder.status().restarts == 1, 15, "the respawn")
            respawned = time.monotonic() - frozen
            await wait_listening(port)
            assert recorder.state == "waiting"
            return await recorder.stop(), noticed, respawned
        finally:
            await recorder.stop()
            publisher.kill()

    result, noticed, respawned = run(scenario())
    # ffmpeg honours the SIGTERM only once its blocked read times out (rw_timeout).
    print(f"watchdog fired {noticed:.2f} s after the freeze, respawned after {respawned:.2f} s")
    assert 1 <= noticed < 4
    assert respawned < 12
    assert result.last_error is not None and "no new media" in result.last_error
    [part] = result.parts
    assert not result.repaired
    assert read_playlist(result.playlist).ended
    assert result.segments >= 1
    assert part.ended_wall is not None
