"""Faults a city deployment meets, on real `council serve` processes and real databases.

- The database goes away (PostgreSQL behind a TCP proxy that the test cuts, or that goes
  silent; SQLite locked by another process past the busy timeout): questions get a 503 with
  a message a person can read, within seconds, nothing acknowledged is lost, and Council
  takes questions again by itself.
- Websocket clients that never read (a phone that froze while the snapshot streamed) are
  dropped, and the fifty clients that do read hear every broadcast as fast as without them.

kill -9 under load, with the chamber screen open in Chromium, is in
tests/e2e/test_browser_crash.py (it needs the browser fixture).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import sqlite3
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from websockets.asyncio.client import ClientConnection as AsyncClientConnection
from websockets.asyncio.client import connect as connect_async
from websockets.sync.client import connect

from council.db import Database, upgrade
from council.intake import Limits, check_question, submit
from council.meetings import create_meeting, get_meeting, start_meeting
from council.models import Submission
from council.moderation.accounts import add_user, create_token
from tests.factories import Worker, postgres_database
from tests.live.test_frames import stuck_client

SLUG = "pleno"
UNAVAILABLE = "The database is not answering"
# SQLite: past two of the app's 5 s busy timeouts (council/db.py).
LOCK_SECONDS = 11.0


def prepare(url: str) -> str:
    """Schema, a live meeting and a moderator; returns the moderator's API token."""
    upgrade(url)
    db = Database(url)
    try:
        db.run_write(create_meeting, slug=SLUG, title="Pleno de Jun", hashtags=["PlenoJun"])
        db.run_write(start_meeting, slug=SLUG)
        db.run_write(add_user, username="mod", password=None, role="moderator")
        token, _ = db.run_write(create_token, username="mod")
        return str(token)
    finally:
        db.close()


def stored_ids(url: str) -> set[int]:
    db = Database(url)
    try:
        with db.session() as session:
            return set(session.scalars(select(Submission.id)))
    finally:
        db.close()


def worker_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "COUNCIL_DATABASE_URL": url,
        "COUNCIL_SECRET_KEY": "faults-test-secret",
        "COUNCIL_SUBMISSION_RATE_LIMIT": "1000000/minute",
        **extra,
    }


def question(n: int) -> dict[str, str]:
    return {"name": "Vecina", "text": f"Pregunta {n}: ¿y el paso de cebra de la calle {n}?"}


def no_traceback(response: httpx.Response) -> None:
    assert "Traceback" not in response.text and 'File "' not in response.text, response.text


class Load:
    """Phones POSTing questions from ``clients`` threads until told to stop; every 201 is kept."""

    def __init__(self, base_url: str, *, clients: int = 8, max_requests: int = 2_000) -> None:
        self.base_url = base_url
        self.max_requests = max_requests
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.created: list[dict[str, Any]] = []
        self.answers: list[tuple[int, str]] = []  # anything but a 201: (status, body)
        self.failed = 0  # transport errors: no answer at all (a killed server)
        self.sent = 0
        self.threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(clients)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _take_turn(self) -> int | None:
        with self.lock:
            if self.stop.is_set() or self.sent >= self.max_requests:
                return None
            self.sent += 1
            return self.sent

    def _run(self, client_no: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while (n := self._take_turn()) is not None:
                body = {
                    "name": f"Vecina {client_no}",
                    "text": f"Pregunta {n} del teléfono {client_no}: ¿y la calle {n * 7}?",
                    "neighborhood": "Centro",
                }
                try:
                    response = client.post(f"/api/meetings/{SLUG}/submissions", json=body)
                except httpx.TransportError:
                    with self.lock:
                        self.failed += 1
                    time.sleep(0.05)
                    continue
                with self.lock:
                    if response.status_code == 201:
                        self.created.append(response.json())
                    else:
                        self.answers.append((response.status_code, response.text))
                        time.sleep(0.02)

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=40)
        assert not any(t.is_alive() for t in self.threads), "a load client hung"


# -- the database goes away ------------------------------------------------------------------


