"""Websocket fan-out: Council's public socket against a bare `websockets` broadcast, same run.

For each N, every server is started with N connected clients of its own, and they take turns
broadcasting, a round each, in an order reversed every other round; the table gives
per-client latency (p50, p99), the time until the last client has the message ("complete"),
server memory per connection, and the longest GC pause inside the server during the rounds.

    python bench/fanout.py                      # N = 1,000 and 5,000, 5 rounds each
    python bench/fanout.py --quick              # N = 200, 1 round: a smoke run
    python bench/fanout.py --json results.json  # also write every raw figure
    python bench/fanout.py --servers council,council-redis  # 2 workers relaying through Redis

Absolute times drift 10-20 % between runs on a shared 2-core machine; the ratio of the two
servers measured side by side in one run is the figure to compare (see
shared/notes/performance.md). Everything runs on 127.0.0.1: servers and the client
processes share the same cores, as in the baseline measurements.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import math
import multiprocessing as mp
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil
from _gcprobe import raise_nofile_limit

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SLUG = "bench"
MODERATOR = "bench"
MODERATOR_PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throwaway local account
TARGET_TYPE = "approved"

CONNECT_TIMEOUT_S = 60.0
RECEIVE_TIMEOUT_S = 60.0
SERVER_START_TIMEOUT_S = 60.0
CLI_TIMEOUT_S = 60.0
# Handshakes in flight per client process; more just fills the accept queue and then retries.
CONNECT_CONCURRENCY = 50
SETTLE_S = 1.0
# Servers and clients outrank other work on the machine (when allowed): on 2 shared cores a
# test suite otherwise takes one mid-round and the round measures the test suite.
DEFAULT_NICE = -10
MIN_CPU_WINDOW_S = 0.5
WARMUP_ROUNDS = 1


# -- client side: runs in worker processes --------------------------------------------------


class _Clients:
    """One worker's share of connections and what each one received during a round."""

    def __init__(self) -> None:
        self.sockets: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        self.received_at: list[float] = []
        self.message_bytes = 0
        self.armed = False
        self.remaining = 0
        self.done = asyncio.Event()
        self.errors: list[str] = []

    def arm(self) -> None:
        self.received_at = [0.0] * len(self.sockets)
        self.remaining = len(self.sockets)
        self.done.clear()
        self.armed = True
        if self.remaining == 0:
            self.done.set()

    async def read(self, index: int, ws: Any) -> None:
        try:
            async for message in ws:
                # Timestamp first: parsing is client work, not the server's.
                now = time.time()
                if not self.armed or self.received_at[index]:
                    continue
                if json.loads(message).get("type") != TARGET_TYPE:
                    continue  # pings and unrelated events
                self.received_at[index] = now
                self.message_bytes = len(message)
                self.remaining -= 1
                if self.remaining == 0:
                    self.done.set()
        except Exception as exc:  # a dropped client shows up as "missing" in the round
            if len(self.errors) < 5:
                self.errors.append(f"reader: {exc!r}")


async def _connect_one(url: str, gate: asyncio.Semaphore, deadline: float) -> tuple[Any, str]:
    from websockets.asyncio.client import connect

    attempt = 0
    while True:
        attempt += 1
        try:
            async with gate:
                ws = await connect(
                    url,
                    compression=None,
                    proxy=None,
                    open_timeout=max(1.0, deadline - time.monotonic()),
                    # No client keep-alive: the benchmark is short and pings would be noise.
                    ping_interval=None,
                    close_timeout=1,
                    max_size=None,
                )
                first = await asyncio.wait_for(ws.recv(), max(1.0, deadline - time.monotonic()))
            return ws, json.loads(first).get("type", "?")
        except Exception:
            # The accept queue overflows under a connection storm; back off and try again.
            if attempt >= 8 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05 * attempt)


async def _connect_all(clients: _Clients, url: str, count: int) -> dict[str, Any]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    started = time.monotonic()
    outcomes = await asyncio.gather(
        *(_connect_one(url, gate, deadline) for _ in range(count)), return_exceptions=True
    )
    first_types: dict[str, int] = {}
    failed = 0
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            failed += 1
            if len(clients.errors) < 5:
                clients.errors.append(f"connect: {outcome!r}")
            continue
        ws, first_type = outcome
        first_types[first_type] = first_types.get(first_type, 0) + 1
        index = len(clients.sockets)
        clients.sockets.append(ws)
        clients.received_at.append(0.0)
        clients.readers.append(asyncio.create_task(clients.read(index, ws)))
    return {
        "connected": len(clients.sockets),
        "failed": failed,
        "first_message_types": first_types,
        "seconds": time.monotonic() - started,
        "errors": list(clients.errors),
    }


