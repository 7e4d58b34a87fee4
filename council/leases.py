"""Cluster-wide leases: work that must run in exactly one worker at a time.

Collectors (reading X, Mastodon and Bluesky costs money and must not be done twice), the
recorder (one ffmpeg per meeting, one port), and the reply sender each take a lease in the
database before they run. The holder renews it every ``ttl / 3``; when its worker dies the
lease expires after ``ttl`` and another worker's next attempt takes it over. In one process
the lease is simply always held.

One conditional UPDATE takes or renews a lease, so two workers can never both hold it: the
database's row lock decides.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from council.models import LeaseRow, utcnow
from council.services import Council
from council.tasks import cancel_and_wait

log = logging.getLogger(__name__)


def worker_name() -> str:
    """Who holds a lease, readable by a person looking at the table."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claim(session: Session, *, name: str, holder: str, ttl_seconds: float) -> bool:
    """Take or renew lease ``name`` for ``holder``; False when another live holder has it."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    table = LeaseRow.__table__
    assert isinstance(table, Table)
    taken = session.connection().execute(
        update(table)
        .where(
            table.c.name == name,
            or_(table.c.holder == holder, table.c.expires_at < now),
        )
        .values(holder=holder, expires_at=expires, renewed_at=now)
    )
    if taken.rowcount:
        return True
    if session.scalar(select(LeaseRow.name).where(LeaseRow.name == name)) is not None:
        return False  # someone else holds it and it has not expired
    try:
        with session.begin_nested():
            session.connection().execute(
                insert(table).values(name=name, holder=holder, expires_at=expires, renewed_at=now)
            )
    except IntegrityError:
        return False  # another worker created it first
    return True


def release(session: Session, *, name: str, holder: str) -> None:
    table = LeaseRow.__table__
    assert isinstance(table, Table)
    session.connection().execute(
        update(table)
        .where(table.c.name == name, table.c.holder == holder)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )


class Lease:
    """Keeps trying to hold one lease; ``held`` says whether this worker may do the work."""

    def __init__(self, council: Council, name: str, *, ttl_seconds: float) -> None:
        self.council = council
        self.name = name
        self.ttl_seconds = ttl_seconds
        self.holder = worker_name()
        self.held = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Try once now (so work can begin at once), then keep trying in the background."""
        await self._try()
        self._task = asyncio.create_task(self._keep(), name=f"lease-{self.name}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self.held:
            self.held = False
            try:
                await self.council.db.write(release, name=self.name, holder=self.holder)
            except Exception:
                log.warning("could not release lease %s; it expires by itself", self.name)

    async def _try(self) -> None:
        try:
            held, _events = await self.council.db.write(
                claim, name=self.name, holder=self.holder, ttl_seconds=self.ttl_seconds
            )
        except Exception:
            # Cannot tell: stop working, since another worker may take over meanwhile.
            log.warning("could not renew lease %s; pausing that work", self.name)
            held = False
        if held != self.held:
            log.info("%s lease %s", "took" if held else "lost", self.name)
        self.held = held

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_seconds / 3)
            await self._try()