class TcpProxy:
    """127.0.0.1:<port> forwarding to a database; `cut` makes the database unreachable.

    While cut, every open link is closed and new connections are accepted and closed at
    once: what the app sees when PostgreSQL restarts or the network drops its connections.
    While silent (`go_silent`), open links are closed too, but new connections are accepted
    and then never answered: a host that went away without a word, as the app sees it.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.down = False
        self.silent = False
        self.held: list[asyncio.StreamWriter] = []
        self.links: set[asyncio.StreamWriter] = set()
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", 0)
        )
        self.port: int = self.server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.silent:
            self.held.append(writer)  # open, and not a byte back
            return
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.links.update((writer, up_writer))
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.links.discard(writer)
            writer.transport.abort()

    def _cut(self) -> None:
        self.down = True
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()

    def cut(self) -> None:
        self.loop.call_soon_threadsafe(self._cut)

    def go_silent(self) -> None:
        self.loop.call_soon_threadsafe(self._go_silent)

    def _go_silent(self) -> None:
        self._cut()
        self.silent = True

    def restore(self) -> None:
        self.loop.call_soon_threadsafe(self._restore)

    def _restore(self) -> None:
        self.down = self.silent = False
        for writer in self.held:
            writer.transport.abort()
        self.held.clear()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self._cut)

        async def shut() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def worker_behind_proxy(url: str, folder: Path, stack: ExitStack) -> tuple[TcpProxy, Worker]:
    """A worker that reaches PostgreSQL through a proxy the test controls."""
    direct = make_url(url)
    proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432)
    stack.callback(proxy.close)
    proxied = direct.set(host="127.0.0.1", port=proxy.port)
    worker = Worker(folder, worker_env(proxied.render_as_string(hide_password=False)))
    stack.callback(worker.stop)
    return proxy, worker


def first_question_taken(public: httpx.Client, body: dict[str, str], *, within: float) -> int:
    """Post ``body`` until it is taken (503s meanwhile); returns its id."""
    started = time.monotonic()
    while True:
        response = public.post(f"/api/meetings/{SLUG}/submissions", json=body)
        no_traceback(response)
        if response.status_code == 201:
            return int(response.json()["id"])
        assert response.status_code == 503, response.text
        assert time.monotonic() - started < within, "Council did not take questions again"
        time.sleep(0.1)


def test_postgresql_going_away_gives_503s_loses_nothing_and_recovers(tmp_path: Path) -> None:
    with postgres_database() as url, ExitStack() as stack:
        token = prepare(url)
        proxy, worker = worker_behind_proxy(url, tmp_path / "worker", stack)
        public = stack.enter_context(httpx.Client(base_url=worker.base_url, timeout=30))
        moderator = stack.enter_context(
            httpx.Client(
                base_url=worker.base_url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
        )
        screen = stack.enter_context(
            connect(f"ws://127.0.0.1:{worker.port}/ws/meetings/{SLUG}", compression=None)
        )
        assert json.loads(screen.recv(timeout=10))["type"] == "snapshot"

        created: list[int] = []
        for n in range(3):
            response = public.post(f"/api/meetings/{SLUG}/submissions", json=question(n))
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])
        assert public.get("/readyz").status_code == 200

        # Questions keep coming from four phones throughout: some are in a batch on its
        # way to the database when the links are cut.
        load = Load(worker.base_url, clients=4, max_requests=100_000)
        load.start()
        stack.callback(load.stop.set)
        time.sleep(0.5)
        proxy.cut()
        outage_started = time.monotonic()
        seen: dict[str, list[int]] = {"json": [], "form": [], "readyz": [], "page": [], "act": []}
        n = 100
        while time.monotonic() - outage_started < 3.0:
            n += 1
            response = public.post(f"/api/meetings/{SLUG}/submissions", json=question(n))
            seen["json"].append(response.status_code)
            no_traceback(response)
            if response.status_code == 201:
                created.append(response.json()["id"])  # committed just before the cut
            else:
                assert response.status_code == 503, response.text
                body = response.json()
                assert body["code"] == "unavailable"
                assert body["detail"].startswith(UNAVAILABLE), body
                assert "nothing was saved" in body["detail"]
            form = public.post(
                f"/m/{SLUG}",
                data={"name": "Vecino", "text": f"Pregunta del formulario {n}"},
                headers={"Accept": "text/html"},
            )
            seen["form"].append(form.status_code)
            no_traceback(form)
            if form.status_code == 503:
                assert "text/html" in form.headers["content-type"]
                assert UNAVAILABLE in form.text, form.text[:500]
            ready = public.get("/readyz")
            seen["readyz"].append(ready.status_code)
            assert ready.json()["checks"]["database"]["ok"] is False or ready.status_code == 200
            page = public.get(f"/m/{SLUG}", headers={"Accept": "text/html"})
            seen["page"].append(page.status_code)
            no_traceback(page)
            act = moderator.post(f"/api/meetings/{SLUG}/submissions/{created[0]}/approve")
            seen["act"].append(act.status_code)
            no_traceback(act)
            time.sleep(0.1)
        print(f"\nduring the outage: {seen}")
        for kind, statuses in seen.items():
            assert 500 not in statuses, f"a 500 on {kind}: {statuses}"
        assert set(seen["json"]) <= {201, 503} and seen["json"].count(503) >= 3, seen["json"]
        assert set(seen["form"]) <= {303, 503} and 503 in seen["form"], seen["form"]
        assert set(seen["readyz"]) == {503}, seen["readyz"]
        assert set(seen["page"]) <= {200, 503} and 503 in seen["page"], seen["page"]
        assert set(seen["act"]) == {503}, seen["act"]

        proxy.restore()
        restored = time.monotonic()
        created.append(first_question_taken(public, question(n + 1), within=10))
        recovered = time.monotonic() - restored
        print(f"proxy restored -> first 201: {recovered:.2f} s")
        assert recovered < 5.0
        assert public.get("/readyz").status_code == 200
        assert worker.process.poll() is None, "the worker died"
        time.sleep(0.5)
        load.join()
        during_load = sorted({status for status, _ in load.answers})
        print(f"load: {len(load.created)} 201s, other answers {during_load}, none {load.failed}")
        assert not load.failed and set(during_load) <= {503}, load.answers[:3]
        for _status, text in load.answers:
            assert json.loads(text)["detail"].startswith(UNAVAILABLE), text
        created += [c["id"] for c in load.created]

        # The live path works again: a moderator's action reaches the screen that stayed open.
        act = moderator.post(f"/api/meetings/{SLUG}/submissions/{created[-1]}/approve")
        assert act.status_code == 200, act.text
        deadline = time.monotonic() + 10
        while True:
            message = json.loads(screen.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message["type"] == "approved":
                assert message["submissions"][0]["id"] == created[-1]
                break

        stored = stored_ids(url)
        missing = set(created) - stored
        assert not missing, f"acknowledged questions lost: {sorted(missing)}"
        # A commit whose answer the cut swallowed is stored though its sender got a 503.
        print(f"stored without a 201 (its answer lost in the cut): {len(stored) - len(created)}")
        log = worker.log.read_text()
        assert "unexpected error" not in log, log[-3000:]


def test_postgresql_that_stops_answering_gives_503s_within_seconds(tmp_path: Path) -> None:
    """Connections accepted and never answered: psycopg alone would wait 130 s for each."""
    with postgres_database() as url, ExitStack() as stack:
        prepare(url)
        proxy, worker = worker_behind_proxy(url, tmp_path / "worker", stack)
        public = stack.enter_context(httpx.Client(base_url=worker.base_url, timeout=60))
        response = public.post(f"/api/meetings/{SLUG}/submissions", json=question(0))
        assert response.status_code == 201, response.text
        created = [response.json()["id"]]

        proxy.go_silent()
        for path, kind in ((f"/api/meetings/{SLUG}/submissions", "question"), ("/readyz", "")):
            started = time.monotonic()
            if kind == "question":
                response = public.post(path, json=question(1))
            else:
                response = public.get(path)
            waited = time.monotonic() - started
            print(f"\n{path} while PostgreSQL is silent: {response.status_code} in {waited:.1f} s")
            no_traceback(response)
            assert response.status_code == 503, response.text
            # council/db.py's connect_timeout is 5 s. A write may wait for the attempt already
            # under way (the triage's, here) and then its own, which every write that queued
            # meanwhile shares: two attempts at most.
            assert waited < 15, f"{path} waited {waited:.1f} s"
            if kind == "question":
                assert response.json()["detail"].startswith(UNAVAILABLE), response.text
                assert "nothing was saved" in response.json()["detail"]

        proxy.restore()
        created.append(first_question_taken(public, question(2), within=15))
        assert public.get("/readyz").status_code == 200
        assert stored_ids(url) == set(created), "the refused question must not be stored"


def test_sqlite_locked_past_the_busy_timeout_gives_503s_then_recovers(tmp_path: Path) -> None:
    path = (tmp_path / "council.db").resolve()
    url = f"sqlite:///{path}"
    prepare(url)
    worker = Worker(tmp_path / "worker", worker_env(url))
    try:
        with httpx.Client(base_url=worker.base_url, timeout=30) as public:
            first = public.post(f"/api/meetings/{SLUG}/submissions", json=question(0))
            assert first.status_code == 201, first.text
            created = [first.json()["id"]]

            # Another process (this one) holds SQLite's write lock past twice the app's 5 s
            # busy timeout, so that whichever batch of writes these requests join, it waits
            # a whole busy timeout while the lock is held.
            holder = sqlite3.connect(
                path, timeout=10, isolation_level=None, check_same_thread=False
            )
            holder.execute("BEGIN EXCLUSIVE")
            locked = time.monotonic()
            release = threading.Timer(LOCK_SECONDS, holder.execute, args=("ROLLBACK",))
            release.start()
            try:
                with ThreadPoolExecutor(3) as pool:

                    def post(n: int) -> httpx.Response:
                        return public.post(f"/api/meetings/{SLUG}/submissions", json=question(n))

                    pending = [pool.submit(post, n) for n in range(1, 4)]
                    # Meanwhile reads go on: WAL readers never wait for the write lock.
                    started = time.monotonic()
                    readable = public.get(f"/api/meetings/{SLUG}/state")
                    read_took = time.monotonic() - started
                    during = [future.result() for future in pending]
            finally:
                release.join()
                holder.close()
            statuses = [r.status_code for r in during]
            print(f"\nwhile locked ({time.monotonic() - locked:.1f} s): {statuses}")
            assert readable.status_code == 200 and read_took < 2.0, (readable, read_took)
            # The writer's queue is the writer's: a batch that started waiting after another
            # one failed may get the lock when it is released, so not every one is a 503.
            assert set(statuses) <= {201, 503} and 503 in statuses, statuses
            for response in during:
                no_traceback(response)
                if response.status_code == 201:
                    created.append(response.json()["id"])
                else:
                    assert response.json()["detail"].startswith(UNAVAILABLE)

            released = time.monotonic()
            after = public.post(f"/api/meetings/{SLUG}/submissions", json=question(9))
            assert after.status_code == 201, after.text
            print(f"lock released -> 201 in {time.monotonic() - released:.2f} s")
            created.append(after.json()["id"])
        assert not set(created) - stored_ids(url)
        assert "unexpected error" not in worker.log.read_text()
    finally:
        worker.stop()


# -- clients that stop reading -----------------------------------------------------------------

READERS = 50
STUCK = 5
BROADCASTS = 20
WARMUP = 3
# Small, so the stuck clients fall that far behind, and are dropped, within one phase.
QUEUE_SIZE = 8
# Rows of ~12.5 kB in the snapshot: more than the kernel will buffer for one socket (its
# largest send buffer, 4 MiB here), so a client that never reads is noticed.
BACKLOG = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2]) * 6 // 5 // 12_000 + 1


def big_meeting(session: Session, *, slug: str) -> list[int]:
    """A long meeting's backlog (a 5 MB snapshot), and short pending questions to approve.

    A client that stops reading is noticed only once the kernel's buffers are full, and on
    loopback the server's send buffer grows to about 3 MB: a snapshot larger than that is
    what a phone that froze while the page loaded leaves behind. The backlog is inserted as
    rows (already approved, as if imported): intake's triage of 5 MB would take minutes.
    """
    meeting = get_meeting(session, slug=slug)
    now = datetime.now(UTC)
    for n in range(BACKLOG):
        text = " ".join(f"año{n}ñandú{k}" for k in range(700))
        session.add(
            Submission(
                meeting_id=meeting.id,
                author_name="Vecina",
                original_text=text,
                display_text=text,
                status="approved",
                approved_at=now,
                approved_by="factory",
                position=float(n),
                track_token=secrets.token_urlsafe(24),
            )
        )
    pending = []
    for n in range(WARMUP + 3 * BROADCASTS):
        sub = submit(
            session,
            slug=slug,
            question=check_question(
                name="Vecino", text=f"¿Pregunta corta {n}?", neighborhood=None, limits=Limits()
            ),
        )
        pending.append(sub.id)
    return pending


class Reader:
    def __init__(self, ws: AsyncClientConnection, snapshot_seq: int) -> None:
        self.ws = ws
        self.seqs: list[int] = [snapshot_seq]
        self.arrived: dict[int, float] = {}  # submission id -> when its "approved" came

    async def run(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if message["type"] == "ping":
                continue
            self.seqs.append(message["seq"])
            if message["type"] == "approved":
                self.arrived[message["submissions"][0]["id"]] = time.perf_counter()


def clogged_sockets(port: int) -> int:
    """The server's TCP connections on ``port`` with over 64 KiB waiting to be sent."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, queues = fields[1], fields[3], fields[4]
        mine = int(local.split(":")[1], 16) == port and state == "01"  # ESTABLISHED
        if mine and int(queues.split(":")[0], 16) > 65536:
            count += 1
    return count


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


