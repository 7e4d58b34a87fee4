"""Engine, sessions, schema upgrades, and the single writer every change goes through.

All writes run on one dedicated thread. SQLite has one write lock, so several
threads writing only queue behind it and stretch the tail latency (see
shared/notes/performance.md); one writer keeps the event loop free and the
order of commits plain. Events that a write appended are handed back only
after its commit succeeded, so nothing is published for a write that failed.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from council.errors import Unavailable
from council.events import PublishedEvent, take_pending_events
from council.i18n import _
from council.jsontext import dumps as json_text

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


def _sqlite_manual_transactions(
    dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry
) -> None:
    dbapi_connection.isolation_level = None  # the driver stops issuing BEGIN by itself


def _sqlite_begin_immediate(connection: Connection) -> None:
    # A write transaction takes the write lock first (waiting up to busy_timeout): a deferred
    # one that read, then tries to write after another writer committed, fails at once.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _unavailable() -> Unavailable:
    return Unavailable(
        _("The database is not answering; nothing was saved. Try again in a moment.")
    )


# How long a PostgreSQL that stopped answering may keep a request waiting, unless the URL
# says otherwise (``?connect_timeout=10``). Left to themselves, psycopg waits 130 s for a
# connection to a host that accepts nothing, and a query on a link that silently died (a
# partition, a host that lost power) waits until TCP gives up, about 15 minutes: the
# moderator's click and the resident's question would hang instead of getting a 503.
POSTGRES_LIMITS: dict[str, int] = {
    "connect_timeout": 5,  # seconds
    "tcp_user_timeout": 10_000,  # ms that sent data may stay unacknowledged (Linux)
    # An idle pooled link is probed: a dead one is found before a request picks it up.
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
}


def make_engine(url: str, *, for_writes: bool = False, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, json_serializer=json_text, **options
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if for_writes:
            # Python's sqlite3 begins transactions only before a write, so a SAVEPOINT first
            # in a transaction would start (and its RELEASE commit) one of its own: group
            # commit needs real nested transactions. SQLAlchemy's documented recipe: the
            # driver leaves transactions alone and SQLAlchemy says BEGIN itself. Reads keep
            # the driver's way: no transaction to open and close around a SELECT.
            event.listen(engine, "connect", _sqlite_manual_transactions)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    given = make_url(url).query
    limits = {key: value for key, value in POSTGRES_LIMITS.items() if key not in given}
    return create_engine(
        url, pool_pre_ping=True, json_serializer=json_text, connect_args=limits, **options
    )


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


# Writes that arrive while one transaction commits go together into the next: one
# commit (one fsync) for all of them. Bounded so one batch never holds the lock for long.
MAX_BATCH = 200


@dataclass(slots=True)
class _Job:
    fn: Callable[..., Any]
    kwargs: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[tuple[Any, list[PublishedEvent]]]
    # The caller's context (its language, council/i18n.py): errors raised on the writer
    # thread speak the language of the request that asked for the write.
    context: contextvars.Context


def _settle(
    future: asyncio.Future[tuple[Any, list[PublishedEvent]]],
    outcome: tuple[Any, list[PublishedEvent]] | BaseException,
) -> None:
    if future.done():
        return  # the caller gave up waiting (its request was cancelled); the write stands
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: writes on connections of their own that begin IMMEDIATE; reads stay deferred
        # so they never wait for the write lock.
        self.write_engine = make_engine(url, for_writes=True) if url.startswith("sqlite") else None
        self.write_sessions = (
            sessionmaker(self.write_engine, expire_on_commit=False)
            if self.write_engine is not None
            else self.sessions
        )
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        # A SQLite read of a few rows takes about 0.1 ms, while handing it to a thread and
        # back costs about 1 ms of latency here: local-file reads run on the event loop.
        # WAL lets them proceed while the writer thread commits. Network databases keep
        # the thread pool, so a slow query never stalls every websocket.
        self.inline_reads = url.startswith("sqlite")
        self._readers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="council-reader")

    def session(self) -> Session:
        return self.sessions()

    def run_write(self, fn: Callable[..., T], **kwargs: Any) -> tuple[T, list[PublishedEvent]]:
        """Run ``fn(session, **kwargs)`` in one transaction; the events come back after commit.

        For the CLI and tests, on the calling thread; the app goes through :meth:`write`.
        """
        with self.write_sessions() as session:
            try:
                with session.begin():
                    result = fn(session, **kwargs)
            except OperationalError as exc:
                raise _unavailable() from exc
            finally:
                events = take_pending_events(session)
            return result, events

    async def write(self, fn: Callable[..., T], **kwargs: Any) -> tuple[T, list[PublishedEvent]]:
        """Run ``fn(session, **kwargs)`` on the writer thread; returns after the commit.

        Group commit: the writer runs everything queued meanwhile in one transaction, each
        write in a savepoint of its own, so a write that fails (a 409, a 422) is undone
        alone, and one commit makes the whole batch durable before anyone is answered.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Any, list[PublishedEvent]]] = loop.create_future()
        self._jobs.put(_Job(fn, kwargs, loop, future, contextvars.copy_context()))
        self._start_writer()
        result: tuple[T, list[PublishedEvent]] = await future
        return result

    def _start_writer(self) -> None:
        if self._writer is None:
            with self._writer_lock:
                if self._writer is None:
                    self._writer = threading.Thread(
                        target=self._write_forever, name="council-writer", daemon=True
                    )
                    self._writer.start()

    def _write_forever(self) -> None:
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            self._run_batch(batch)

    def _run_batch(self, batch: list[_Job]) -> None:
        outcomes: list[tuple[Any, list[PublishedEvent]] | BaseException] = []
        try:
            with self.write_sessions() as session, session.begin():
                for job in batch:
                    if len(batch) == 1:  # alone: no savepoint needed
                        result = job.context.run(job.fn, session, **job.kwargs)
                        outcomes.append((result, take_pending_events(session)))
                        continue
                    try:
                        with session.begin_nested():
                            result = job.context.run(job.fn, session, **job.kwargs)
                        outcomes.append((result, take_pending_events(session)))
                    except OperationalError:
                        raise  # the database itself failed: the whole batch with it
                    except Exception as exc:
                        take_pending_events(session)  # undone with its savepoint
                        outcomes.append(exc)
        except OperationalError as exc:
            outcomes = []
            for job in batch:
                failure: BaseException = job.context.run(_unavailable)
                failure.__cause__ = exc
                outcomes.append(failure)
        except Exception as exc:
            # A lone write's own error (nothing else was in its transaction), or a failed
            # commit: nobody in the batch is told it was saved.
            outcomes = [exc] * len(batch)
        for job, outcome in zip(batch, outcomes, strict=True):
            job.loop.call_soon_threadsafe(_settle, job.future, outcome)

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
        # run_in_executor, unlike asyncio.to_thread, does not carry the caller's context:
        # a NotFound raised in the pool must still speak the request's language.
        context = contextvars.copy_context()
        return await loop.run_in_executor(
            self._readers,
            functools.partial(context.run, functools.partial(self.run_read, fn, **kwargs)),
        )

    def close(self) -> None:
        # Reads still running hold connections: wait for them, or disposing the pool would
        # leave those connections to the garbage collector.
        self._readers.shutdown(wait=True)
        if self._writer is not None:
            self._jobs.put(None)
            self._writer.join()
            self._writer = None
        self.engine.dispose()
        if self.write_engine is not None:
            self.write_engine.dispose()
