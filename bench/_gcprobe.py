"""In-server probe shared by the wrappers: GC pause times and a raised fd limit.

The probe has to live inside the server process, because a collection stalls only the
interpreter that runs it. The benchmark asks for a report with SIGUSR1: the handler writes
what the collector did since the previous report to a JSON file and starts a new window, so
one window spans exactly one broadcast round.
"""

from __future__ import annotations

import cProfile
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
        self._started_cpu = 0.0
        self._reset()

    def _reset(self) -> None:
        self.window_start = time.time()
        self.max_s = 0.0
        self.max_cpu_s = 0.0
        self.max_generation = -1
        self.total_s = 0.0
        self.counts = [0, 0, 0]
        self.collected = 0
        self.pauses: list[tuple[float, int, float, int]] = []

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            self._started_cpu = time.thread_time()
            return
        duration = time.perf_counter() - self._started
        # Wall time is the pause clients feel; CPU time tells a long collection from one that
        # was merely preempted by another process on a busy machine.
        self.max_cpu_s = max(self.max_cpu_s, time.thread_time() - self._started_cpu)
        generation = int(info.get("generation", 0))
        # Many objects freed by a collection mean cyclic garbage made per message or client.
        collected = int(info.get("collected", 0))
        self.collected += collected
        self.counts[generation] += 1
        self.total_s += duration
        if duration > self.max_s:
            self.max_s = duration
            self.max_generation = generation
        if duration >= LIST_PAUSES_OVER_S:
            self.pauses.append((time.time() - duration, generation, duration, collected))

    def _report(self, _signum: int, _frame: object) -> None:
        self.reports += 1
        payload = {
            "report": self.reports,
            "pid": os.getpid(),
            "window_start": self.window_start,
            "window_end": time.time(),
            "max_ms": self.max_s * 1000,
            "max_cpu_ms": self.max_cpu_s * 1000,
            "max_generation": self.max_generation,
            "total_ms": self.total_s * 1000,
            "collections": self.counts,
            "collected": self.collected,
            "pauses": [
                {
                    "start": start,
                    "generation": gen,
                    "ms": round(duration * 1000, 3),
                    "collected": collected,
                }
                for start, gen, duration, collected in self.pauses
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
        Profiler(self.report_path.with_suffix(".prof")).install()


class Profiler:
    """SIGUSR2 starts profiling the event loop's thread, the next SIGUSR2 stops and dumps it.

    Only for finding where the time goes (`fanout.py --profile`): a profiled round is slower.
    Windows accumulate into one file, so several rounds make one profile.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.profile = cProfile.Profile()
        self.running = False

    def _toggle(self, _signum: int, _frame: object) -> None:
        if self.running:
            self.profile.disable()
            self.profile.dump_stats(self.path)
        else:
            self.profile.enable()
        self.running = not self.running

    def install(self) -> None:
        signal.signal(signal.SIGUSR2, self._toggle)