async def _worker_loop(pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    clients = _Clients()
    while True:
        # A thread waits on the pipe, so the event loop only ever serves the websockets.
        command, payload = await loop.run_in_executor(None, pipe.recv)
        if command == "connect":
            pipe.send(await _connect_all(clients, payload["url"], payload["count"]))
        elif command == "round":
            clients.arm()
            pipe.send({"armed": True})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(clients.done.wait(), payload["timeout"])
            clients.armed = False
            pipe.send(
                {
                    "received_at": clients.received_at,
                    "message_bytes": clients.message_bytes,
                    "errors": list(clients.errors),
                }
            )
        elif command == "close":
            pipe.send({"closed": len(clients.sockets)})
            return


def _worker_main(pipe: Connection, loop: str) -> None:
    raise_nofile_limit()
    try:
        if loop == "uvloop":
            import uvloop

            uvloop.run(_worker_loop(pipe))
        else:
            asyncio.run(_worker_loop(pipe))
    finally:
        # Closing thousands of sockets politely takes seconds and measures nothing; the
        # kernel closes them when the process goes.
        os._exit(0)


def _split(total: int, parts: int) -> list[int]:
    share, extra = divmod(total, parts)
    return [share + (1 if i < extra else 0) for i in range(parts)]


def _cpu_seconds(pid: int | None) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


class ClientPool:
    """N websocket clients spread over several processes, driven over pipes."""

    def __init__(self, workers: int, loop: str = "asyncio") -> None:
        context = mp.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[Any] = []
        # The URL each client process connected to, so a round can say who got what per server.
        self.pipe_urls: list[str] = []
        for _ in range(workers):
            ours, theirs = context.Pipe()
            process = context.Process(target=_worker_main, args=(theirs, loop), daemon=True)
            process.start()
            theirs.close()
            self.pipes.append(ours)
            self.processes.append(process)

    def _ask_all(self, command: str, payloads: Sequence[dict[str, Any]]) -> None:
        for pipe, payload in zip(self.pipes, payloads, strict=True):
            pipe.send((command, payload))

    def _answers(self, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        answers = []
        for pipe in self.pipes:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError("a client worker did not answer in time")
            answers.append(pipe.recv())
        return answers

    def connect(self, urls: Sequence[str], total: int) -> dict[str, Any]:
        """Split `total` clients evenly over `urls`, each URL's share over its own processes."""
        if len(self.pipes) < len(urls):
            raise ValueError(f"{len(urls)} servers need at least as many client processes")
        self.pipe_urls = [urls[i % len(urls)] for i in range(len(self.pipes))]
        counts = [0] * len(self.pipes)
        for u, url_total in enumerate(_split(total, len(urls))):
            mine = [i for i in range(len(self.pipes)) if i % len(urls) == u]
            for i, count in zip(mine, _split(url_total, len(mine)), strict=True):
                counts[i] = count
        self._ask_all(
            "connect", [{"url": u, "count": c} for u, c in zip(self.pipe_urls, counts, strict=True)]
        )
        answers = self._answers(CONNECT_TIMEOUT_S + 30)
        by_url: dict[str, int] = dict.fromkeys(urls, 0)
        for url, answer in zip(self.pipe_urls, answers, strict=True):
            by_url[url] += answer["connected"]
        first_types: dict[str, int] = {}
        for answer in answers:
            for kind, count in answer["first_message_types"].items():
                first_types[kind] = first_types.get(kind, 0) + count
        return {
            "connected": sum(a["connected"] for a in answers),
            "failed": sum(a["failed"] for a in answers),
            "seconds": max(a["seconds"] for a in answers),
            "first_message_types": first_types,
            "connected_by_url": by_url,
            "errors": [e for a in answers for e in a["errors"]][:5],
        }

    def arm(self, quiet_wait_s: float) -> None:
        timeout = RECEIVE_TIMEOUT_S + quiet_wait_s + SETTLE_S
        self._ask_all("round", [{"timeout": timeout}] * len(self.pipes))
        self._answers(10)

    def collect(self) -> tuple[dict[str, list[float]], int, list[str]]:
        """Each client's receive time (0.0: nothing), by the URL it is connected to."""
        answers = self._answers(RECEIVE_TIMEOUT_S + 10)
        times: dict[str, list[float]] = {url: [] for url in self.pipe_urls}
        for url, answer in zip(self.pipe_urls, answers, strict=True):
            times[url] += answer["received_at"]
        size = max(a["message_bytes"] for a in answers)
        return times, size, [e for a in answers for e in a["errors"]][:5]

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(p.pid) for p in self.processes)

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(Exception):
                pipe.send(("close", {}))
        for process in self.processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)


# -- server side ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(
    port: int,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")
    finally:
        conn.close()


