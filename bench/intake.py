"""Durable question intake: Council's POST /api/meetings/{slug}/submissions against a FastAPI
endpoint that validates the same body and stores nothing, measured in the same run.

    python bench/intake.py                  # SQLite and PostgreSQL (if reachable), ~2 min
    python bench/intake.py --backends sqlite --seconds 5

A load generator process (uvloop, raw HTTP/1.1 keep-alive, ``--concurrency`` connections)
posts ~300-byte questions; every load loop is bounded in time and count. For each backend,
the no-op and Council run side by side, idle but for the one under load, and take turns in
``--slices`` short slices (no-op, Council, Council, no-op, ...) that add up to ``--seconds``
each, after a 2 s warm-up of both. The ratio is of their summed rates. On a shared machine the
no-op's own rate drifts by a fifth within a minute; slices a few seconds apart, in an order
that cancels a steady drift, measure the two at the same machine speed. The server not under
load is stopped (SIGSTOP) during the other's slice, so Council's deferred triage never runs
in the no-op's time. The table also gives the lowest and highest ratio of the slice pairs.
Afterwards the benchmark counts the rows: every 201 must be a stored question. Targets
(issue #6): Council >= 0.5x the no-op's rate, p99 <= 60 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from fanout import Server, base_env, free_port, run_cli

HERE = Path(__file__).resolve().parent
POSTGRES_ADMIN = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MAX_REQUESTS_PER_CONNECTION = 1_000_000
WARMUP_S = 2.0
# Each slice opens its connections afresh: its first moments are not measured.
SLICE_WARMUP_S = 0.5

BODY = json.dumps(
    {
        "name": "Ana García",
        "neighborhood": "Centro",
        "text": "¿Cuándo van a arreglar la farola de la calle Mayor, que lleva un mes apagada "
        "y por la noche no se ve nada? Los vecinos del barrio preguntamos desde septiembre "
        "y nadie responde. Gracias.",
    }
).encode()


# -- the load generator (its own process) ---------------------------------------------------


async def _one_connection(
    port: int,
    path: str,
    stop_at: float,
    warm_until: float,
    out: list[tuple[float, int]],
    total: list[int],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    try:
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            started = time.perf_counter()
            if started >= stop_at:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            total[0] += 1
            total[1] += status == 201
            if started >= warm_until:
                out.append((time.perf_counter() - started, status))
    finally:
        writer.close()


async def _generate(
    port: int, path: str, concurrency: int, seconds: float, warmup: float
) -> dict[str, Any]:
    now = time.perf_counter()
    warm_until, stop_at = now + warmup, now + warmup + seconds
    out: list[tuple[float, int]] = []
    # Warm-up included: what the server's CPU time is divided by, and the 201s to find stored.
    total = [0, 0]
    await asyncio.gather(
        *(_one_connection(port, path, stop_at, warm_until, out, total) for _ in range(concurrency))
    )
    statuses: dict[int, int] = {}
    for _, status in out:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "seconds": seconds,
        "latencies_ms": [round(latency * 1000, 3) for latency, _ in out],
        "statuses": statuses,
        "total": total[0],
        "created": total[1],
    }


def generator_main(argv: list[str]) -> None:
    port, path, concurrency = int(argv[0]), argv[1], int(argv[2])
    seconds, warmup = float(argv[3]), float(argv[4])
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_generate(port, path, concurrency, seconds, warmup))))


def load(
    server: Server, port: int, path: str, concurrency: int, seconds: float, warmup: float
) -> dict[str, Any]:
    """One slice: the generator's figures, plus the server's CPU seconds over it."""
    before = server.ps.cpu_times()
    argv = [str(port), path, str(concurrency), str(seconds), str(warmup)]
    result = subprocess.run(
        [sys.executable, __file__, "--generate", *argv],
        capture_output=True,
        text=True,
        timeout=seconds + warmup + 60,
        check=True,
    )
    figures: dict[str, Any] = json.loads(result.stdout)
    after = server.ps.cpu_times()
    figures["cpu_s"] = (after.user - before.user) + (after.system - before.system)
    return figures


def combined(slices: list[dict[str, Any]]) -> dict[str, Any]:
    """One server's slices as one run: rate over the measured time, percentiles over every
    request, and server CPU per request: unlike the rate, it hardly moves when something else
    on the machine takes a core."""
    latencies = sorted(latency for s in slices for latency in s["latencies_ms"])
    statuses: dict[int, int] = {}
    for s in slices:
        for status, count in s["statuses"].items():
            statuses[int(status)] = statuses.get(int(status), 0) + count

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0

    return {
        "requests": len(latencies),
        "rate": len(latencies) / sum(s["seconds"] for s in slices),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "statuses": statuses,
        "cpu_ms": 1000 * sum(s["cpu_s"] for s in slices) / max(1, sum(s["total"] for s in slices)),
        "created": sum(s["created"] for s in slices),
    }


def slice_rate(figures: dict[str, Any]) -> float:
    return len(figures["latencies_ms"]) / float(figures["seconds"])


def alternate(
    noop: tuple[Server, int], council: tuple[Server, int], path: str, options: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any], list[float]]:
    """Both servers in turns: no-op then Council, then Council then no-op, and so on, so that
    a drift of the machine's speed during the run weighs on both alike. Returns their
    combined figures and each pair's ratio."""
    each = options.seconds / options.slices
    by_server: dict[str, list[dict[str, Any]]] = {"noop": [], "council": []}
    for name, (server, port) in (("noop", noop), ("council", council)):
        # First requests: imports, caches, pools. Not measured, but their 201s count too.
        warm = load(server, port, path, options.concurrency, 0.0, WARMUP_S)
        by_server[name].append(warm | {"latencies_ms": [], "cpu_s": 0.0, "total": 0})
    ratios: list[float] = []
    for index in range(options.slices):
        order = [("noop", noop), ("council", council)]
        if index % 2:
            order.reverse()
        pair: dict[str, dict[str, Any]] = {}
        for name, (server, port) in order:
            other = council[0] if server is noop[0] else noop[0]
            # After a slice, Council goes on triaging the questions it just stored
            # (duplicates, categories, flags: deferred on purpose, council/arrivals.py) for
            # a minute and more at a third of a core, and PostgreSQL with it. The server not
            # under load is stopped meanwhile, so that work never slows the no-op's slice.
            other.ps.suspend()
            try:
                figures = load(server, port, path, options.concurrency, each, SLICE_WARMUP_S)
            finally:
                other.ps.resume()
            pair[name] = figures
            by_server[name].append(figures)
        ratios.append(slice_rate(pair["council"]) / max(1e-9, slice_rate(pair["noop"])))
    return combined(by_server["noop"]), combined(by_server["council"]), ratios


