"""The shape every source fits, and the manager that runs one collector per live meeting.

A source is a factory: given a meeting, it returns the collector that reads that meeting's
hashtags, or None when it has nothing to read for it (no Mastodon server configured for
the meeting, say). A collector's ``run`` lasts as long as the meeting is live: the manager
starts it when the meeting goes live (or a little before, see ``lead_minutes``), cancels
it when the meeting ends, and keeps one that gave up (credentials refused) stopped until a
moderator asks for a retry. Collectors keep their resume point and health in
``CollectorState`` (one row per meeting and source, see state.py) and store posts through
``council.intake.collect``, which ignores a (source, external id) it has seen before.
:class:`council.collectors.polling.Poller` is the common loop of the polling sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from council.collectors.state import health_view, record_status
from council.leases import Lease
from council.models import CollectorState, Meeting, MeetingStatus
from council.services import Council

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 1.0
# A moderator asked for a retry; whichever worker runs the collectors starts it again.
RETRY = "retry"


@dataclass(frozen=True)
class MeetingInfo:
    id: int
    slug: str
    hashtags: tuple[str, ...]
    starts_at: datetime | None
    started_at: datetime | None
    cost_cap: float | None
    # The meeting's own Mastodon servers; None: the server-wide setting.
    mastodon_instances: tuple[str, ...] | None = None


class Collector(Protocol):
    """One source for one meeting. ``run`` returns only when the collector gives up."""

    source: str

    async def run(self) -> None: ...


# None: the source has nothing to collect for this meeting.
CollectorFactory = Callable[[Council, MeetingInfo], Collector | None]


def retry_requests(session: Session) -> set[tuple[int, str]]:
    rows = session.execute(
        select(CollectorState.meeting_id, CollectorState.source).where(
            CollectorState.status == RETRY
        )
    )
    return {(int(meeting_id), str(source)) for meeting_id, source in rows}


def meetings_to_collect(session: Session, *, lead_minutes: float) -> list[MeetingInfo]:
    """Live meetings with hashtags, and scheduled ones starting within the lead time."""
    now = datetime.now(UTC)
    found = session.scalars(
        select(Meeting).where(Meeting.status.in_([MeetingStatus.LIVE, MeetingStatus.SCHEDULED]))
    ).all()
    chosen = []
    for meeting in found:
        if not meeting.hashtags:
            continue
        if meeting.status == MeetingStatus.SCHEDULED and (
            lead_minutes <= 0
            or meeting.starts_at is None
            or meeting.starts_at - timedelta(minutes=lead_minutes) > now
        ):
            continue
        chosen.append(
            MeetingInfo(
                id=meeting.id,
                slug=meeting.slug,
                hashtags=tuple(meeting.hashtags),
                starts_at=meeting.starts_at,
                started_at=meeting.started_at,
                cost_cap=meeting.x_cost_cap,
                mastodon_instances=None
                if meeting.mastodon_instances is None
                else tuple(meeting.mastodon_instances),
            )
        )
    return chosen


class CollectorManager:
    """Starts a collector when its meeting goes live and stops it when the meeting ends.

    A collector that gave up (credentials rejected) stays stopped until a moderator asks
    for a retry, so a bad key does not hammer the API once a second.
    """

    def __init__(
        self,
        council: Council,
        factories: dict[str, CollectorFactory],
        lead_minutes: float = 0,
        lease: Lease | None = None,
    ) -> None:
        self.council = council
        # Several workers: only the one holding the "collectors" lease reads the sources.
        self.lease = lease
        self.factories = factories
        self.lead_minutes = lead_minutes
        self._tasks: dict[tuple[int, str], asyncio.Task[None]] = {}
        self._given_up: set[tuple[int, str]] = set()
        # Asked for by a moderator; honoured even if the collector is still winding down.
        self._retry_requested: set[tuple[int, str]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        # What each running collector was built from: a change (new hashtags, other servers)
        # restarts it.
        self._infos: dict[tuple[int, str], MeetingInfo] = {}

    def _still_wanted(self, meeting: MeetingInfo, source: str) -> bool:
        was = self._infos.get((meeting.id, source))
        return was is None or (was.hashtags, was.mastodon_instances) == (
            meeting.hashtags,
            meeting.mastodon_instances,
        )

    def start(self) -> None:
        if self.factories and self._loop_task is None:
            self._loop_task = asyncio.create_task(self._reconcile_forever(), name="collectors")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._loop_task = None

    def retry(self, meeting_id: int, source: str) -> None:
        self._retry_requested.add((meeting_id, source))

    def running(self) -> set[tuple[int, str]]:
        return {key for key, task in self._tasks.items() if not task.done()}

    async def _reconcile_forever(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:
                log.exception("could not reconcile collectors; trying again")
            await asyncio.sleep(RECONCILE_SECONDS)

    async def reconcile(self) -> None:
        leader = self.lease is None or self.lease.held
        wanted = (
            await self.council.read(meetings_to_collect, lead_minutes=self.lead_minutes)
            if leader
            else []
        )
        if leader:
            # Retries asked for on another worker arrive through the database.
            self._retry_requested |= await self.council.read(retry_requests)
        wanted_keys = set()
        for meeting in wanted:
            for source, factory in self.factories.items():
                key = (meeting.id, source)
                task = self._tasks.get(key)
                if task is not None and not task.done():
                    if self._still_wanted(meeting, source):
                        wanted_keys.add(key)
                    continue
                if task is not None:
                    del self._tasks[key]
                    self._given_up.add(key)
                if key in self._retry_requested:
                    self._retry_requested.discard(key)
                    self._given_up.discard(key)
                if key in self._given_up:
                    wanted_keys.add(key)
                    continue
                collector = factory(self.council, meeting)
                if collector is None:
                    continue
                wanted_keys.add(key)
                self._infos[key] = meeting
                self._tasks[key] = asyncio.create_task(
                    self._supervise(meeting.id, collector),
                    name=f"collector-{source}-{meeting.slug}",
                )
        for key in [k for k in self._tasks if k not in wanted_keys]:
            self._tasks.pop(key).cancel()
            self._infos.pop(key, None)
            if leader:  # a worker that lost the lease leaves the state to the new holder
                await report_status(
                    self.council, meeting_id=key[0], source=key[1], status="stopped"
                )
        self._given_up &= wanted_keys
        self._retry_requested &= wanted_keys

    async def _supervise(self, meeting_id: int, collector: Collector) -> None:
        try:
            await collector.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s collector crashed", collector.source)
            await report_status(
                self.council,
                meeting_id=meeting_id,
                source=collector.source,
                status="failed",
                error=f"{type(exc).__name__}: {exc}",
            )


async def report_status(council: Council, *, meeting_id: int, **changes: Any) -> CollectorState:
    state = await council.act(record_status, meeting_id=meeting_id, **changes)
    publish_health(council, state)
    return state


def publish_health(council: Council, state: CollectorState) -> None:
    """Health goes to moderators at once, outside the event log: it changes every poll."""
    council.hub.notify(
        state.meeting_id, "moderation", {"type": "collector", "collector": health_view(state)}
    )