class Server:
    """A server subprocess (one of the wrappers), its memory, and its GC probe."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        workdir: Path,
        *,
        port: int = 0,  # for callers that keep the port themselves (bench/intake.py)
        gc_report: bool = True,
    ) -> None:
        self.name = name
        self.port = port
        self.workdir = workdir
        self.gc_report = workdir / f"{name}-gc.json"
        self.log_path = workdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*argv, "--gc-report", str(self.gc_report)] if gc_report else argv,
            env=env,
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so a Ctrl-C on the benchmark is ours to handle
        )
        self.ps = psutil.Process(self.process.pid)
        self._reports = 0

    def wait_ready(self, port: int, path: str) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                status, _ = http_json(port, "GET", path, timeout=2)
                if status == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not answer on port {port}:\n{self.log_tail()}")

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def gc_window(self) -> dict[str, Any]:
        """What the collector did since the previous call, and start a new window."""
        self.process.send_signal(signal.SIGUSR1)
        self._reports += 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                report: dict[str, Any] = json.loads(self.gc_report.read_text())
                if report["report"] >= self._reports:
                    return report
            time.sleep(0.005)
        raise TimeoutError(f"{self.name} did not write its GC report")

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


def base_env() -> dict[str, str]:
    # Inherited COUNCIL_* settings (a Redis URL, a PostgreSQL URL) would change what is measured.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNCIL_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def council_cli() -> list[str]:
    exe = shutil.which("council")
    if exe:
        return [exe]
    # A source checkout without `pip install -e .` has no `council` script; same entry point.
    return [sys.executable, "-c", "import sys; from council.cli import main; sys.exit(main())"]


def run_cli(args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None) -> str:
    result = subprocess.run(
        [*council_cli(), *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`council {' '.join(args)}` exited {result.returncode}:\n{result.stderr.strip()}"
        )
    return result.stdout


@dataclass
class Setup:
    """How to start one kind of server, trigger one broadcast, and what its URL is."""

    name: str
    server: Server
    port: int
    ws_url: str
    trigger_path: str
    trigger_method: str = "GET"
    trigger_headers: dict[str, str] = field(default_factory=dict)
    pending_ids: list[int] = field(default_factory=list)
    # More workers of the same app, each with its websocket URL (council-redis). The clients
    # are split evenly over every worker; the trigger still goes to `server` alone.
    others: list[tuple[Server, str]] = field(default_factory=list)

    @property
    def servers(self) -> list[Server]:
        return [self.server, *(server for server, _ in self.others)]

    @property
    def ws_urls(self) -> list[str]:
        return [self.ws_url, *(url for _, url in self.others)]

    def server_for(self, url: str) -> Server:
        return dict(zip(self.ws_urls, self.servers, strict=True))[url]

    def rss(self) -> int:
        return sum(server.rss() for server in self.servers)

    def gc_window(self) -> dict[str, Any]:
        """The GC reports of every worker since the previous call; one worker's as it is."""
        reports = {server.name: server.gc_window() for server in self.servers}
        if len(reports) == 1:
            return next(iter(reports.values()))
        # The CPU time of the longest pause, not the longest CPU time: the table compares the
        # two to tell a slow collection from a preempted one.
        longest = max(reports.values(), key=lambda r: float(r["max_ms"]))
        return {"max_ms": longest["max_ms"], "max_cpu_ms": longest["max_cpu_ms"], **reports}

    def signal_all(self, signum: int) -> None:
        for server in self.servers:
            server.process.send_signal(signum)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def trigger_request(self) -> tuple[str, str, dict[str, str]]:
        if self.name in COUNCIL_KINDS:
            # Each round approves a question still pending: approving twice would be a 409.
            sub_id = self.pending_ids.pop(0)
            path = f"/api/meetings/{SLUG}/submissions/{sub_id}/approve"
            return "POST", path, self.trigger_headers
        return self.trigger_method, self.trigger_path, self.trigger_headers


def start_bare(workdir: Path, name: str, message_bytes: int) -> Setup:
    port = free_port()
    argv = [sys.executable, str(BENCH_DIR / "_serve_bare.py"), "--port", str(port)]
    argv += ["--loop", "uvloop" if name == "bare-uvloop" else "asyncio"]
    argv += ["--message-bytes", str(message_bytes)]
    server = Server(name, argv, base_env(), workdir, port=port)
    try:
        server.wait_ready(port, "/health")
    except Exception:
        server.stop()
        raise
    return Setup(name, server, port, f"ws://127.0.0.1:{port}/", "/trigger")


def council_env(workdir: Path) -> tuple[dict[str, str], str]:
    """A data folder set up with the CLI as a clerk would: the servers' environment, the token.

    The database is the SQLite file in that folder, so every worker started with this
    environment has the same database URL (and so, with Redis, the same relay channel).
    """
    data_dir = workdir / "council-data"
    data_dir.mkdir()
    env = base_env()
    env["COUNCIL_DATA_DIR"] = str(data_dir)
    env["COUNCIL_SUBMISSION_RATE_LIMIT"] = "100000/second"

    run_cli(["db", "upgrade"], env, workdir)
    run_cli(["meeting", "create", SLUG, "--title", "Bench"], env, workdir)
    run_cli(
        ["user", "add", MODERATOR, "--role", "moderator", "--password-stdin"],
        env,
        workdir,
        stdin=MODERATOR_PASSWORD + "\n",
    )
    token = run_cli(["token", "create", MODERATOR], env, workdir).strip().splitlines()[-1].strip()
    return env, token


