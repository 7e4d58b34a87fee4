"""Redis pub/sub between the hubs of several workers.

Each worker's hub hands what it publishes (committed events, and notices such as who is
looking at which question) to :class:`RedisRelay`, which sends them on one channel; every
other worker publishes them to its own clients as if they were its own. Redis carries
them at most once and possibly never (a worker that was disconnected misses what was sent
meanwhile), so it is only the fast path: the event log is the truth. The hub reads any seq
it skipped from the log before sending later ones (``Hub.fill_gap``), and the event tail
(council/live/tail.py) still reads the log every second, so nothing is lost while Redis is
away.

One sender task keeps this worker's messages in the order they were published.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from typing import Any

import redis.asyncio as redis

from council.events import PublishedEvent
from council.live.hub import Hub
from council.tasks import cancel_and_wait

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "council:hub:"
# Past this many unsent messages (Redis down), new ones are dropped: the log has them.
OUTBOX_LIMIT = 10_000
RETRY_SECONDS = 1.0


class RedisRelay:
    def __init__(self, url: str, hub: Hub, *, database_url: str) -> None:
        self.url = url
        self.hub = hub
        # Workers of one database share a channel; other towns or test runs on the same Redis
        # never hear each other (meeting ids alone would collide).
        digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
        self.channel = CHANNEL_PREFIX + digest
        self.origin = uuid.uuid4().hex
        self.connected = False
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=OUTBOX_LIMIT)
        self._tasks: list[asyncio.Task[None]] = []
        self._client: redis.Redis | None = None

    async def start(self) -> None:
        self._client = redis.from_url(self.url)
        self.hub.relay = self.send
        self._tasks = [
            asyncio.create_task(self._listen(), name="redis-relay-listen"),
            asyncio.create_task(self._send_forever(), name="redis-relay-send"),
        ]

    async def stop(self) -> None:
        self.hub.relay = None
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def ping(self) -> bool:
        if self._client is None:
            return False
        try:
            return bool(await asyncio.wait_for(self._client.ping(), 2))
        except (redis.RedisError, OSError, TimeoutError):
            return False

    def send(self, kind: str, body: dict[str, Any]) -> None:
        message = json.dumps({"origin": self.origin, "kind": kind, **body}, separators=(",", ":"))
        try:
            self._outbox.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("Redis is not taking messages; other workers will read the event log")

    async def _send_forever(self) -> None:
        assert self._client is not None
        while True:
            message = await self._outbox.get()
            while True:
                try:
                    await self._client.publish(self.channel, message)
                    break
                except (redis.RedisError, OSError) as exc:
                    log.warning("could not publish to Redis (%s); retrying", exc)
                    await asyncio.sleep(RETRY_SECONDS)

    async def _listen(self) -> None:
        assert self._client is not None
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.connected = True
                async for message in pubsub.listen():
                    self._receive(message["data"])
            except (redis.RedisError, OSError) as exc:
                log.warning("lost the Redis subscription (%s); reconnecting", exc)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(RETRY_SECONDS)

    def _receive(self, data: bytes | str) -> None:
        try:
            body = json.loads(data)
            if body.get("origin") == self.origin:
                return
            if body["kind"] == "events":
                events = [PublishedEvent(**event) for event in body["events"]]
                self.hub.publish(events, relayed=True)
            elif body["kind"] == "notify":
                self.hub.notify(
                    int(body["meeting_id"]), body["audience"], body["message"], relayed=True
                )
        except Exception:
            # One bad message must not end the subscription.
            log.exception("ignored a malformed message on %s", self.channel)