async def broadcast_phase(
    client: httpx.AsyncClient, readers: list[Reader], ids: list[int]
) -> list[list[float]]:
    """Approve each question in turn; per broadcast, every reader's latency in ms."""
    latencies = []
    for sub_id in ids:
        sent = time.perf_counter()
        response = await client.post(f"/api/meetings/{SLUG}/submissions/{sub_id}/approve")
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + 10
        while not all(sub_id in r.arrived for r in readers):
            assert time.monotonic() < deadline, f"a reader never heard of {sub_id}"
            await asyncio.sleep(0.001)
        latencies.append([(r.arrived[sub_id] - sent) * 1000 for r in readers])
        await asyncio.sleep(0.02)
    return latencies


def summary(latencies: list[list[float]]) -> tuple[float, float, float]:
    """Medians over the broadcasts of: the readers' median, the last reader, last - first."""
    return (
        statistics.median(statistics.median(one) for one in latencies),
        statistics.median(max(one) for one in latencies),
        statistics.median(max(one) - min(one) for one in latencies),
    )


@pytest.fixture
def crowded(tmp_path: Path) -> Iterator[tuple[Worker, str, list[int]]]:
    url = f"sqlite:///{(tmp_path / 'council.db').resolve()}"
    token = prepare(url)
    db = Database(url)
    try:
        pending, _ = db.run_write(big_meeting, slug=SLUG)
    finally:
        db.close()
    worker = Worker(tmp_path / "worker", worker_env(url, COUNCIL_WS_QUEUE_SIZE=str(QUEUE_SIZE)))
    try:
        yield worker, token, pending
    finally:
        worker.stop()