def start_council_worker(name: str, env: dict[str, str], workdir: Path, ws_impl: str) -> Server:
    port = free_port()
    argv = [sys.executable, str(BENCH_DIR / "_serve_council.py"), "--port", str(port)]
    argv += ["--ws", ws_impl]
    server = Server(name, argv, env, workdir, port=port)
    try:
        server.wait_ready(port, f"/api/meetings/{SLUG}/state")
    except Exception:
        server.stop()
        raise
    return server


def council_setup(
    name: str, workers: list[Server], env: dict[str, str], token: str, rounds: int
) -> Setup:
    """Questions to approve, posted to the first worker; clients go to every worker's URL."""
    first = workers[0]
    pending = create_pending(first.port, rounds, env, first.workdir)
    return Setup(
        name,
        first,
        first.port,
        council_ws_url(first.port),
        "",
        trigger_headers={"Authorization": f"Bearer {token}"},
        pending_ids=pending,
        others=[(worker, council_ws_url(worker.port)) for worker in workers[1:]],
    )


def council_ws_url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/ws/meetings/{SLUG}"


def start_council(workdir: Path, rounds: int, ws_impl: str) -> Setup:
    env, token = council_env(workdir)
    server = start_council_worker("council", env, workdir, ws_impl)
    try:
        return council_setup("council", [server], env, token, rounds)
    except Exception:
        server.stop()
        raise


class RedisUnavailable(Exception):
    """No Redis to relay through: council-redis is skipped, not failed."""


