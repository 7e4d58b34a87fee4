"""Fan-out of committed events to websocket connections.

Each connection owns a bounded queue and one sender task. Publishing encodes a
message once per audience and only *offers* it to each queue, so one slow or
dead projector never delays anybody else; a connection whose queue is full is
dropped and resyncs on reconnect with ``?after=SEQ``. Nothing here awaits a
send on behalf of another connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections import defaultdict
from collections.abc import Iterable

from council.events import PublishedEvent

log = logging.getLogger(__name__)

Item = tuple[int | None, str]
PING = json.dumps({"type": "ping"})

# Freezing moves long-lived objects (connections, queues) out of the collector's view, so a
# full collection during a broadcast to thousands of clients does not walk them all
# (a 0.5 s pause at 5,000 clients otherwise: shared/notes/performance.md).
FREEZE_EVERY_CONNECTIONS = 500


def encode(message: dict[str, object]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


class Connection:
    """One websocket's place in the hub: its queue, what it has seen, and whether it fell behind."""

    __slots__ = ("audience", "dropped", "last_seq", "queue", "sender")

    def __init__(self, audience: str, queue_size: int) -> None:
        self.audience = audience
        self.queue: asyncio.Queue[Item] = asyncio.Queue(maxsize=queue_size)
        self.last_seq = 0
        self.dropped = False
        # The task that drains the queue; cancelled when the client falls too far behind.
        self.sender: asyncio.Task[None] | None = None

    def offer(self, item: Item) -> bool:
        if self.dropped:
            return False
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped = True
            if self.sender is not None:
                self.sender.cancel()
            return False
        return True

    async def next_message(self) -> str:
        """The next message this client has not seen yet (replays and snapshots may overlap)."""
        while True:
            seq, text = await self.queue.get()
            if seq is not None:
                if seq <= self.last_seq:
                    continue
                self.last_seq = seq
            return text


class Hub:
    def __init__(self, ping_seconds: float = 15.0) -> None:
        self.ping_seconds = ping_seconds
        self._meetings: dict[tuple[int, str], set[Connection]] = defaultdict(set)
        self._tracking: dict[str, set[Connection]] = defaultdict(set)
        self._pinger: asyncio.Task[None] | None = None
        self._joined_since_freeze = 0
        self.dropped_total = 0

    # -- membership ---------------------------------------------------------------------------

    def join(self, meeting_id: int, connection: Connection) -> None:
        self._meetings[(meeting_id, connection.audience)].add(connection)
        self._count_join()

    def leave(self, meeting_id: int, connection: Connection) -> None:
        members = self._meetings.get((meeting_id, connection.audience))
        if members is not None:
            members.discard(connection)
            if not members:
                del self._meetings[(meeting_id, connection.audience)]

    def follow(self, token: str, connection: Connection) -> None:
        self._tracking[token].add(connection)
        self._count_join()

    def unfollow(self, token: str, connection: Connection) -> None:
        members = self._tracking.get(token)
        if members is not None:
            members.discard(connection)
            if not members:
                del self._tracking[token]

    def _count_join(self) -> None:
        self._joined_since_freeze += 1
        if self._joined_since_freeze >= FREEZE_EVERY_CONNECTIONS:
            self._joined_since_freeze = 0
            gc.freeze()

    def connection_count(self) -> int:
        return sum(len(c) for c in self._meetings.values()) + sum(
            len(c) for c in self._tracking.values()
        )

    # -- fan-out ------------------------------------------------------------------------------

    def publish(self, events: Iterable[PublishedEvent]) -> None:
        for event in events:
            for audience in ("public", "moderation"):
                members = self._meetings.get((event.meeting_id, audience))
                if not members:
                    continue
                message = event.message(audience)
                if message is not None:
                    self._offer_all(members, (event.seq, encode(message)))
            for token, view in event.tracking.items():
                followers = self._tracking.get(token)
                if followers:
                    text = encode({"type": "status", "seq": event.seq, "submission": view})
                    self._offer_all(followers, (None, text))

    def notify(self, meeting_id: int, audience: str, message: dict[str, object]) -> None:
        """A message outside the event log (no seq): not replayed, current state only."""
        members = self._meetings.get((meeting_id, audience))
        if members:
            self._offer_all(members, (None, encode(message)))

    def _offer_all(self, members: set[Connection], item: Item) -> None:
        for connection in members:
            if not connection.offer(item):
                self.dropped_total += 1
                log.info("dropped a %s websocket that fell behind", connection.audience)

    # -- keep-alive ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._pinger is None:
            self._pinger = asyncio.create_task(self._ping_forever(), name="council-hub-ping")

    async def stop(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinger
            self._pinger = None

    async def _ping_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ping_seconds)
            for members in [*self._meetings.values(), *self._tracking.values()]:
                self._offer_all(members, (None, PING))
