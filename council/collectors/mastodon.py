"""The Mastodon collector: each meeting hashtag's timeline on one or more servers, with Mastodon.py.

A town reads its own server and large public ones (``COUNCIL_MASTODON_INSTANCES``, or
the meeting's own list). Each server has its own ids, so each (server, hashtag) timeline
keeps its own resume point: the newest id read, from which the next read pages forward
with ``min_id``. ``min_id`` returns the posts *immediately* newer than it (``since_id``
would return the newest ones and skip the middle of a burst), so nothing is missed, and
the resume point is saved with each page, so a restart goes on from the page after it.

The same post reaches several servers under different ids but one ActivityPub URI: the
URI is its external id, so it enters the queue once. Its HTML becomes plain text
(council/collectors/html_text.py); its author is ``user@server``, as residents are
registered. With ``COUNCIL_MASTODON_STREAM`` the first server (the one with the token:
Mastodon 4.2+ streams hashtags to logged-in users only) also streams the hashtags, so
posts arrive at once; polling goes on, less often, to fill what a dropped stream missed.

Mastodon.py blocks, so its calls run in worker threads. Facts it relies on are in
shared/notes/x-api.md, section 6.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    StreamListener,
)

from council import __version__
from council.collectors.base import MeetingInfo
from council.collectors.html_text import html_to_text
from council.collectors.polling import Poller, Rejected, SourceProblem
from council.i18n import _
from council.intake import Post
from council.models import CollectorState
from council.services import Council
from council.settings import Settings

log = logging.getLogger(__name__)

SOURCE = "mastodon"
PAGE_SIZE = 40  # Mastodon's most per request
REQUEST_TIMEOUT = 30.0
# Questions posted shortly before the meeting starts still belong to it.
EARLY_QUESTIONS = timedelta(hours=1)
MAX_BACKOFF_SECONDS = 60.0
# A server that refused us is asked again this often while the others are read.
REFUSED_RETRY_SECONDS = 300.0
# With a stream open, polls only fill gaps, so they can be rarer.
STREAM_POLL_FACTOR = 6
USER_AGENT = f"Council/{__version__} (+https://github.com/council)"


def client_for(url: str, token: str | None) -> tuple[Mastodon, dict[str, str]]:
    """A Mastodon.py client for one server, and where its last error message is kept.

    Mastodon.py 2.3 drops the server's ``{"error": ...}`` text on list endpoints, so a
    response hook keeps it: "The access token is invalid" tells a clerk what to fix.
    """
    last: dict[str, str] = {}
    session = requests.Session()

    def keep_error(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if not response.ok and not response.headers.get("content-type", "").startswith(
            "text/event-stream"
        ):
            with contextlib.suppress(ValueError, AttributeError):
                body = response.json()
                last["error"] = str(body.get("error") or "")[:300]

    session.hooks["response"].append(keep_error)
    client = Mastodon(
        api_base_url=url,
        access_token=token,
        ratelimit_method="throw",  # never sleep inside a worker thread; the loop decides
        request_timeout=REQUEST_TIMEOUT,
        version_check_mode="none",  # no version probe at construction
        session=session,
        user_agent=USER_AGENT,
    )
    return client, last


@dataclass
class Server:
    """One Mastodon server as this collector reads it."""

    url: str
    token: str | None
    client: Mastodon
    last_error: dict[str, str]
    # The server's own domain (user@domain for its local accounts), learnt on first read.
    domain: str | None = None
    backoff: float = 1.0
    not_before: float = 0.0
    problem: SourceProblem | None = None
    streams: list[Any] = field(default_factory=list)
    stream_client: Mastodon | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    def close_streams(self) -> None:
        for stream in self.streams:
            with contextlib.suppress(Exception):
                stream.close()
        self.streams.clear()
        if self.stream_client is not None:
            self.stream_client.session.close()
            self.stream_client = None

    def close(self) -> None:
        self.close_streams()
        self.client.session.close()


def handle_of(account: Any, domain: str) -> str:
    """``user@server``: local accounts come without their server."""
    acct = str(account.acct or account.username)
    return acct if "@" in acct else f"{acct}@{domain}"


def posts_from(statuses: list[Any], domain: str) -> list[Post]:
    posts = []
    for status in statuses:
        if status.get("reblog"):
            continue  # a boost is someone else's post
        account = status.account
        text = html_to_text(status.content or "")
        if status.get("spoiler_text"):
            # A content warning hides the post behind it on Mastodon: moderators see both.
            text = f"{status.spoiler_text}\n\n{text}"
        if not text.strip():
            continue  # nothing to read (a picture alone, say): no question
        posts.append(
            Post(
                external_id=str(status.uri),
                text=text,
                author_name=account.display_name or account.username,
                handle=handle_of(account, domain),
                avatar_url=account.get("avatar_static") or account.get("avatar"),
                url=status.get("url") or str(status.uri),
                posted_at=status.get("created_at"),
            )
        )
    return posts


def _server_message(server: Server, fallback: str) -> str:
    return server.last_error.pop("error", "") or fallback


def problem_from(exc: Exception, server: Server, tag: str) -> SourceProblem:
    """What a moderator should read when a server says no."""
    host = server.host
    if isinstance(exc, MastodonRatelimitError):
        reset = server.client.ratelimit_reset or time.time() + 60
        until = datetime.fromtimestamp(reset, UTC)
        return SourceProblem(
            _("Mastodon rate limit at {host}: waiting until {time} UTC").format(
                host=host, time=until.strftime("%H:%M:%S")
            ),
            until=until,
            retry_in=max(1.0, reset - time.time() + 1),
        )
    if isinstance(exc, MastodonNetworkError):
        return SourceProblem(
            _("Mastodon server {host} not answering, retrying: {detail}").format(
                host=host, detail=str(exc)[:200]
            ),
            polled=False,
        )
    if isinstance(exc, MastodonAPIError) and len(exc.args) >= 3:
        status, reason = exc.args[1], exc.args[2]
        detail = f"{status} {_server_message(server, str(reason))}"
        if status in (401, 403):
            if server.token:
                return Rejected(
                    _(
                        "Mastodon token rejected by {host}: {detail} (check COUNCIL_MASTODON_TOKEN)"
                    ).format(host=host, detail=detail)
                )
            return Rejected(
                _("{host} refused to show #{tag} without a login: {detail}").format(
                    host=host, tag=tag, detail=detail
                )
            )
        if status in (400, 404, 410, 422):
            return Rejected(
                _("{host} has no Mastodon hashtag timeline at {url}: {detail}").format(
                    host=host, url=server.url, detail=detail
                )
            )
        return SourceProblem(
            _("Mastodon server {host} not answering, retrying: {detail}").format(
                host=host, detail=detail
            )
        )
    return SourceProblem(
        _("Mastodon server {host} failed, retrying: {detail}").format(
            host=host, detail=f"{type(exc).__name__}: {exc}"[:200]
        )
    )


class _Listener(StreamListener):
    """Runs on Mastodon.py's stream thread; hands statuses to the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any]) -> None:
        super().__init__()
        self.loop = loop
        self.queue = queue

    def on_update(self, status: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: Council is stopping
            self.loop.call_soon_threadsafe(self.queue.put_nowait, status)

    def on_status_update(self, status: Any) -> None:
        pass  # an edit: the question was stored as first posted

    def on_delete(self, status_id: Any) -> None:
        pass

    def on_unknown_event(self, name: Any, unknown_event: Any = None) -> None:
        pass


class MastodonCollector(Poller):
    source = SOURCE

    def __init__(self, council: Council, meeting: MeetingInfo, urls: tuple[str, ...]) -> None:
        settings = council.settings
        streaming = settings.mastodon_stream and bool(settings.mastodon_token)
        poll = settings.mastodon_poll_seconds * (STREAM_POLL_FACTOR if streaming else 1)
        super().__init__(council, meeting, poll_seconds=poll)
        self.servers: list[Server] = []
        for index, url in enumerate(urls):
            # The token belongs to the town's own server, the first: never sent elsewhere.
            token = settings.mastodon_token if index == 0 else None
            client, last = client_for(url, token)
            self.servers.append(Server(url=url, token=token, client=client, last_error=last))
        self.streaming = streaming
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def close(self) -> None:
        for server in self.servers:
            server.close()

    # -- polling ------------------------------------------------------------------------------

    async def poll(self, state: CollectorState) -> None:
        cursors = dict(state.cursors or {})
        now = time.monotonic()
        for server in self.servers:
            if server.not_before > now:
                continue
            try:
                await self._read_server(server, cursors)
            except SourceProblem as problem:
                self._set_back(server, problem)
            else:
                server.problem, server.backoff, server.not_before = None, 1.0, 0.0
        troubled = [s for s in self.servers if s.problem is not None]
        if not troubled:
            if self.streaming:
                await self._ensure_streams()
            return
        message = "; ".join(s.problem.message for s in troubled if s.problem)
        if all(isinstance(s.problem, Rejected) for s in self.servers):
            raise Rejected(message)
        healthy = len(troubled) < len(self.servers)
        first_ready = min(s.not_before for s in troubled) - time.monotonic()
        until = [s.problem.until for s in troubled if s.problem and s.problem.until]
        if healthy and self.streaming:
            await self._ensure_streams()
        raise SourceProblem(
            message,
            retry_in=self.poll_seconds if healthy else max(0.2, first_ready),
            until=min(until) if until and not healthy else None,
        )

    def _set_back(self, server: Server, problem: SourceProblem) -> None:
        server.problem = problem
        if isinstance(problem, Rejected):
            wait = REFUSED_RETRY_SECONDS
        elif problem.retry_in is not None:
            wait = problem.retry_in
        else:
            wait, server.backoff = server.backoff, min(server.backoff * 2, MAX_BACKOFF_SECONDS)
        server.not_before = time.monotonic() + wait

    async def _read_server(self, server: Server, cursors: dict[str, str]) -> None:
        tag = self.meeting.hashtags[0]
        try:
            if server.domain is None:
                await asyncio.to_thread(self._learn, server)
            for tag in self.meeting.hashtags:
                await self._read_timeline(server, tag, cursors)
        except MastodonError as exc:
            raise problem_from(exc, server, tag) from exc

    def _learn(self, server: Server) -> None:
        """The server's domain, and whether it shows hashtag timelines to this collector."""
        try:
            instance = server.client.instance_v2()
        except MastodonNotFoundError:  # before Mastodon 4.0: no v2, no access settings
            server.domain = server.host
            return
        access = (
            (instance.get("configuration") or {}).get("timelines_access", {}).get("hashtag_feeds")
        )
        allowed = ("public", "authenticated") if server.token else ("public",)
        if access and access.get("local") not in allowed and access.get("remote") not in allowed:
            raise Rejected(
                _(
                    "{host} shows hashtag timelines to logged-in accounts only: give its token "
                    "in COUNCIL_MASTODON_TOKEN (first server) or leave it out of the list"
                ).format(host=server.host)
            )
        server.domain = str(instance.get("domain") or server.host)

    async def _read_timeline(self, server: Server, tag: str, cursors: dict[str, str]) -> None:
        key = f"{server.url} #{tag.lower()}"
        min_id: str | datetime = cursors.get(key) or self._first_min_id()
        while True:
            page = await asyncio.to_thread(
                server.client.timeline_hashtag, tag, min_id=min_id, limit=PAGE_SIZE
            )
            if not page:
                await self.store([], posts_read=0)
                return
            # Newest first: the first status is where the next page starts.
            newest = str(page[0].id)
            await self.store(
                # Oldest first, so the queue keeps the order they were posted in.
                posts_from(list(reversed(page)), server.domain or server.host),
                posts_read=len(page),
                cursors={key: newest},
            )
            cursors[key] = newest
            min_id = newest

    def _first_min_id(self) -> datetime:
        """Mastodon ids are timestamps: Mastodon.py turns a date into the id it starts at."""
        begins = self.meeting.starts_at or self.meeting.started_at or datetime.now(UTC)
        return begins - EARLY_QUESTIONS

    # -- streaming ----------------------------------------------------------------------------

    async def _ensure_streams(self) -> None:
        server = self.servers[0]
        if server.token is None or server.problem is not None:
            return
        if server.streams and all(s.is_alive() for s in server.streams):
            return
        server.close_streams()
        loop = asyncio.get_running_loop()
        # A client of its own: the stream's thread must not share the poller's session.
        client, _last = client_for(server.url, server.token)
        server.stream_client = client
        for tag in self.meeting.hashtags:
            handle = await asyncio.to_thread(
                client.stream_hashtag,
                tag.lower(),
                _Listener(loop, self.queue),
                run_async=True,
                reconnect_async=True,
                reconnect_async_wait_sec=5,
            )
            server.streams.append(handle)

    async def wait(self, seconds: float) -> None:
        """Between polls, store what the stream brings as it comes."""
        deadline = time.monotonic() + seconds
        domain = self.servers[0].domain or self.servers[0].host
        while (left := deadline - time.monotonic()) > 0:
            try:
                first = await asyncio.wait_for(self.queue.get(), timeout=left)
            except TimeoutError:
                return
            batch = [first]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            await self.store(posts_from(batch, domain), posts_read=len(batch))


def mastodon_urls(settings: Settings, meeting: MeetingInfo) -> tuple[str, ...]:
    if meeting.mastodon_instances is not None:
        return meeting.mastodon_instances
    return settings.mastodon_instance_list


def mastodon_collector(council: Council, meeting: MeetingInfo) -> MastodonCollector | None:
    urls = mastodon_urls(council.settings, meeting)
    return MastodonCollector(council, meeting, urls) if urls else None
