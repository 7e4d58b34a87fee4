"""The hub fans out without waiting on anyone: a stuck client is dropped, the others carry on."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

from council.events import PublishedEvent
from council.live import hub as hub_module
from council.live.hub import Connection, Hub


def event(seq: int, *, public: bool = True, meeting_id: int = 1) -> PublishedEvent:
    body = {"submissions": [{"id": seq, "status": "approved", "text": f"q{seq}"}]}
    return PublishedEvent(
        meeting_id=meeting_id,
        seq=seq,
        type="approved",
        payload=body,
        public=body if public else None,
    )


class Client:
    """A websocket's ASGI ``send``: instant, stuck until released, or both in turn."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.gate: asyncio.Future[None] | None = None

    def block(self) -> None:
        self.gate = asyncio.get_running_loop().create_future()

    def release(self) -> None:
        assert self.gate is not None
        self.gate.set_result(None)
        self.gate = None

    async def send(self, message: dict[str, Any]) -> None:
        if self.gate is not None:
            await self.gate  # the socket's buffer is full
        self.messages.append(message)

    def seqs(self) -> list[int]:
        return [
            json.loads(m["text"])["seq"] for m in self.messages if m["type"] == "websocket.send"
        ]


def connect(
    hub: Hub, client: Client, *, audience: str = "public", limit: int = 4, meeting_id: int = 1
) -> Connection:
    connection = Connection(audience, client.send, limit)
    hub.join(meeting_id, connection)
    connection.start(0)
    return connection


def test_fast_clients_are_written_during_publish_and_a_stuck_one_is_dropped() -> None:
    async def scenario() -> tuple[Client, Client, Connection]:
        hub = Hub()
        fast, stuck = Client(), Client()
        stuck.block()
        connect(hub, fast)
        stuck_connection = connect(hub, stuck)
        for seq in range(1, 11):
            hub.publish([event(seq)])
            # No await between publishes: the fast client has each message already.
            assert fast.seqs()[-1] == seq
        await asyncio.sleep(0)
        return fast, stuck, stuck_connection

    fast, stuck, stuck_connection = asyncio.run(scenario())
    assert fast.seqs() == list(range(1, 11))
    assert stuck_connection.dropped
    assert stuck.messages == [], "its first send never got through"


def test_a_client_that_recovers_gets_everything_in_order() -> None:
    async def scenario() -> list[int]:
        hub = Hub()
        slow = Client()
        connection = connect(hub, slow, limit=10)
        slow.block()
        for seq in range(1, 6):
            hub.publish([event(seq)])
        assert connection.busy is not None and not connection.dropped
        slow.release()
        await asyncio.wait_for(connection.busy, 1)
        hub.publish([event(6)])
        return slow.seqs()

    assert asyncio.run(scenario()) == [1, 2, 3, 4, 5, 6]


def test_publishing_never_waits_for_slow_clients() -> None:
    async def scenario() -> int:
        hub = Hub()
        clients = [Client() for _ in range(200)]
        for client in clients:
            client.block()
            connect(hub, client, limit=1000)
        for seq in range(1, 101):
            hub.publish([event(seq)])  # synchronous: returns whatever the clients do
        backlog = min(len(c.backlog or ()) for c in hub._meetings[(1, "public")])
        for client in clients:
            client.release()
        return backlog

    assert asyncio.run(scenario()) == 99  # the first send is under way, 99 wait their turn


def test_messages_wait_for_the_opening_and_skip_what_it_covered() -> None:
    async def scenario() -> list[int]:
        hub = Hub()
        client = Client()
        connection = Connection("public", client.send, 10)
        hub.join(1, connection)  # joined, opening not sent yet
        for seq in (1, 2, 3):
            hub.publish([event(seq)])
        assert client.messages == []
        connection.start(2)  # the snapshot covered up to seq 2
        return client.seqs()

    assert asyncio.run(scenario()) == [3]