def test_clients_that_stop_reading_are_dropped_and_do_not_slow_the_readers(
    crowded: tuple[Worker, str, list[int]],
) -> None:
    worker, token, pending = crowded
    warmup, ids = pending[:WARMUP], pending[WARMUP:]
    phases = {
        name: ids[n * BROADCASTS : (n + 1) * BROADCASTS]
        for n, name in enumerate(("before", "stuck", "after"))
    }
    latencies: dict[str, list[list[float]]] = {}
    fanout_ms: dict[str, float] = {}  # the server's own figure: mean time to offer to all
    released = [0.0]

    async def fanout_totals(client: httpx.AsyncClient) -> tuple[float, float]:
        text = (await client.get("/metrics")).text
        return metric(text, "council_fanout_seconds_sum"), metric(
            text, "council_fanout_seconds_count"
        )

    async def phase(client: httpx.AsyncClient, readers: list[Reader], name: str) -> None:
        total, count = await fanout_totals(client)
        latencies[name] = await broadcast_phase(client, readers, phases[name])
        total_after, count_after = await fanout_totals(client)
        fanout_ms[name] = (total_after - total) / (count_after - count) * 1000

    async def scenario() -> tuple[list[Reader], str]:
        url = f"ws://127.0.0.1:{worker.port}/ws/meetings/{SLUG}"
        readers: list[Reader] = []
        async with httpx.AsyncClient(
            base_url=worker.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            for _ in range(READERS):
                ws = await connect_async(url, compression=None, max_size=None)
                snapshot = json.loads(await ws.recv())
                assert snapshot["type"] == "snapshot"
                readers.append(Reader(ws, snapshot["seq"]))
            tasks = [asyncio.create_task(r.run()) for r in readers]
            try:
                await broadcast_phase(client, readers, warmup)
                # Before, with, and after the stuck clients: a machine busy with something
                # else in one phase shows in the phases around it too.
                await phase(client, readers, "before")
                with ExitStack() as stack:
                    for _ in range(STUCK):
                        stuck_client(worker.port, stack)
                    await phase(client, readers, "stuck")
                    metrics = (await client.get("/metrics")).text
                    # Dropped means let go: the server closes their sockets (which still hold
                    # megabytes it could not send) although these clients never answer.
                    started = time.monotonic()
                    for _ in range(75):  # 15 s
                        if not (held := clogged_sockets(worker.port)):
                            break
                        await asyncio.sleep(0.2)
                    released[0] = time.monotonic() - started
                    assert not held, f"{held} sockets still hold what the server could not send"
                await phase(client, readers, "after")
            finally:
                for reader in readers:
                    await reader.ws.close()
                await asyncio.gather(*tasks, return_exceptions=True)
        return readers, metrics

    readers, metrics = asyncio.run(scenario())
    figures = {name: summary(found) for name, found in latencies.items()}
    print(f"\n{READERS} readers, {BROADCASTS} broadcasts a phase; ms from the approve request to")
    print("the median reader / the last reader / first-to-last; server fan-out (mean):")
    for name, (median, last, spread) in figures.items():
        fanout = fanout_ms[name]
        print(f"  {name:>6}: {median:6.1f} / {last:6.1f} / {spread:5.1f}; fan-out {fanout:.2f}")
    print(f"  the stuck clients' sockets released {released[0]:.1f} s after the phase")
    assert metric(metrics, "council_websocket_dropped_total") == STUCK, "stuck clients stayed"
    assert metric(metrics, 'council_websocket_clients{audience="public"}') == READERS
    for reader in readers:
        assert reader.seqs == list(range(reader.seqs[0], reader.seqs[0] + len(reader.seqs))), (
            "a reader missed or repeated a seq"
        )
        assert set(ids) <= reader.arrived.keys()
    alone_median = max(figures["before"][0], figures["after"][0])
    alone_last = max(figures["before"][1], figures["after"][1])
    alone_fanout = max(fanout_ms["before"], fanout_ms["after"])
    assert figures["stuck"][0] <= 2 * alone_median + 20, figures
    assert figures["stuck"][1] <= 2 * alone_last + 20, figures
    assert fanout_ms["stuck"] <= 2 * alone_fanout + 5, fanout_ms
