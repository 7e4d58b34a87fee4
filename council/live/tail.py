"""Publishes events that other processes committed: the CLI moving the agenda, another
worker on the same database. The event log is the shared truth; this reads its tail
every ``COUNCIL_EVENT_TAIL_SECONDS`` and hands what this process did not write to the hub."""

from __future__ import annotations

import asyncio
import logging

from council.events import committed_events, meeting_seqs
from council.services import Council
from council.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class EventTail:
    def __init__(self, council: Council) -> None:
        self.council = council
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # What is committed now is history: clients get it from snapshots, not from here.
        for meeting_id, seq in (await self.council.read(meeting_seqs)).items():
            hub = self.council.hub
            hub.published_seq[meeting_id] = max(hub.published_seq.get(meeting_id, 0), seq)
        self._task = asyncio.create_task(self._run(), name="event-tail")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.council.settings.event_tail_seconds)
            try:
                await self.catch_up()
            except Exception:
                log.exception("could not read the event log's tail; trying again")

    async def catch_up(self) -> None:
        hub = self.council.hub
        for meeting_id, seq in (await self.council.read(meeting_seqs)).items():
            known = hub.published_seq.get(meeting_id, 0)
            if seq > known:
                # relayed: every worker reads the same log, so none hands these on.
                hub.publish(
                    await self.council.read(committed_events, meeting_id=meeting_id, after=known),
                    relayed=True,
                )
