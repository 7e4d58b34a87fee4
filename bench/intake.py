"""Durable question intake: Council's POST /api/meetings/{slug}/submissions against a FastAPI
endpoint that validates the same body and stores nothing, measured in the same run.

    python bench/intake.py                  # SQLite and PostgreSQL (if reachable), ~2 min
    python bench/intake.py --backends sqlite --seconds 5

A load generator process (uvloop, raw HTTP/1.1 keep-alive, ``--concurrency`` connections)
posts ~300-byte questions for ``--seconds`` after a 2 s warm-up; every load loop is bounded
in time and count. Each backend is measured right after a no-op run of its own, and its
ratio is to that run. Afterwards the benchmark counts the rows: every 201 must be a stored
question. Targets (issue #6): Council >= 0.5x the no-op's rate, p99 <= 60 ms.
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
            if started >= warm_until:
                out.append((time.perf_counter() - started, status))
    finally:
        writer.close()


async def _generate(port: int, path: str, concurrency: int, seconds: float) -> dict[str, Any]:
    now = time.perf_counter()
    warm_until, stop_at = now + 2.0, now + 2.0 + seconds
    out: list[tuple[float, int]] = []
    total = [0]  # warm-up included: what the server's CPU time is divided by
    await asyncio.gather(
        *(_one_connection(port, path, stop_at, warm_until, out, total) for _ in range(concurrency))
    )
    latencies = sorted(latency for latency, _ in out)
    statuses: dict[int, int] = {}
    for _, status in out:
        statuses[status] = statuses.get(status, 0) + 1

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(out),
        "rate": len(out) / seconds,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "statuses": statuses,
        "total": total[0],
    }


def generator_main(argv: list[str]) -> None:
    port, path, concurrency, seconds = int(argv[0]), argv[1], int(argv[2]), float(argv[3])
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_generate(port, path, concurrency, seconds))))


def load(server: Server, port: int, path: str, concurrency: int, seconds: float) -> dict[str, Any]:
    """The generator's figures, plus the server's CPU time per request: unlike the rate, it
    hardly moves when something else on the machine takes a core."""
    before = server.ps.cpu_times()
    result = subprocess.run(
        [sys.executable, __file__, "--generate", str(port), path, str(concurrency), str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    figures: dict[str, Any] = json.loads(result.stdout)
    after = server.ps.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    figures["cpu_ms"] = 1000 * used / max(1, figures["total"])
    return figures


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


def noop_figures(workdir: Path, path: str, options: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    noop = Server(
        "noop", [sys.executable, str(HERE / "_serve_noop.py"), "--port", str(port)],
        base_env(), workdir, gc_report=False,
    )  # fmt: skip
    try:
        noop.wait_ready(port, "/api/meetings")
        return load(noop, port, path, options.concurrency, options.seconds)
    finally:
        noop.stop()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        generator_main(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=50)
    options = parser.parse_args()
    rows: list[tuple[str, dict[str, Any], float | None]] = []
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
            # Each backend right after a no-op run of its own: on a shared machine the
            # no-op's rate drifts by a fifth between runs a minute apart.
            baseline = noop_figures(workdir, path, options)
            rows.append(("FastAPI no-op (validates, stores nothing)", baseline, None))
            folder = workdir / backend
            folder.mkdir()
            server, port, _env = council_server(folder, url)
            try:
                figures = load(server, port, path, options.concurrency, options.seconds)
            finally:
                server.stop()
            database = url or f"sqlite:///{folder / 'data' / 'council.db'}"
            stored = stored_questions(database)
            figures["statuses"] = {int(k): v for k, v in figures["statuses"].items()}
            created = figures["statuses"].get(201, 0)
            if stored < created:
                problems.append(f"{backend}: {created} answered 201 but only {stored} stored")
            if set(figures["statuses"]) - {201}:
                problems.append(f"{backend}: statuses {figures['statuses']}")
            if url:
                drop_postgres(url)
            rows.append((f"Council intake, {backend}", figures, figures["rate"] / baseline["rate"]))
    print("| endpoint | req/s | p50 ms | p99 ms | vs no-op | server CPU ms/req |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, figures, ratio in rows:
        print(
            f"| {name} | {figures['rate']:,.0f} | {figures['p50_ms']:.1f} | "
            f"{figures['p99_ms']:.1f} | {'' if ratio is None else f'{ratio:.2f}x'} | "
            f"{figures['cpu_ms']:.2f} |"
        )
    print(f"\n{options.concurrency} connections, {options.seconds:g} s measured after 2 s warm-up.")
    print("Targets: >= 0.5x the no-op's rate, p99 <= 60 ms; every 201 stored.")
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
