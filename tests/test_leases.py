"""A lease is held by one worker at a time, and passes on when its holder stops renewing."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from council.db import Database
from council.leases import Lease, claim, release
from council.models import LeaseRow, utcnow
from council.services import Council

pytestmark = pytest.mark.both_databases


def take(db: Database, holder: str, ttl: float = 30) -> bool:
    held, _events = db.run_write(claim, name="collectors", holder=holder, ttl_seconds=ttl)
    return held


def expire(db: Database) -> None:
    def backdate(session: object) -> None:
        session.execute(  # type: ignore[attr-defined]
            update(LeaseRow).values(expires_at=utcnow() - timedelta(seconds=1))
        )

    db.run_write(backdate)


def test_only_one_worker_holds_a_lease_until_it_expires(db: Database) -> None:
    assert take(db, "worker-a")
    assert take(db, "worker-a"), "the holder renews it"
    assert not take(db, "worker-b")
    expire(db)
    assert take(db, "worker-b"), "a dead holder's lease passes on"
    assert not take(db, "worker-a"), "and the old holder knows it lost it"


def test_a_released_lease_is_free_at_once(db: Database) -> None:
    assert take(db, "worker-a")
    db.run_write(release, name="collectors", holder="worker-a")
    assert take(db, "worker-b")


def test_workers_claiming_at_the_same_moment_get_one_holder(db: Database) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def contend(holder: str) -> None:
        barrier.wait()
        if take(db, holder):
            winners.append(holder)

    threads = [threading.Thread(target=contend, args=(f"worker-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_a_lease_task_takes_over_when_the_holder_dies(council: Council) -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        first = Lease(council, "recorder", ttl_seconds=0.6)
        second = Lease(council, "recorder", ttl_seconds=0.6)
        await first.start()
        await asyncio.sleep(0.1)
        await second.start()
        await asyncio.sleep(0.3)
        at_first = (first.held, second.held)
        assert first._task is not None
        first._task.cancel()  # the worker dies: no release, the lease must expire
        for _ in range(100):
            if second.held:
                break
            await asyncio.sleep(0.05)
        took_over = second.held
        await second.stop()
        return at_first == (True, False), took_over, second.held

    only_first_at_first, took_over, still_held = asyncio.run(scenario())
    assert only_first_at_first
    assert took_over
    assert not still_held, "a stopped lease is given up"


@pytest.fixture
def council(db: Database, app: object) -> Council:
    return app.state.council  # type: ignore[attr-defined,no-any-return]
