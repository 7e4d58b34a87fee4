"""X's filtered stream: one connection for the whole app, one tagged rule per live meeting.

X allows one stream connection per app, so meetings share it: each meeting's rule is
tagged ``council:<slug>`` and tweets are routed by the rules they matched. A meeting's
collector first catches up with a recent search from its resume point (the stream does
not replay what was missed while Council was down), then listens. tweepy's
StreamingClient runs in its own thread; tweets cross to the event loop through a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

import tweepy

from council.collectors.base import CollectorFactory, MeetingInfo, publish_health, report_status
from council.collectors.state import record_page
from council.collectors.x import (
    SOURCE,
    TWEET_FIELDS,
    USER_FIELDS,
    XPoller,
    mount_base_url,
    posts_from,
    search_query,
)
from council.i18n import _
from council.services import Council

log = logging.getLogger(__name__)

TAG_PREFIX = "council:"
# How long a batch may gather before it is written: one commit for a burst, not hundreds.
BATCH_SECONDS = 0.2


class _Listener(tweepy.StreamingClient):  # type: ignore[misc]
    def __init__(self, shared: SharedStream, bearer_token: str) -> None:
        super().__init__(bearer_token, wait_on_rate_limit=False, daemon=True)
        self.shared = shared

    def on_response(self, response: tweepy.StreamResponse) -> None:
        tags = [rule.tag for rule in response.matching_rules or [] if rule.tag]
        self.shared.deliver(response, tags)

    def on_request_error(self, status_code: int) -> None:
        self.shared.request_error(status_code)
        if status_code in (400, 401, 403, 409):
            # A bad setup: fail fast instead of retrying for ever (notes, section 7).
            self.disconnect()

    def on_connection_error(self) -> None:
        self.shared.connection_error()


class SharedStream:
    def __init__(self, council: Council) -> None:
        self.council = council
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queues: dict[str, asyncio.Queue[tuple[tweepy.StreamResponse, ...]]] = {}
        self.meetings: dict[str, MeetingInfo] = {}
        self.listener: _Listener | None = None
        self.thread: threading.Thread | None = None
        self.lock = asyncio.Lock()
        self.failure: str | None = None

    # -- called on the event loop -------------------------------------------------------------

    async def join(self, meeting: MeetingInfo) -> asyncio.Queue[tuple[tweepy.StreamResponse, ...]]:
        async with self.lock:
            self.loop = asyncio.get_running_loop()
            tag = TAG_PREFIX + meeting.slug
            self.meetings[tag] = meeting
            queue: asyncio.Queue[tuple[tweepy.StreamResponse, ...]] = asyncio.Queue()
            self.queues[tag] = queue
            self.failure = None
            await asyncio.to_thread(self._sync_rules)
            self._ensure_running()
            return queue

    async def leave(self, meeting: MeetingInfo) -> None:
        async with self.lock:
            tag = TAG_PREFIX + meeting.slug
            self.meetings.pop(tag, None)
            self.queues.pop(tag, None)
            with contextlib.suppress(tweepy.TweepyException, OSError):
                await asyncio.to_thread(self._sync_rules)
            if not self.meetings:
                await asyncio.to_thread(self._stop_thread)

    # -- called on the stream's thread --------------------------------------------------------

    def deliver(self, response: tweepy.StreamResponse, tags: list[str]) -> None:
        loop = self.loop
        if loop is None:
            return
        for tag in tags:
            queue = self.queues.get(tag)
            if queue is not None:
                loop.call_soon_threadsafe(queue.put_nowait, (response,))

    def request_error(self, status: int) -> None:
        if status in (401, 403):
            self.failure = _("X credentials rejected by the stream: HTTP {status}").format(
                status=status
            )
        else:
            self.failure = _("X stream refused with HTTP {status}; reconnecting").format(
                status=status
            )
        self._wake_all()

    def connection_error(self) -> None:
        self.failure = _("X stream connection lost; reconnecting")
        self._wake_all()

    def _wake_all(self) -> None:
        loop = self.loop
        if loop is None:
            return
        for queue in list(self.queues.values()):
            loop.call_soon_threadsafe(queue.put_nowait, ())

    # -- the connection -----------------------------------------------------------------------

    def _client(self) -> _Listener:
        settings = self.council.settings
        listener = _Listener(self, settings.x_bearer_token or "")
        mount_base_url(listener, settings.x_api_base_url)
        return listener

    def _sync_rules(self) -> None:
        """Make X's rules tagged ``council:`` exactly the live meetings' rules."""
        client = self.listener or self._client()
        self.listener = client
        wanted = {tag: search_query(m.hashtags) for tag, m in self.meetings.items()}
        existing = client.get_rules().data or []
        stale = [
            rule.id
            for rule in existing
            if rule.tag and rule.tag.startswith(TAG_PREFIX) and wanted.get(rule.tag) != rule.value
        ]
        present = {rule.tag for rule in existing if rule.id not in stale}
        if stale:
            client.delete_rules(stale)
        missing = [
            tweepy.StreamRule(value, tag=tag) for tag, value in wanted.items() if tag not in present
        ]
        if missing:
            client.add_rules(missing)

    def _ensure_running(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            return
        assert self.listener is not None
        self.thread = self.listener.filter(
            threaded=True,
            expansions=["author_id"],
            tweet_fields=TWEET_FIELDS,
            user_fields=USER_FIELDS,
        )

    def _stop_thread(self) -> None:
        if self.listener is not None:
            self.listener.disconnect()
        if self.thread is not None:
            # disconnect() takes effect at the next line or keep-alive (up to 20 s on X); the
            # thread is a daemon, so a slow goodbye never holds up a shutdown.
            self.thread.join(timeout=5)
        self.thread = None
        self.listener = None


class XStreamCollector:
    source = SOURCE

    def __init__(self, council: Council, meeting: MeetingInfo, shared: SharedStream) -> None:
        self.council = council
        self.meeting = meeting
        self.shared = shared
        self.poller = XPoller(council, meeting)

    async def run(self) -> None:
        try:
            # Catch up on what was posted while nobody listened, from the resume point.
            while not self.poller.caught_up:
                delay = await self.poller.poll_once()
                if delay is None:
                    return
                if not self.poller.caught_up:
                    await asyncio.sleep(delay)
        finally:
            self.poller.client.session.close()
        queue = await self.shared.join(self.meeting)
        await report_status(
            self.council, meeting_id=self.meeting.id, source=SOURCE, status="running"
        )
        try:
            while True:
                batch = [*await queue.get()]
                await asyncio.sleep(BATCH_SECONDS)
                while not queue.empty():
                    batch.extend(queue.get_nowait())
                if self.shared.failure and not batch:
                    failed = "rejected" in self.shared.failure
                    await report_status(
                        self.council,
                        meeting_id=self.meeting.id,
                        source=SOURCE,
                        status="failed" if failed else "retrying",
                        error=self.shared.failure,
                    )
                    if failed:
                        return
                    continue
                await self._store(batch)
        finally:
            await self.shared.leave(self.meeting)

    async def _store(self, batch: list[tweepy.StreamResponse]) -> None:
        posts = [post for response in batch for post in posts_from(_as_page(response))]
        if not posts:
            return
        settings = self.council.settings
        users = sum(len(r.includes.get("users", [])) for r in batch)
        _stored, state = await self.council.act(
            record_page,
            meeting_id=self.meeting.id,
            source=SOURCE,
            posts=posts,
            posts_read=len(batch),
            users_read=users,
            cost=len(batch) * settings.x_post_read_cost + users * settings.x_user_read_cost,
            newest_id=max((p.external_id for p in posts), key=int),
        )
        publish_health(self.council, state)


def _as_page(response: tweepy.StreamResponse) -> Any:
    """A stream line has the shape of a one-tweet search page."""
    return tweepy.Response(
        data=[response.data] if response.data else [],
        includes=response.includes or {},
        errors=response.errors,
        meta={},
    )


def stream_factory(council: Council) -> CollectorFactory:
    shared = SharedStream(council)

    def make(council: Council, meeting: MeetingInfo) -> XStreamCollector:
        return XStreamCollector(council, meeting, shared)

    return make