def test_moderator_only_events_never_reach_public_connections() -> None:
    async def scenario() -> tuple[Client, Client]:
        hub = Hub()
        public, moderation = Client(), Client()
        connect(hub, public)
        connect(hub, moderation, audience="moderation")
        hub.publish([event(1, public=False)])
        return public, moderation

    public, moderation = asyncio.run(scenario())
    assert public.messages == [] and moderation.seqs() == [1]


def test_other_meetings_hear_nothing() -> None:
    async def scenario() -> Client:
        hub = Hub()
        elsewhere = Client()
        connect(hub, elsewhere, meeting_id=2)
        hub.publish([event(1)])
        return elsewhere

    assert asyncio.run(scenario()).messages == []


def test_a_dropped_client_is_told_to_resume() -> None:
    async def scenario() -> list[dict[str, Any]]:
        hub = Hub()
        client = Client()
        connection = connect(hub, client, limit=2)
        client.block()
        for seq in range(1, 5):
            hub.publish([event(seq)])
        assert connection.dropped
        client.release()
        await asyncio.sleep(0.01)
        return client.messages

    closing = [m for m in asyncio.run(scenario()) if m["type"] == "websocket.close"]
    assert closing == [{"type": "websocket.close", "code": 4008, "reason": "resume with ?after"}]


def test_survivors_of_a_fan_out_are_frozen_out_of_the_collector(monkeypatch: Any) -> None:
    monkeypatch.setattr(hub_module, "FREEZE_DELAY_SECONDS", 0.01)
    gc.unfreeze()

    async def scenario() -> int:
        hub = Hub()
        connect(hub, Client())
        hub.publish([event(1)])
        await asyncio.sleep(0.05)
        return gc.get_freeze_count()

    try:
        assert asyncio.run(scenario()) > 0
    finally:
        gc.unfreeze()


def test_an_event_ahead_of_its_predecessors_waits_until_the_log_fills_the_gap() -> None:
    async def scenario() -> tuple[list[int], list[tuple[int, int, int]]]:
        hub = Hub()
        reads: list[tuple[int, int, int]] = []

        async def log_read(meeting_id: int, after: int, upto: int) -> list[PublishedEvent]:
            reads.append((meeting_id, after, upto))
            await asyncio.sleep(0.01)  # the database takes a moment
            return [event(seq) for seq in range(after + 1, upto + 1)]

        hub.fill_gap = log_read
        client = Client()
        connect(hub, client)
        hub.publish([event(1)])
        hub.publish([event(4)])  # another worker committed 2 and 3; they have not reached us
        assert client.seqs() == [1], "4 went out before 2 and 3"
        hub.publish([event(2)])  # one of them arrives on its own meanwhile
        await asyncio.sleep(0.05)
        hub.publish([event(3), event(4)])  # and late duplicates change nothing
        return client.seqs(), reads

    seqs, reads = asyncio.run(scenario())
    assert seqs == [1, 2, 3, 4]
    assert reads == [(1, 2, 3)], "only what was still missing is read"


def test_an_unreadable_gap_does_not_hold_events_forever() -> None:
    async def scenario() -> list[int]:
        hub = Hub()

        async def broken_log(meeting_id: int, after: int, upto: int) -> list[PublishedEvent]:
            raise RuntimeError("database gone")

        hub.fill_gap = broken_log
        client = Client()
        connect(hub, client)
        hub.publish([event(1)])
        hub.publish([event(3)])
        await asyncio.sleep(0.01)
        return client.seqs()

    assert asyncio.run(scenario()) == [1, 3]


def test_local_events_and_notices_are_handed_to_the_relay_and_relayed_ones_are_not() -> None:
    async def scenario() -> list[tuple[str, dict[str, Any]]]:
        hub = Hub()
        sent: list[tuple[str, dict[str, Any]]] = []
        hub.relay = lambda kind, body: sent.append((kind, body))
        hub.publish([event(1)])
        hub.publish([event(2)], relayed=True)
        hub.notify(1, "moderation", {"type": "viewing"})
        hub.notify(1, "moderation", {"type": "viewing"}, relayed=True)
        return sent

    sent = asyncio.run(scenario())
    assert [kind for kind, _ in sent] == ["events", "notify"]
    assert sent[0][1]["events"][0]["seq"] == 1