def redis_reachable(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def start_council_redis(workdir: Path, rounds: int, ws_impl: str, redis_url: str) -> Setup:
    """Two Council workers on one SQLite database, relaying their events through Redis."""
    if not redis_reachable(redis_url):
        raise RedisUnavailable(
            f"skipped: start Redis at 127.0.0.1:6379 (or pass --redis-url; {redis_url} is silent)"
        )
    env, token = council_env(workdir)
    env["COUNCIL_REDIS_URL"] = redis_url
    # The workers also read the event log every second, which would deliver a message Redis
    # lost to worker B a second late instead of not at all. With the log read only hourly, a
    # client of worker B gets each message through Redis or shows up as missing.
    env["COUNCIL_EVENT_TAIL_SECONDS"] = "3600"
    workers: list[Server] = []
    try:
        for letter in ("a", "b"):
            workers.append(start_council_worker(f"council-redis-{letter}", env, workdir, ws_impl))
        for worker in workers:
            wait_subscribed(worker)
        return council_setup("council-redis", workers, env, token, rounds)
    except Exception:
        for worker in workers:
            worker.stop()
        raise


def wait_subscribed(server: Server) -> None:
    """Until the worker's relay listens on its channel: what is published before, it misses."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    body: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            _, body = http_json(server.port, "GET", "/readyz", timeout=5)
            if isinstance(body, dict) and body.get("checks", {}).get("redis", {}).get("subscribed"):
                return
        time.sleep(0.1)
    raise TimeoutError(f"{server.name} did not subscribe to Redis: {body!r}")


def create_pending(port: int, count: int, env: dict[str, str], workdir: Path) -> list[int]:
    ids: list[int] = []
    started_meeting = False
    text = (
        "When will the street lights on Calle Mayor be repaired? They have been out since the "
        "storm and the crossing by the school is dark at seven in the morning."
    )
    while len(ids) < count:
        status, body = http_json(
            port, "POST", f"/api/meetings/{SLUG}/submissions", {"name": "Ana", "text": text}
        )
        if status == 409 and not started_meeting:
            # A meeting that is not accepting questions yet: open it, as a clerk would.
            run_cli(["meeting", "start", SLUG], env, workdir)
            started_meeting = True
            continue
        if (
            status != 201
            or not isinstance(body, dict)
            or body.get("status") != "pending"
            or not {"id", "track_url"} <= body.keys()
        ):
            raise RuntimeError(f"creating a question: HTTP {status} {body!r}")
        ids.append(int(body["id"]))
    return ids


# -- measuring ------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: a value some client actually saw."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Round:
    trigger_status: int
    trigger_ms: float
    received: int
    missing: int
    p50_ms: float
    p99_ms: float
    complete_ms: float
    message_bytes: int
    gc_max_ms: float
    gc: dict[str, Any]
    errors: list[str]
    gc_max_cpu_ms: float = 0.0
    waited_for_quiet_s: float = 0.0
    background_before: float = 0.0
    # CPU time from the trigger until the last client had the message: the server's, the
    # clients', and every other process's; background = the others' share of one core.
    server_cpu_ms: float = 0.0
    clients_cpu_ms: float = 0.0
    others_cpu_ms: float = 0.0
    background: float = 0.0
    # With several workers: per worker, its clients' connected, received, p50_ms, complete_ms.
    by_server: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class Result:
    server: str
    n: int
    connected: int = 0
    connect_s: float = 0.0
    first_message_types: dict[str, int] = field(default_factory=dict)
    rss_before: int = 0
    rss_after: int = 0
    kib_per_conn: float = math.nan
    connect_gc: dict[str, Any] = field(default_factory=dict)
    rounds: list[Round] = field(default_factory=list)
    # Rounds repeated because another process took more than --max-background of a core.
    disturbed: list[Round] = field(default_factory=list)
    # The first broadcast after the clients connected, left out of the medians (raw in --json).
    warmup: list[Round] = field(default_factory=list)
    error: str | None = None
    # Why the configuration did not run although nothing failed (no Redis to relay through).
    skipped: str | None = None

    def median(self, attr: str) -> float:
        values = [getattr(r, attr) for r in self.rounds if not math.isnan(getattr(r, attr))]
        return statistics.median(values) if values else math.nan

    @property
    def gc_max_ms(self) -> float:
        return max((r.gc_max_ms for r in self.rounds), default=math.nan)


class CpuMeter:
    """Splits CPU time into the server's, the clients', and every other process's.

    This machine is shared (test suites run beside the benchmark), and a round during which
    something else took a core measures that, not the server.
    """

    def __init__(self, setup: Setup, pool: ClientPool) -> None:
        self.server_pids = [server.process.pid for server in setup.servers]
        self.pool = pool
        self.mark()

    def _now(self) -> tuple[float, float, float, float]:
        t = psutil.cpu_times()
        # Only process-context time: softirq work for our own loopback traffic is not charged
        # to any process and would otherwise count as "others".
        busy = float(t.user + t.nice + t.system)
        ours = _cpu_seconds(os.getpid())
        server = sum(_cpu_seconds(pid) for pid in self.server_pids)
        return time.monotonic(), server, self.pool.cpu_seconds() + ours, busy

    def mark(self) -> None:
        self._start = self._now()
        self.started = self._start[0]

    def read(self) -> tuple[float, float, float, float]:
        """Since the mark: wall seconds, server CPU s, clients CPU s, other processes' CPU s."""
        end = self._now()
        wall, server, clients, busy = (b - a for a, b in zip(self._start, end, strict=True))
        return wall, server, clients, max(0.0, busy - server - clients)


def wait_for_quiet(meter: CpuMeter, max_background: float, limit_s: float) -> tuple[float, float]:
    """Settle, then keep waiting (bounded) while other processes keep a core busy.

    Returns the seconds waited and the other processes' share of one core just before.
    """
    started = time.monotonic()
    meter.mark()
    time.sleep(SETTLE_S)
    wall, _, _, others = meter.read()
    while others / wall > max_background and time.monotonic() - started < limit_s:
        meter.mark()
        time.sleep(0.5)
        wall, _, _, others = meter.read()
    return time.monotonic() - started, others / wall


def one_round(
    setup: Setup, pool: ClientPool, expected: dict[str, int], options: argparse.Namespace
) -> Round:
    """One broadcast; `expected`: how many clients are connected to each websocket URL."""
    meter = CpuMeter(setup, pool)
    pool.arm(options.quiet_wait)
    waited_s, background_before = wait_for_quiet(meter, options.max_background, options.quiet_wait)
    profile = options.profile is not None
    method, path, headers = setup.trigger_request()
    conn = http.client.HTTPConnection("127.0.0.1", setup.port, timeout=RECEIVE_TIMEOUT_S)
    try:
        conn.connect()  # the TCP handshake is not part of the trigger
        setup.gc_window()  # discarded: the window for this round starts now
        if profile:
            setup.signal_all(signal.SIGUSR2)
            time.sleep(0.05)  # the handler runs at the server's next bytecode
        meter.mark()
        t0 = time.time()
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        response.read()
        trigger_ms = (time.time() - t0) * 1000
    finally:
        conn.close()
    times_by_url, size, errors = pool.collect()
    if profile:
        setup.signal_all(signal.SIGUSR2)
    gc_report = setup.gc_window()
    # CPU time comes in 10 ms ticks: over a 30 ms round one tick of anybody else would read as
    # a third of a core. Half a second from the trigger covers the round and evens that out.
    time.sleep(max(0.0, MIN_CPU_WINDOW_S - (time.monotonic() - meter.started)))
    wall, server_cpu, clients_cpu, others_cpu = meter.read()
    if response.status >= 300:
        errors = [f"trigger {method} {path}: HTTP {response.status}", *errors]
    latencies = sorted((t - t0) * 1000 for ts in times_by_url.values() for t in ts if t)
    by_server: dict[str, dict[str, float]] = {}
    if len(times_by_url) > 1:
        for url, times in times_by_url.items():
            own = sorted((t - t0) * 1000 for t in times if t)
            by_server[setup.server_for(url).name] = {
                "connected": expected[url],
                "received": len(own),
                "p50_ms": percentile(own, 0.50),
                "complete_ms": own[-1] if own else math.nan,
            }
    return Round(
        trigger_status=response.status,
        trigger_ms=trigger_ms,
        received=len(latencies),
        missing=sum(expected.values()) - len(latencies),
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        complete_ms=latencies[-1] if latencies else math.nan,
        message_bytes=size,
        gc_max_ms=float(gc_report["max_ms"]),
        gc=gc_report,
        errors=errors,
        gc_max_cpu_ms=float(gc_report["max_cpu_ms"]),
        waited_for_quiet_s=waited_s,
        background_before=background_before,
        server_cpu_ms=server_cpu * 1000,
        clients_cpu_ms=clients_cpu * 1000,
        others_cpu_ms=others_cpu * 1000,
        background=others_cpu / wall if wall > 0 else 0.0,
        by_server=by_server,
    )


@dataclass
class Stage:
    """One server's part in one N: its result so far and its connected clients."""

    setup: Setup
    result: Result
    pool: ClientPool | None = None
    expected: dict[str, int] = field(default_factory=dict)
    retries: int = 0


def connect_clients(stage: Stage, options: argparse.Namespace) -> None:
    """Connect the stage's N clients (its pool is closed by the caller, even on failure)."""
    setup, result = stage.setup, stage.result
    # One throwaway connection first, so lazily imported modules and first-use caches of the
    # websocket stack are in the baseline rather than billed to the N clients.
    urls = setup.ws_urls
    warm = ClientPool(len(urls), options.client_loop)
    try:
        warm.connect(urls, len(urls))
    finally:
        warm.close()
    time.sleep(0.5)
    setup.gc_window()
    result.rss_before = setup.rss()
    stage.pool = ClientPool(options.workers, options.client_loop)
    connected = stage.pool.connect(urls, result.n)
    result.connected = connected["connected"]
    result.connect_s = connected["seconds"]
    result.first_message_types = connected["first_message_types"]
    if connected["failed"]:
        result.error = f"{connected['failed']} clients failed: {connected['errors']}"
    time.sleep(SETTLE_S)
    result.rss_after = setup.rss()
    if result.connected:
        result.kib_per_conn = (result.rss_after - result.rss_before) / result.connected / 1024
    result.connect_gc = setup.gc_window()
    stage.expected = connected["connected_by_url"]
    if result.error is None:
        # A first broadcast of each server is slower for both alike (first statements compiled,
        # buffers grown, caches cold), and weighs on a median of a few rounds: not counted.
        result.warmup.append(one_round(setup, stage.pool, stage.expected, options))


def play_round(stage: Stage, options: argparse.Namespace) -> None:
    """One round that counts: a round disturbed by other processes is kept aside and
    repeated, while this configuration has repeats left."""
    assert stage.pool is not None
    while True:
        attempt = one_round(stage.setup, stage.pool, stage.expected, options)
        if attempt.background > options.max_background and stage.retries > 0:
            # Kept in the raw results, left out of the medians, and said so in the table.
            stage.retries -= 1
            stage.result.disturbed.append(attempt)
            continue
        stage.result.rounds.append(attempt)
        return


def measure_side_by_side(stages: list[Stage], options: argparse.Namespace) -> None:
    """The servers take turns, round by round, in an order reversed every other round
    (A B, B A, A B, ...): the machine's speed drifts by a fifth within minutes here, and
    side by side each median is taken over the same stretch of time."""
    for index in range(options.rounds):
        for stage in stages if index % 2 == 0 else reversed(stages):
            if stage.result.error is not None or stage.pool is None:
                continue
            try:
                play_round(stage, options)
            except Exception as exc:
                stage.result.error = f"{type(exc).__name__}: {exc}"
                for server in stage.setup.servers:
                    print(server.log_tail(), file=sys.stderr)


# -- report ---------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


SERVERS = ("bare", "bare-uvloop", "council", "council-redis")
COUNCIL_KINDS = ("council", "council-redis")
LABELS = {
    "bare": "bare `websockets.broadcast()`",
    "bare-uvloop": "bare `websockets.broadcast()`, uvloop",
    "council": "Council `/ws/meetings/{slug}`",
    "council-redis": "Council, 2 workers + Redis (SQLite)",
}
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def table(results: list[Result], max_background: float) -> str:
    lines = [
        "| server | N | p50 ms | p99 ms | complete ms | KiB/conn | GC max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.skipped:
            continue
        lines.append(
            f"| {LABELS.get(r.server, r.server)} | {r.n:,} | {fmt(r.median('p50_ms'))} "
            f"| {fmt(r.median('p99_ms'))} | {fmt(r.median('complete_ms'))} "
            f"| {fmt(r.kib_per_conn)} | {fmt(r.gc_max_ms)} |"
        )
    lines.append("")
    for n in sorted({r.n for r in results}):
        by_server = {r.server: r for r in results if r.n == n}
        council = by_server.get("council")
        for name in ("bare", "bare-uvloop"):
            bare = by_server.get(name)
            if bare and council:
                ratio = council.median("complete_ms") / bare.median("complete_ms")
                lines.append(
                    f"N = {n:,}: Council complete / {name} complete = {fmt(ratio, 2)}x"
                    " (target <= 1.3x)"
                )
        redis = by_server.get("council-redis")
        if redis and redis.rounds:
            if council:
                ratio = redis.median("complete_ms") / council.median("complete_ms")
                lines.append(
                    f"N = {n:,}: council-redis complete / council complete = {fmt(ratio, 2)}x"
                    " (target <= 2x)"
                )
            lines.append(f"N = {n:,}: council-redis by worker: {per_worker(redis)}")
    notes = []
    for r in results:
        if r.skipped:
            notes.append(f"- {r.server} N={r.n}: {r.skipped}")
            continue
        missing = sum(rd.missing for rd in r.rounds)
        if r.error or missing or r.connected != r.n:
            notes.append(
                f"- {r.server} N={r.n}: connected {r.connected}, missing messages {missing}"
                + (f", {r.error}" if r.error else "")
            )
        if r.connected and r.first_message_types != {"snapshot": r.connected}:
            notes.append(f"- {r.server} N={r.n}: first messages were {r.first_message_types}")
        if r.disturbed:
            notes.append(
                f"- {r.server} N={r.n}: {len(r.disturbed)} round(s) repeated because other "
                "processes were busy (raw figures in --json)"
            )
        for i, rd in enumerate(r.rounds, 1):
            if rd.background > max_background:
                notes.append(
                    f"- {r.server} N={r.n} round {i}: other processes used "
                    f"{rd.background:.0%} of a core during the round"
                )
            if rd.gc_max_ms > 10 and rd.gc_max_ms > 2 * rd.gc_max_cpu_ms:
                notes.append(
                    f"- {r.server} N={r.n} round {i}: the longest GC pause took "
                    f"{rd.gc_max_ms:.1f} ms but only {rd.gc_max_cpu_ms:.1f} ms of CPU: preempted"
                )
            if rd.errors:
                notes.append(f"- {r.server} N={r.n} round {i}: {'; '.join(rd.errors)}")
        for rd in r.warmup:
            if rd.errors or rd.missing:
                problems = "; ".join(rd.errors) or f"{rd.missing} clients missed it"
                notes.append(f"- {r.server} N={r.n} warm-up round: {problems}")
    if notes:
        lines += ["", "Problems:", *notes]
    return "\n".join(lines)


def per_worker(result: Result) -> str:
    """Each worker's clients: who received every message, and their median p50 and complete."""
    parts = []
    for name in result.rounds[0].by_server:
        rows = [rd.by_server[name] for rd in result.rounds]
        received = ", ".join(f"{int(row['received'])}/{int(row['connected'])}" for row in rows)
        p50 = statistics.median(row["p50_ms"] for row in rows)
        complete = statistics.median(row["complete_ms"] for row in rows)
        parts.append(f"{name} received {received}, p50 {fmt(p50)} ms, complete {fmt(complete)} ms")
    return "; ".join(parts) + " (trigger to -a; -b hears of it only through Redis)"


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "websockets": version("websockets"),
        "uvicorn": version("uvicorn"),
        "fastapi": version("fastapi"),
        "uvloop": version("uvloop"),
    }


def start(name: str, workdir: Path, options: argparse.Namespace) -> Setup:
    rounds = WARMUP_ROUNDS + options.rounds + options.retries
    if name == "council":
        return start_council(workdir, rounds, options.council_ws)
    if name == "council-redis":
        return start_council_redis(workdir, rounds, options.council_ws, options.redis_url)
    return start_bare(workdir, name, options.message_bytes)


def measure_size(
    n: int, servers: list[str], tmp: Path, options: argparse.Namespace
) -> list[Result]:
    """Every server up at once with N clients each, then their rounds side by side."""
    results: list[Result] = []
    stages: list[Stage] = []
    try:
        for name in servers:
            workdir = tmp / f"{name}-{n}"
            workdir.mkdir()
            print(f"# {name} N={n} ...", file=sys.stderr, flush=True)
            try:
                setup = start(name, workdir, options)
            except RedisUnavailable as exc:
                results.append(Result(name, n, skipped=str(exc)))
                print(f"# {name} N={n} {exc}", file=sys.stderr)
                continue
            except Exception as exc:
                results.append(Result(name, n, error=f"could not start: {exc}"))
                print(f"# {name} N={n} failed to start: {exc}", file=sys.stderr)
                continue
            stage = Stage(setup, Result(name, n), retries=options.retries)
            stages.append(stage)
            try:
                connect_clients(stage, options)
            except Exception as exc:
                stage.result.error = f"{type(exc).__name__}: {exc}"
                for server in setup.servers:
                    print(server.log_tail(), file=sys.stderr)
        measure_side_by_side(stages, options)
    finally:
        for stage in stages:
            if stage.pool is not None:
                stage.pool.close()
            stage.setup.stop()
    for stage in stages:
        result = stage.result
        results.append(result)
        for server in stage.setup.servers:
            prof = server.gc_report.with_suffix(".prof")
            if options.profile and prof.exists():
                options.profile.mkdir(parents=True, exist_ok=True)
                shutil.copy(prof, options.profile / f"{server.name}-{n}.prof")
        print(
            f"# {result.server} N={n}: connected {result.connected} in {result.connect_s:.1f}s, "
            f"complete {[fmt(r.complete_ms) for r in result.rounds]} ms, "
            f"GC max {[fmt(r.gc_max_ms) for r in result.rounds]} ms, "
            f"background {[fmt(r.background * 100, 0) for r in result.rounds]} %, "
            f"repeated {len(result.disturbed)}",
            file=sys.stderr,
            flush=True,
        )
    order = {name: i for i, name in enumerate(servers)}
    return sorted(results, key=lambda r: order.get(r.server, len(order)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000", help="client counts, comma-separated")
    parser.add_argument(
        "--rounds", type=int, default=5, help="broadcasts per configuration, after a warm-up one"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: N=200, 1 round")
    parser.add_argument("--workers", type=int, default=4, help="client processes")
    parser.add_argument(
        "--servers",
        default="bare,council",
        help="comma-separated, from: bare (asyncio loop), bare-uvloop, council, council-redis "
        "(two Council workers on one database, relaying through Redis)",
    )
    parser.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help="Redis for council-redis (skipped when it does not answer)",
    )
    parser.add_argument(
        "--message-bytes", type=int, default=300, help="size of the bare server's message"
    )
    parser.add_argument(
        "--council-ws",
        default="auto",
        help="uvicorn --ws implementation for Council (auto = websockets-sansio)",
    )
    parser.add_argument(
        "--client-loop",
        choices=["asyncio", "uvloop"],
        default="uvloop",
        # The clients share the two cores with the server: the cheaper they are, the more the
        # figures say about the server. uvloop halves their cost per message.
        help="event loop of the client processes",
    )
    parser.add_argument(
        "--max-background",
        type=float,
        default=0.25,
        help="share of one core other processes may use during a round before it is repeated",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=10.0,
        help="longest wait per round for other processes to calm down, seconds",
    )
    parser.add_argument(
        "--nice",
        type=int,
        help="niceness for the benchmark, its servers and clients (default: -10 when allowed, "
        "which keeps a test suite running beside it from taking the cores mid-round)",
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="repeats of disturbed rounds, per configuration"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="cProfile the servers during the rounds into this folder (slows them: diagnosis only)",
    )
    parser.add_argument("--json", type=Path, help="write raw results here")
    parser.add_argument("--budget", type=float, default=450, help="seconds before giving up")
    args = parser.parse_args(argv)

    try:
        sizes = [200] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes integers, e.g. --sizes 1000,5000")
    if args.quick:
        args.rounds = 1
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if any(s not in SERVERS for s in servers):
        parser.error(f"--servers takes {', '.join(SERVERS)}")
    if args.rounds < 1 or args.workers < 1 or args.retries < 0 or not sizes:
        parser.error("--rounds and --workers must be >= 1, --retries >= 0, --sizes not empty")
    if "council-redis" in servers and args.workers < 2:
        parser.error("council-redis needs --workers >= 2: one client process per Council worker")

    raise_nofile_limit()
    # Inherited by every process and thread started from here on: servers, clients, CLI.
    try:
        os.setpriority(os.PRIO_PROCESS, 0, DEFAULT_NICE if args.nice is None else args.nice)
    except PermissionError:
        if args.nice is not None:
            parser.error(f"--nice {args.nice} needs root (or CAP_SYS_NICE)")
        print("# not allowed to raise priority: running at the normal one", file=sys.stderr)
    args.nice = os.getpriority(os.PRIO_PROCESS, 0)
    started = time.monotonic()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="council-fanout-") as tmp:
        for n in sizes:
            if time.monotonic() - started > args.budget:
                print(f"# out of time budget: skipped N={n}", file=sys.stderr)
                continue
            results += measure_size(n, servers, Path(tmp), args)
    print(table(results, args.max_background))
    if args.json:
        raw = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "command": " ".join(["python", "bench/fanout.py", *(argv or sys.argv[1:])]),
            "machine": machine(),
            "options": {k: str(v) for k, v in vars(args).items()},
            "seconds": time.monotonic() - started,
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(raw, indent=2, default=str))
    ok = all(r.skipped or (r.error is None and r.rounds) for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # The finally blocks have stopped the servers and clients by now.
        sys.exit(130)