# -- servers --------------------------------------------------------------------------------


def council_server(workdir: Path, database_url: str | None) -> tuple[Server, int, dict[str, str]]:
    env = base_env() | {
        "COUNCIL_DATA_DIR": str(workdir / "data"),
        "COUNCIL_SUBMISSION_RATE_LIMIT": "1000000/second",
    }
    if database_url:
        env["COUNCIL_DATABASE_URL"] = database_url
    run_cli(["db", "upgrade"], env, workdir)
    run_cli(["meeting", "create", "bench", "--title", "Bench"], env, workdir)
    run_cli(["meeting", "start", "bench"], env, workdir)
    port = free_port()
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", "council.app:create_app_from_env",
        "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    server = Server("council", argv, env, workdir, gc_report=False)
    server.wait_ready(port, "/api/meetings")
    return server, port, env


def stored_questions(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as connection:
        count = int(connection.execute(text("SELECT count(*) FROM submissions")).scalar_one())
    engine.dispose()
    return count


def postgres_url() -> str | None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"council_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:
        print(f"# PostgreSQL not reachable ({exc}); skipping it", file=sys.stderr)
        return None
    return make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False)


def drop_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        name = make_url(url).database
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def noop_server(workdir: Path) -> tuple[Server, int]:
    port = free_port()
    noop = Server(
        "noop", [sys.executable, str(HERE / "_serve_noop.py"), "--port", str(port)],
        base_env(), workdir, gc_report=False,
    )  # fmt: skip
    try:
        noop.wait_ready(port, "/api/meetings")
    except Exception:
        noop.stop()
        raise
    return noop, port


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        generator_main(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per server")
    parser.add_argument("--slices", type=int, default=4, help="turns per server")
    parser.add_argument("--concurrency", type=int, default=50)
    options = parser.parse_args()
    if options.slices < 1 or options.seconds <= 0:
        parser.error("--slices must be >= 1 and --seconds > 0")
    rows: list[tuple[str, dict[str, Any], list[float] | None]] = []
    problems: list[str] = []
    path = "/api/meetings/bench/submissions"
    with tempfile.TemporaryDirectory(prefix="council-intake-") as tmp:
        workdir = Path(tmp)
        for backend in options.backends.split(","):
            url: str | None = None
            if backend == "postgresql":
                url = postgres_url()
                if url is None:
                    continue
            folder = workdir / backend
            folder.mkdir()
            noop, noop_port = noop_server(folder)
            try:
                server, port, _env = council_server(folder, url)
                try:
                    baseline, figures, ratios = alternate(
                        (noop, noop_port), (server, port), path, options
                    )
                finally:
                    server.stop()
            finally:
                noop.stop()
            database = url or f"sqlite:///{folder / 'data' / 'council.db'}"
            # Warm-ups included: every 201 ever answered must be a stored row.
            stored = stored_questions(database)
            created = figures["created"]
            if stored < created:
                problems.append(f"{backend}: {created} answered 201 but only {stored} stored")
            if set(figures["statuses"]) - {201}:
                problems.append(f"{backend}: statuses {figures['statuses']}")
            if url:
                drop_postgres(url)
            rows.append(("FastAPI no-op (validates, stores nothing)", baseline, None))
            rows.append((f"Council intake, {backend}", figures, ratios))
    print("| endpoint | req/s | p50 ms | p99 ms | vs no-op | slice pairs | server CPU ms/req |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for index, (name, figures, pairs) in enumerate(rows):
        ratio = spread = ""
        if pairs is not None:
            ratio = f"{figures['rate'] / rows[index - 1][1]['rate']:.2f}x"
            spread = f"{min(pairs):.2f}-{max(pairs):.2f}x"
        print(
            f"| {name} | {figures['rate']:,.0f} | {figures['p50_ms']:.1f} | "
            f"{figures['p99_ms']:.1f} | {ratio} | {spread} | {figures['cpu_ms']:.2f} |"
        )
    print(
        f"\n{options.concurrency} connections; {options.seconds:g} s measured per server in "
        f"{options.slices} alternating slices, after a {WARMUP_S:g} s warm-up of each."
    )
    print("Targets: >= 0.5x the no-op's rate, p99 <= 60 ms; every 201 stored.")
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
