"""Several workers on one PostgreSQL database and one Redis: every client hears every event.

Real processes (`council serve`), the real PostgreSQL and Redis of the machine; skipped
with a message where they are missing, and never skipped in CI.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.sync.client import ClientConnection, connect

from council.db import Database, upgrade
from council.meetings import create_meeting, start_meeting
from council.models import Event, LeaseRow, Submission
from council.moderation.accounts import add_user, create_token
from council.sandbox.mastodon import FakeMastodon
from tests.factories import (
    REDIS_TEST_URL,
    Worker,
    make_question,
    postgres_database,
    redis_available,
    wait_until,
)

SLUG = "pleno"


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    with FakeMastodon() as server:
        yield server


@pytest.fixture
def cluster(tmp_path: Path, mastodon: FakeMastodon) -> Iterator[tuple[Database, str, list[Worker]]]:
    """Two workers on a fresh PostgreSQL database, with a meeting and a moderator's token.

    Both are configured to read the meeting's hashtag from a stand-in Mastodon server.
    """
    redis_available()
    with postgres_database() as url, ExitStack() as stack:
        upgrade(url)
        db = Database(url)
        stack.callback(db.close)
        db.run_write(create_meeting, slug=SLUG, title="Pleno", hashtags=["PlenoJun"])
        db.run_write(start_meeting, slug=SLUG)
        db.run_write(add_user, username="mod", password=None, role="moderator")
        token, _ = db.run_write(create_token, username="mod")
        env = {
            "COUNCIL_DATABASE_URL": url,
            "COUNCIL_REDIS_URL": REDIS_TEST_URL,
            "COUNCIL_SECRET_KEY": "cluster-test-secret",
            # Only Redis can bring another worker's events within the tests' waits.
            "COUNCIL_EVENT_TAIL_SECONDS": "60",
            "COUNCIL_MASTODON_INSTANCES": mastodon.base_url,
            "COUNCIL_MASTODON_POLL_SECONDS": "0.2",
            "COUNCIL_LEASE_SECONDS": "2",
        }
        workers = []
        for n in range(2):
            worker = Worker(tmp_path / f"worker{n}", env)
            stack.callback(worker.stop)
            workers.append(worker)
        yield db, token, workers


def screen(worker: Worker, stack: ExitStack) -> ClientConnection:
    url = f"ws://127.0.0.1:{worker.port}/ws/meetings/{SLUG}"
    client = stack.enter_context(connect(url, compression=None))
    assert json.loads(client.recv(timeout=10))["type"] == "snapshot"
    return client


def act(worker: Worker, token: str, submission_id: int, action: str) -> None:
    response = httpx.post(
        f"{worker.base_url}/api/meetings/{SLUG}/submissions/{submission_id}/{action}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def events_until(client: ClientConnection, count: int) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while len(received) < count:
        message = json.loads(client.recv(timeout=10))
        if message["type"] != "ping":
            received.append(message)
    return received


def test_a_moderator_on_one_worker_reaches_a_screen_on_the_other(
    cluster: tuple[Database, str, list[Worker]],
) -> None:
    db, token, (first, second) = cluster
    with ExitStack() as stack:
        on_first = screen(first, stack)
        sub = make_question(db, slug=SLUG, text="¿Se puede abrir la biblioteca el sábado?")
        act(second, token, sub.id, "approve")
        [message] = events_until(on_first, 1)
        assert message["type"] == "approved"
        assert message["submissions"][0]["id"] == sub.id


def test_concurrent_actions_on_two_workers_give_every_client_each_seq_once_in_order(
    cluster: tuple[Database, str, list[Worker]],
) -> None:
    db, token, workers = cluster
    subs = [make_question(db, slug=SLUG, text=f"Pregunta número {n}") for n in range(40)]
    with ExitStack() as stack:
        clients = [screen(worker, stack) for worker in workers for _ in range(2)]
        with db.session() as session:
            start = max(session.scalars(select(Event.seq)).all())

        def approve_all(worker: Worker, chunk: list[int]) -> None:
            for sub_id in chunk:
                act(worker, token, sub_id, "approve")

        threads = [
            threading.Thread(target=approve_all, args=(workers[0], [s.id for s in subs[::2]])),
            threading.Thread(target=approve_all, args=(workers[1], [s.id for s in subs[1::2]])),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        with db.session() as session:
            seqs = session.scalars(select(Event.seq).where(Event.seq > start)).all()
        assert sorted(seqs) == list(range(start + 1, start + 41)), "a seq was taken twice or lost"
        for client in clients:
            received = events_until(client, 40)
            assert [m["seq"] for m in received] == list(range(start + 1, start + 41))
            approved = {m["submissions"][0]["id"] for m in received}
            assert approved == {s.id for s in subs}


def collected(db: Database) -> list[str]:
    with db.session() as session:
        return list(
            session.scalars(select(Submission.original_text).where(Submission.source == "mastodon"))
        )


def collector_holder(db: Database) -> str | None:
    with db.session() as session:
        lease = session.get(LeaseRow, "collectors")
        return None if lease is None else lease.holder


def test_collectors_run_in_one_worker_and_move_when_it_dies(
    cluster: tuple[Database, str, list[Worker]], mastodon: FakeMastodon
) -> None:
    db, _token, workers = cluster
    mastodon.post("¿Habrá autobús al polígono? #PlenoJun", username="vecina")
    wait_until(lambda: len(collected(db)) == 1, timeout=20)
    holder = collector_holder(db)
    assert holder is not None
    [leader] = [w for w in workers if f":{w.process.pid}:" in holder]
    [other] = [w for w in workers if w is not leader]
    # Only the leader reads Mastodon: the other worker's requests would double the reads.
    leader.kill()
    mastodon.post("¿Y el puente de la calle Mayor? #PlenoJun", username="vecino")
    wait_until(lambda: len(collected(db)) == 2, timeout=30)
    new_holder = collector_holder(db)
    assert new_holder is not None and f":{other.process.pid}:" in new_holder
    assert sorted(collected(db)) == [
        "¿Habrá autobús al polígono? #PlenoJun",
        "¿Y el puente de la calle Mayor? #PlenoJun",
    ], "each post once, none lost in the move"
