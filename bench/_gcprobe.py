"""In-server probe shared by the wrappers: GC pause times and a raised fd limit.

The probe has to live inside the server process, because a collection stalls only the
interpreter that runs it. The benchmark asks for a report with SIGUSR1: the handler writes
what the collector did since the previous report to a JSON file and starts a new window, so
one window spans exactly one broadcast round.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import signal
import time
from pathlib import Path
from typing import Any

# A collection shorter than this is not listed one by one; it still counts toward the max.
LIST_PAUSES_OVER_S = 0.0005


def raise_nofile_limit() -> None:
    """Lift the soft fd limit to the hard one: one socket per client, 5,000 clients."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class GCProbe:
    def __init__(self, report_path: Path) -> None:
        self.report_path = report_path
        self.reports = 0
        self._started = 0.0
        self._reset()

    def _reset(self) -> None:
        self.window_start = time.time()
        self.max_s = 0.0
        self.max_generation = -1
        self.total_s = 0.0
        self.counts = [0, 0, 0]
        self.pauses: list[tuple[float, int, float]] = []

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        duration = time.perf_counter() - self._started
        generation = int(info.get("generation", 0))
        self.counts[generation] += 1
        self.total_s += duration
        if duration > self.max_s:
            self.max_s = duration
            self.max_generation = generation
        if duration >= LIST_PAUSES_OVER_S:
            self.pauses.append((time.time() - duration, generation, duration))

    def _report(self, _signum: int, _frame: object) -> None:
        self.reports += 1
        payload = {
            "report": self.reports,
            "pid": os.getpid(),
            "window_start": self.window_start,
            "window_end": time.time(),
            "max_ms": self.max_s * 1000,
            "max_generation": self.max_generation,
            "total_ms": self.total_s * 1000,
            "collections": self.counts,
            "frozen": gc.get_freeze_count(),
            "pauses": [
                {"start": start, "generation": gen, "ms": round(duration * 1000, 3)}
                for start, gen, duration in self.pauses
            ],
        }
        # Written then renamed so the benchmark never reads half a report.
        tmp = self.report_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, self.report_path)
        self._reset()

    def install(self) -> None:
        gc.callbacks.append(self._callback)
        signal.signal(signal.SIGUSR1, self._report)
