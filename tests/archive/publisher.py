"""A synthetic live publisher for the recorder tests: ffmpeg encoding a test pattern and a tone.

Also small helpers to find free ports and to wait until a listener is bound, read from
/proc/net so that the check itself never connects (an ffmpeg listener serves one session).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Literal, Self

Transport = Literal["tcp", "udp"]


def free_port(transport: Transport = "tcp") -> int:
    kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def is_listening(port: int, transport: Transport = "tcp") -> bool:
    for table in (f"/proc/net/{transport}", f"/proc/net/{transport}6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if int(local.rsplit(":", 1)[1], 16) != port:
                continue
            # TCP must be in LISTEN (0A); a bound UDP socket (07) is all SRT shows.
            if (transport == "tcp" and state == "0A") or transport == "udp":
                return True
    return False


async def wait_listening(port: int, transport: Transport = "tcp", within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not is_listening(port, transport):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {transport} port {port} after {within} s")
        await asyncio.sleep(0.02)


class Publisher:
    """ffmpeg sending 640x360 30 fps H.264 (2 s keyframes) and AAC in real time."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args = args
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.started_wall: float | None = None

    @classmethod
    def rtmp(cls, ffmpeg: str, port: int, log: Path, path: str = "live/council") -> Publisher:
        return cls(command(ffmpeg, "flv", f"rtmp://127.0.0.1:{port}/{path}"), log)

    @classmethod
    def srt(cls, ffmpeg: str, port: int, log: Path, passphrase: str | None = None) -> Publisher:
        url = f"srt://127.0.0.1:{port}?mode=caller"
        if passphrase:
            url += f"&passphrase={passphrase}"
        return cls(command(ffmpeg, "mpegts", url), log)

    def start(self) -> Self:
        with self.log.open("ab") as log:
            self.started_wall = time.time()
            self.process = subprocess.Popen(
                self.args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log
            )
        return self

    def poll(self) -> int | None:
        assert self.process is not None
        return self.process.poll()

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        finally:
            self._close_stdin()

    def stop(self, timeout: float = 5.0) -> int:
        """Quits cleanly ('q'): the muxer ends the stream as a real encoder would."""
        process = self.process
        assert process is not None
        if process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert process.stdin is not None
                process.stdin.write(b"q")
                process.stdin.flush()
            try:
                return self.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        return self.kill()

    def kill(self) -> int:
        """SIGKILL: the encoder vanishes without closing the stream."""
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        return self.wait(10)

    def freeze(self) -> None:
        """SIGSTOP: the connection stays open but no media flows."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def _close_stdin(self) -> None:
        if self.process is not None and self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.kill()


def command(
    ffmpeg: str,
    muxer: str,
    url: str,
    *,
    size: str = "640x360",
    video_kbps: int = 800,
    audio_kbps: int = 64,
) -> list[str]:
    """A real-time synthetic publisher: test picture and tone, H.264 (2 s keyframes) and AAC."""
    lavfi = ["-f", "lavfi", "-re", "-readrate_initial_burst", "0"]
    rate = [
        "-b:v",
        f"{video_kbps}k",
        "-maxrate",
        f"{video_kbps}k",
        "-bufsize",
        f"{2 * video_kbps}k",
    ]
    return [
        ffmpeg,
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "warning",
        *lavfi,
        "-i",
        f"testsrc2=size={size}:rate=30",
        *lavfi,
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-g",
        "60",
        *rate,
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        f"{audio_kbps}k",
        "-f",
        muxer,
        url,
    ]
