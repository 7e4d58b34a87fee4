"""Playlist reading, remux, duration and poster, on a short HLS recording made by ffmpeg."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from council.archive.ffmpeg_bin import FFmpeg, ProgressParser, find_ffmpeg
from council.archive.media import (
    MediaError,
    ensure_endlist,
    media_duration,
    parse_playlist,
    playlist_duration,
    poster,
    read_playlist,
    remux,
)

PLAYLIST = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-DISCONTINUITY
#EXTINF:4.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-11-24T02:06:28.746+0000
seg_00000.ts
#EXTINF:2.500000,
#EXT-X-PROGRAM-DATE-TIME:2026-11-24T02:06:32.746+0000
seg_00001.ts
#EXT-X-DISCONTINUITY
#EXTINF:4.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-11-24T02:06:40.000+0000
seg_00002.ts
"""


@pytest.fixture(scope="module")
def ffmpeg() -> FFmpeg:
    return find_ffmpeg()


@pytest.fixture(scope="module")
def recording(ffmpeg: FFmpeg, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven seconds of HLS (TS, 2 s segments), encoded faster than real time."""
    folder = tmp_path_factory.mktemp("hls")
    lavfi = ["-f", "lavfi", "-i"]
    subprocess.run(
        [
            ffmpeg.path,
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            *lavfi,
            "testsrc2=size=640x360:rate=30",
            *lavfi,
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "7",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_playlist_type",
            "event",
            "-hls_segment_filename",
            str(folder / "seg_%05d.ts"),
            str(folder / "index.m3u8"),
        ],
        check=True,
        timeout=60,
    )
    return folder / "index.m3u8"


def test_parse_playlist_reads_parts_offsets_and_date_times() -> None:
    listed = parse_playlist(PLAYLIST)
    assert [s.name for s in listed.segments] == ["seg_00000.ts", "seg_00001.ts", "seg_00002.ts"]
    assert [s.start_s for s in listed.segments] == [0.0, 4.0, 6.5]
    assert [s.discontinuity for s in listed.segments] == [True, False, True]
    assert listed.segments[0].program_date_time == datetime(
        2026, 11, 24, 2, 6, 28, 746000, tzinfo=UTC
    )
    assert listed.duration_s == 10.5
    assert listed.offset_of("seg_00002.ts") == 6.5
    assert listed.offset_of("seg_00009.ts") is None
    assert not listed.ended


def test_ensure_endlist_repairs_once(tmp_path: Path) -> None:
    playlist = tmp_path / "index.m3u8"
    playlist.write_text(PLAYLIST.rstrip("\n"))  # as if cut off mid-write
    assert ensure_endlist(playlist)
    assert read_playlist(playlist).ended
    assert playlist.read_text().endswith("seg_00002.ts\n#EXT-X-ENDLIST\n")
    assert not ensure_endlist(playlist)
    assert playlist_duration(playlist) == 10.5


def test_progress_parser_reads_microseconds_and_not_available() -> None:
    parser = ProgressParser()
    block = "frame=55\nbitrate=N/A\ntotal_size=N/A\nout_time_us=1787000\nout_time_ms=1787000\n"
    for line in block.splitlines():
        assert parser.feed(line) is None
    report = parser.feed("progress=continue")
    assert report is not None
    assert report.out_time_s == 1.787 and report.bitrate_kbps is None and report.frame == 55
    assert not report.end
    parser.feed("bitrate= 817.0kbits/s")
    parser.feed("out_time_us=N/A")
    last = parser.feed("progress=end")
    assert last is not None and last.end and last.out_time_s is None
    assert last.bitrate_kbps == 817.0


def test_remux_reports_progress_and_returns_the_mp4_duration(
    ffmpeg: FFmpeg, recording: Path, tmp_path: Path
) -> None:
    mp4 = tmp_path / "rec.mp4"
    fractions: list[float] = []
    duration = asyncio.run(remux(recording, mp4, progress=fractions.append))
    assert abs(duration - playlist_duration(recording)) < 0.5
    assert abs(duration - 7) < 0.5
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert all(0 <= f <= 1 for f in fractions)
    assert [p.name for p in tmp_path.iterdir()] == ["rec.mp4"]  # no partial file left
    head = mp4.read_bytes()[: 64 * 1024]
    # faststart: the index (moov) comes before the media (mdat).
    assert 0 <= head.find(b"moov") < head.find(b"mdat")
    assert asyncio.run(media_duration(mp4, ffmpeg_path=ffmpeg.path)) == duration


def test_remux_refuses_a_playlist_still_being_recorded(recording: Path, tmp_path: Path) -> None:
    live = tmp_path / "index.m3u8"
    text = recording.read_text().replace("#EXT-X-ENDLIST", "")
    live.write_text(text.replace("seg_", f"{recording.parent}/seg_"))
    with pytest.raises(MediaError, match="not finished"):
        asyncio.run(remux(live, tmp_path / "rec.mp4"))
    assert not (tmp_path / "rec.mp4").exists()


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the JPEG's start-of-frame marker."""
    position = 2
    while position < len(data):
        marker, length = data[position + 1], int.from_bytes(data[position + 2 : position + 4])
        if marker in (0xC0, 0xC1, 0xC2):
            height = int.from_bytes(data[position + 5 : position + 7])
            width = int.from_bytes(data[position + 7 : position + 9])
            return width, height
        position += 2 + length
    raise AssertionError("no start-of-frame marker")


@pytest.mark.parametrize("at", [3.0, 999.0, -5.0])
def test_poster_is_a_640_wide_jpeg_even_when_asked_past_the_end(
    ffmpeg: FFmpeg, recording: Path, tmp_path: Path, at: float
) -> None:
    jpg = asyncio.run(poster(recording, tmp_path / "poster.jpg", at, ffmpeg_path=ffmpeg.path))
    data = jpg.read_bytes()
    assert data[:2] == b"\xff\xd8"
    assert _jpeg_size(data) == (640, 360)
    assert [p.name for p in tmp_path.iterdir()] == ["poster.jpg"]


def test_duration_of_something_that_is_not_media_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(MediaError, match=r"cannot read junk\.mp4"):
        asyncio.run(media_duration(junk))
