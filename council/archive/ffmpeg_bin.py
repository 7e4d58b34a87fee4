"""Which ffmpeg binary records the meetings, and reading its ``-progress`` reports.

The system's ``ffmpeg`` wins when it is on PATH (a town may have a build with hardware
support); otherwise the static build bundled by ``imageio-ffmpeg`` is used, so
``pip install`` alone gives a working recorder. Neither bundles ffprobe.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Origin = Literal["system", "imageio-ffmpeg"]

VERSION_TIMEOUT_SECONDS = 15.0


class RecorderUnavailable(Exception):
    """No working ffmpeg binary: meetings cannot be recorded until one is installed."""


@dataclass(frozen=True)
class FFmpeg:
    path: str
    version: str
    origin: Origin

    def describe(self) -> str:
        return f"Recording with ffmpeg {self.version} from {self.origin} at {self.path}"


def _imageio_ffmpeg_exe() -> str:
    import imageio_ffmpeg

    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


def _candidates() -> list[tuple[Origin, Callable[[], str | None]]]:
    return [("system", lambda: shutil.which("ffmpeg")), ("imageio-ffmpeg", _imageio_ffmpeg_exe)]


def _version_of(path: str, timeout: float) -> str:
    """The version token of ``ffmpeg -version``; OSError or SubprocessError if it fails."""
    completed = subprocess.run(  # noqa: S603 - the path comes from PATH or imageio-ffmpeg
        [path, "-hide_banner", "-version"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=True,
    )
    first_line = completed.stdout.decode("utf-8", "replace").splitlines()[0:1]
    words = first_line[0].split() if first_line else []
    # "ffmpeg version n9.0.2-17-g2a571b6068-20260930 Copyright ..."
    if len(words) >= 3 and words[0] == "ffmpeg" and words[1] == "version":
        return words[2]
    raise subprocess.SubprocessError(f"unexpected output of {path} -version: {first_line!r}")


def find_ffmpeg(*, timeout: float = VERSION_TIMEOUT_SECONDS) -> FFmpeg:
    """The first ffmpeg that runs: the system's, else imageio-ffmpeg's.

    Raises RecorderUnavailable, naming every binary tried and why it failed.
    """
    problems: list[str] = []
    for origin, locate in _candidates():
        try:
            path = locate()
        except Exception as exc:  # imageio-ffmpeg raises RuntimeError, or is not installed
            problems.append(f"{origin}: {exc}")
            continue
        if not path:
            problems.append(f"{origin}: no 'ffmpeg' on PATH")
            continue
        try:
            version = _version_of(path, timeout)
        except subprocess.TimeoutExpired:
            problems.append(f"{origin}: {path} -version did not answer within {timeout:g} s")
        except subprocess.CalledProcessError as exc:
            problems.append(f"{origin}: {path} -version exited with status {exc.returncode}")
        except (OSError, subprocess.SubprocessError) as exc:
            problems.append(f"{origin}: {path} does not run ({exc})")
        else:
            return FFmpeg(path=path, version=version, origin=origin)
    raise RecorderUnavailable(
        "Recording is unavailable: no working ffmpeg was found ("
        + "; ".join(problems)
        + "). Install ffmpeg with the system's package manager (for example "
        "'apt install ffmpeg') or reinstall Council's dependencies with "
        "'pip install --force-reinstall imageio-ffmpeg', then restart Council."
    )


def describe() -> str:
    """One startup log line: which ffmpeg records, or why recording is unavailable."""
    try:
        return find_ffmpeg().describe()
    except RecorderUnavailable as exc:
        return str(exc)


@dataclass(frozen=True)
class ProgressReport:
    """One block of ``-progress`` output."""

    out_time_s: float | None
    bitrate_kbps: float | None
    frame: int | None
    speed: float | None
    end: bool


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    text = text.strip().removesuffix("kbits/s").removesuffix("x").strip()
    try:
        return float(text)
    except ValueError:  # "N/A"
        return None


class ProgressParser:
    """Feeds ``key=value`` lines; returns a report when a block ends with ``progress=...``."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> ProgressReport | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        if key != "progress":
            self._fields[key] = value
            return None
        fields, self._fields = self._fields, {}
        # out_time_ms is microseconds too (a historical misnomer in ffmpeg).
        micros = _number(fields.get("out_time_us", fields.get("out_time_ms")))
        frame = _number(fields.get("frame"))
        return ProgressReport(
            out_time_s=None if micros is None else micros / 1_000_000,
            bitrate_kbps=_number(fields.get("bitrate")),
            frame=None if frame is None else int(frame),
            speed=_number(fields.get("speed")),
            end=value.strip() == "end",
        )
