"""The hub fans out without waiting on anyone: a stuck client is dropped, the others carry on."""

from __future__ import annotations

import asyncio
import json

from council.events import PublishedEvent
from council.live.hub import Connection, Hub


def event(seq: int, *, public: bool = True) -> PublishedEvent:
    body = {"submissions": [{"id": seq, "status": "approved", "text": f"q{seq}"}]}
    return PublishedEvent(
        meeting_id=1, seq=seq, type="approved", payload=body, public=body if public else None
    )


def test_stuck_client_is_dropped_while_others_get_everything() -> None:
    async def scenario() -> tuple[list[int], bool, bool, bool]:
        hub = Hub()
        fast, stuck = Connection("public", 4), Connection("public", 4)
        stuck.sender = asyncio.create_task(asyncio.sleep(3600))  # a send that never returns
        hub.join(1, fast)
        hub.join(1, stuck)
        received: list[int] = []

        async def drain() -> None:
            while len(received) < 10:
                received.append(json.loads(await fast.next_message())["seq"])

        reader = asyncio.create_task(drain())
        for seq in range(1, 11):
            hub.publish([event(seq)])
            await asyncio.sleep(0)  # let the fast reader run, as the event loop would
        await asyncio.wait_for(reader, 1)
        await asyncio.sleep(0)
        return received, stuck.dropped, fast.dropped, stuck.sender.cancelled()

    received, stuck_dropped, fast_dropped, sender_cancelled = asyncio.run(scenario())
    assert received == list(range(1, 11))
    assert stuck_dropped and not fast_dropped
    assert sender_cancelled, "the stuck connection's sender is stopped so its socket can close"


def test_publishing_never_waits_for_a_client() -> None:
    async def scenario() -> int:
        hub = Hub()
        connections = [Connection("public", 1000) for _ in range(200)]
        for connection in connections:
            hub.join(1, connection)
        for seq in range(1, 101):
            hub.publish([event(seq)])  # synchronous: no await, whatever the clients do
        return min(c.queue.qsize() for c in connections)

    assert asyncio.run(scenario()) == 100


def test_moderator_only_events_never_reach_public_connections() -> None:
    async def scenario() -> tuple[int, int]:
        hub = Hub()
        public, moderation = Connection("public", 10), Connection("moderation", 10)
        hub.join(1, public)
        hub.join(1, moderation)
        hub.publish([event(1, public=False)])
        return public.queue.qsize(), moderation.queue.qsize()

    assert asyncio.run(scenario()) == (0, 1)


def test_messages_already_covered_by_the_opening_are_skipped() -> None:
    async def scenario() -> list[int]:
        connection = Connection("public", 10)
        connection.last_seq = 2  # the snapshot covered up to seq 2
        for seq in (1, 2, 3):
            connection.offer((seq, json.dumps({"seq": seq})))
        connection.offer((None, '{"type":"ping"}'))
        return [json.loads(await connection.next_message()).get("seq", 0) for _ in range(2)]

    assert asyncio.run(scenario()) == [3, 0]


def test_other_meetings_hear_nothing() -> None:
    async def scenario() -> int:
        hub = Hub()
        elsewhere = Connection("public", 10)
        hub.join(2, elsewhere)
        hub.publish([event(1)])
        return elsewhere.queue.qsize()

    assert asyncio.run(scenario()) == 0
