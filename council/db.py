"""Engine, sessions, schema upgrades, and the single writer every change goes through.

All writes run on one dedicated thread. SQLite has one write lock, so several
threads writing only queue behind it and stretch the tail latency (see
shared/notes/performance.md); one writer keeps the event loop free and the
order of commits plain. Events that a write appended are handed back only
after its commit succeeded, so nothing is published for a write that failed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from council.errors import Unavailable
from council.events import PublishedEvent, take_pending_events
from council.i18n import _

P = ParamSpec("P")
T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a question acknowledged with 201 survives a power cut, not only a process crash.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the schema at ``url`` to the newest migration (idempotent)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="council-writer")
        # A SQLite read of a few rows takes about 0.1 ms, while handing it to a thread and
        # back costs about 1 ms of latency here: local-file reads run on the event loop.
        # WAL lets them proceed while the writer thread commits. Network databases keep
        # the thread pool, so a slow query never stalls every websocket.
        self.inline_reads = url.startswith("sqlite")

    def session(self) -> Session:
        return self.sessions()

    def run_write(self, fn: Callable[..., T], **kwargs: Any) -> tuple[T, list[PublishedEvent]]:
        """Run ``fn(session, **kwargs)`` in one transaction; the events come back after commit."""
        with self.sessions() as session:
            try:
                with session.begin():
                    result = fn(session, **kwargs)
            except OperationalError as exc:
                raise Unavailable(
                    _("The database is not answering; nothing was saved. Try again in a moment.")
                ) from exc
            finally:
                events = take_pending_events(session)
            return result, events

    async def write(self, fn: Callable[..., T], **kwargs: Any) -> tuple[T, list[PublishedEvent]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._writer, functools.partial(self.run_write, fn, **kwargs)
        )

    def run_read(self, fn: Callable[..., T], **kwargs: Any) -> T:
        with self.sessions() as session:
            try:
                return fn(session, **kwargs)
            except OperationalError as exc:
                raise Unavailable(
                    _("The database is not answering. Try again in a moment.")
                ) from exc

    async def read(self, fn: Callable[..., T], **kwargs: Any) -> T:
        if self.inline_reads:
            return self.run_read(fn, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(self.run_read, fn, **kwargs))

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self.engine.dispose()
