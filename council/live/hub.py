"""Fan-out of committed events to websocket connections.

Publishing encodes a message once per audience and *offers* it to each connection;
it never waits for any client. A connection whose socket can take the bytes now is
written to at once: the frame, built once, goes straight to its transport under uvicorn
(council/live/frames.py); elsewhere the ASGI ``send`` is started eagerly, and completes
without suspending while the socket is writable. When a client's
socket is full, the rest of that send and anything after it wait in that
connection's own bounded backlog, drained by a task of its own; a client that falls
``limit`` messages behind is dropped (close code 4008) and resumes on reconnect with
``?after=SEQ``. One slow projector never delays anybody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from council.events import PublishedEvent
from council.jsontext import dumps as json_text
from council.live.frames import FrameWriter, abort_transport, frame_writer, text_frame
from council.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# (seq or None, the ASGI message, the same message as a websocket frame): built once per
# broadcast and shared by every connection, since neither uvicorn nor the socket changes them.
Item = tuple[int | None, dict[str, Any], bytes]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def outgoing(seq: int | None, text: str) -> Item:
    return (seq, {"type": "websocket.send", "text": text}, text_frame(text))


PING = outgoing(None, json_text({"type": "ping"}))


CLOSE_TOO_SLOW = 4008
# How long a dropped client gets to take its close frame before its socket is cut.
CLOSE_GRACE_SECONDS = 5.0

# After a fan-out, the survivors (connections, their frames and buffers) are moved out of
# the collector's sight, so the next full collection does not walk thousands of them in the
# middle of a broadcast: 10-30 ms pauses at 5,000 clients otherwise (bench/README.md).
FREEZE_DELAY_SECONDS = 0.5


def encode(message: dict[str, Any]) -> str:
    return json_text(message)


async def _resume(coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
    """Finish a coroutine that was started by hand and suspended on ``waiting``.

    This is what an asyncio Task does for a coroutine, from the point where the eager
    first step left off (Python 3.12's eager tasks do the same).
    """
    try:
        while True:
            if waiting is None:
                await asyncio.sleep(0)
            else:
                waiting._asyncio_future_blocking = False
                await asyncio.wait([waiting])
            try:
                waiting = coro.send(None)
            except StopIteration:
                return
    finally:
        coro.close()


class Connection:
    """One websocket's place in the hub: what it has seen, and what waits for it."""

    __slots__ = (
        "audience",
        "backlog",
        "busy",
        "dropped",
        "last_seq",
        "limit",
        "ready",
        "send",
        "write_frame",
    )

    def __init__(self, audience: str, send: Send, limit: int) -> None:
        self.audience = audience
        self.send = send
        self.write_frame: FrameWriter | None = frame_writer(send)
        self.limit = limit
        self.last_seq = 0
        self.dropped = False
        # Until the opening messages are out, everything offered waits in the backlog.
        self.ready = False
        self.backlog: deque[Item] | None = None
        # The task finishing a send that had to wait for the socket, then the backlog.
        self.busy: asyncio.Future[None] | None = None

    def offer(self, item: Item) -> bool:
        if self.dropped:
            return False
        if self.ready and self.busy is None:
            # The fast path, inlined: this runs once per client per message.
            seq, message, raw = item
            if seq is not None:
                if seq <= self.last_seq:
                    return True
                self.last_seq = seq
            if self.write_frame is not None and self.write_frame(raw):
                return True
            coro = self.send(message)
            try:
                waiting = coro.send(None)  # type: ignore[attr-defined]
            except StopIteration:
                return True
            except Exception:
                self.dropped = True
                return False
            self.busy = asyncio.ensure_future(self._finish(coro, waiting))  # type: ignore[arg-type]
            return True
        if self.backlog is None:
            self.backlog = deque()
        if len(self.backlog) >= self.limit:
            self.drop()
            return False
        self.backlog.append(item)
        return True

    def start(self, last_seq: int) -> None:
        """The opening is out: from now on messages go straight to the socket."""
        self.last_seq = max(self.last_seq, last_seq)
        self.ready = True
        while self.backlog and self.busy is None and not self.dropped:
            self._send_now(self.backlog.popleft())

    def _fresh(self, item: Item) -> dict[str, Any] | None:
        seq, message, _raw = item
        if seq is not None:
            if seq <= self.last_seq:
                return None  # the snapshot or the replay already covered it
            self.last_seq = seq
        return message

    def _send_now(self, item: Item) -> bool:
        message = self._fresh(item)
        if message is None:
            return True
        if self.write_frame is not None and self.write_frame(item[2]):
            return True
        coro = self.send(message)
        try:
            waiting = coro.send(None)  # type: ignore[attr-defined]
        except StopIteration:
            return True
        except Exception:
            self.dropped = True  # the client is gone; its handler sees the disconnect
            return False
        self.busy = asyncio.ensure_future(self._finish(coro, waiting))  # type: ignore[arg-type]
        return True

    async def _finish(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        try:
            await _resume(coro, waiting)
            while self.backlog and not self.dropped:
                message = self._fresh(self.backlog.popleft())
                if message is not None:
                    await self.send(message)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.dropped = True
        finally:
            self.busy = None

    def drop(self) -> None:
        """Too far behind: forget the backlog and close, so the client resumes afresh."""
        self.dropped = True
        self.backlog = None
        if self.busy is not None:
            self.busy.cancel()
        self.busy = asyncio.ensure_future(self._close())

    async def _close(self) -> None:
        close = {"type": "websocket.close", "code": CLOSE_TOO_SLOW, "reason": "resume with ?after"}
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send(close), CLOSE_GRACE_SECONDS)
            return
        # The close frame cannot get past what the client never read: cut the connection, or
        # its buffers stay with the server for as long as the client keeps it open.
        abort_transport(self.send)


# Reads the events of (after, upto] of a meeting from the event log.
GapFiller = Callable[[int, int, int], Awaitable[list[PublishedEvent]]]
# Hands what this process published to the other workers: ("events" | "notify", body).
Relay = Callable[[str, dict[str, Any]], None]


class Hub:
    """Connections by meeting and audience; committed events go out in seq order.

    Every client must get each event once and in order, and a connection skips any seq at or
    below the last it had. So an event that arrives ahead of its predecessors (committed by
    another worker, whose event has not reached us yet) is held back, the missing ones are read
    from the event log (``fill_gap``), and all go out in order. The event log has no holes: a
    seq is taken under the meeting row's lock, so a later one committed means the earlier ones
    are committed too.
    """

    def __init__(self, ping_seconds: float = 15.0) -> None:
        self.ping_seconds = ping_seconds
        self.fill_gap: GapFiller | None = None
        # Told how long each fan-out took, in seconds (the metrics histogram).
        self.on_fanout: Callable[[float], None] | None = None
        self.relay: Relay | None = None
        self._held: dict[int, dict[int, PublishedEvent]] = {}
        self._filling: dict[int, asyncio.Task[None]] = {}
        self._meetings: dict[tuple[int, str], set[Connection]] = defaultdict(set)
        self._tracking: dict[str, set[Connection]] = defaultdict(set)
        self._pinger: asyncio.Task[None] | None = None
        self._freeze: asyncio.TimerHandle | None = None
        self.dropped_total = 0
        # The newest seq published per meeting: what lies beyond was written elsewhere.
        self.published_seq: dict[int, int] = {}

    # -- membership ---------------------------------------------------------------------------

    def join(self, meeting_id: int, connection: Connection) -> None:
        self._meetings[(meeting_id, connection.audience)].add(connection)
        # A thousand phones that just connected are a heap the next broadcast would make the
        # collector walk (52 ms at N = 1,000 in bench/fanout.py's first round): freeze them
        # once the arrivals settle, not only after a broadcast.
        self._freeze_soon()

    def leave(self, meeting_id: int, connection: Connection) -> None:
        members = self._meetings.get((meeting_id, connection.audience))
        if members is not None:
            members.discard(connection)
            if not members:
                del self._meetings[(meeting_id, connection.audience)]

    def follow(self, token: str, connection: Connection) -> None:
        self._tracking[token].add(connection)

    def unfollow(self, token: str, connection: Connection) -> None:
        members = self._tracking.get(token)
        if members is not None:
            members.discard(connection)
            if not members:
                del self._tracking[token]

    def audience_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for (_meeting, audience), members in self._meetings.items():
            counts[audience] += len(members)
        counts["tracking"] = sum(len(c) for c in self._tracking.values())
        return dict(counts)

    def connection_count(self) -> int:
        return sum(len(c) for c in self._meetings.values()) + sum(
            len(c) for c in self._tracking.values()
        )

    # -- fan-out ------------------------------------------------------------------------------

    def publish(self, events: Iterable[PublishedEvent], *, relayed: bool = False) -> None:
        """Send committed events to their meetings' clients, in seq order, each seq once.

        ``relayed``: they came from another worker, so they are not handed on again.
        """
        started = time.perf_counter()
        events = sorted(events, key=lambda e: (e.meeting_id, e.seq))
        if self.relay is not None and not relayed and events:
            self.relay("events", {"events": [dataclasses.asdict(e) for e in events]})
        for event in events:
            known = self.published_seq.get(event.meeting_id, 0)
            if event.seq <= known:
                continue  # already out: another path brought it first
            if event.seq > known + 1 and self.fill_gap is not None:
                self._held.setdefault(event.meeting_id, {})[event.seq] = event
                self._fill_soon(event.meeting_id)
                continue
            self._deliver(event)
            self._drain(event.meeting_id)
        self._freeze_soon()
        if self.on_fanout is not None and events:
            self.on_fanout(time.perf_counter() - started)

    def _drain(self, meeting_id: int) -> None:
        """Send the held events that are next in line."""
        held = self._held.get(meeting_id)
        while held:
            known = self.published_seq.get(meeting_id, 0)
            first = min(held)
            if first > known + 1:
                return
            event = held.pop(first)
            if first == known + 1:
                self._deliver(event)
        self._held.pop(meeting_id, None)

    async def caught_up(self, meeting_id: int) -> None:
        """Wait until events held back for ``meeting_id`` have gone out."""
        task = self._filling.get(meeting_id)
        if task is not None:
            await asyncio.shield(task)

    def _fill_soon(self, meeting_id: int) -> None:
        if meeting_id not in self._filling:
            self._filling[meeting_id] = asyncio.create_task(
                self._fill(meeting_id), name=f"hub-fill-{meeting_id}"
            )

    async def _fill(self, meeting_id: int) -> None:
        assert self.fill_gap is not None
        try:
            while self._held.get(meeting_id):
                known = self.published_seq.get(meeting_id, 0)
                first = min(self._held[meeting_id])
                if first > known + 1:
                    self.publish(await self.fill_gap(meeting_id, known, first - 1), relayed=True)
                    if self.published_seq.get(meeting_id, 0) == known:
                        # The log did not have them: send what is held rather than wait forever.
                        self.published_seq[meeting_id] = first - 1
                self._drain(meeting_id)
        except Exception:
            log.exception("could not read the missed events of meeting %s", meeting_id)
            self.published_seq[meeting_id] = min(self._held.get(meeting_id, {0: None})) - 1
            self._drain(meeting_id)
        finally:
            self._filling.pop(meeting_id, None)

    def _deliver(self, event: PublishedEvent) -> None:
        self.published_seq[event.meeting_id] = max(
            event.seq, self.published_seq.get(event.meeting_id, 0)
        )
        for audience in ("public", "moderation"):
            members = self._meetings.get((event.meeting_id, audience))
            if not members:
                continue
            message = event.message(audience)
            if message is not None:
                self._offer_all(members, outgoing(event.seq, encode(message)))
        for token, view in event.tracking.items():
            followers = self._tracking.get(token)
            if followers:
                text = encode({"type": "status", "seq": event.seq, "submission": view})
                self._offer_all(followers, outgoing(event.seq, text))

    def notify(
        self, meeting_id: int, audience: str, message: dict[str, Any], *, relayed: bool = False
    ) -> None:
        """A message outside the event log (no seq): not replayed, current state only."""
        if self.relay is not None and not relayed:
            self.relay(
                "notify", {"meeting_id": meeting_id, "audience": audience, "message": message}
            )
        members = self._meetings.get((meeting_id, audience))
        if members:
            self._offer_all(members, outgoing(None, encode(message)))

    def _offer_all(self, members: set[Connection], item: Item) -> None:
        for connection in list(members):
            if not connection.offer(item) and connection.dropped:
                self.dropped_total += 1
                members.discard(connection)
                log.info("dropped a %s websocket that fell behind", connection.audience)

    def _freeze_soon(self) -> None:
        if self._freeze is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (a test driving the hub by hand): nothing to schedule on
            self._freeze = loop.call_later(FREEZE_DELAY_SECONDS, self._do_freeze)

    def _do_freeze(self) -> None:
        self._freeze = None
        gc.freeze()

    # -- keep-alive ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._pinger is None:
            self._pinger = asyncio.create_task(self._ping_forever(), name="council-hub-ping")

    async def stop(self) -> None:
        if self._freeze is not None:
            self._freeze.cancel()
            self._freeze = None
        await cancel_and_wait(self._pinger)
        self._pinger = None
        for task in list(self._filling.values()):
            await cancel_and_wait(task)

    async def _ping_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ping_seconds)
            for members in [*self._meetings.values(), *self._tracking.values()]:
                self._offer_all(members, PING)
            self._freeze_soon()
