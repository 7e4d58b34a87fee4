"""The Bluesky collector: ``app.bsky.feed.searchPosts`` for each meeting hashtag, with atproto.

Bluesky's search has no "newer than this id": results come newest first (``sort=latest``)
in pages linked by a cursor, filtered by time with ``since``. So each poll asks for
everything since the resume time, follows the cursor to the last page, and stores posts
by their ``at://`` URI, which the queue has seen at most once. The resume time (the
newest post read, kept in ``CollectorState.newest_id``) moves only once a poll has read
every page, and each poll reaches back ``OVERLAP`` before it, because the search orders
posts by when they were written but shows them only once indexed: a post indexed late
still falls in a later poll's window, and its URI keeps it from entering twice.

Since 2025 the public search answers only logged-in accounts, so collecting needs the
town's handle and an app password (``createSession``). One login serves every meeting's
collector: Bluesky limits logins per account (30 per 5 minutes, 300 a day), and the
atproto client refreshes its session by itself. atproto's client blocks, so its calls
run in worker threads.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from atproto import Client
from atproto_client.exceptions import (
    AtProtocolError,
    BadRequestError,
    LoginRequiredError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.models.common import XrpcError

from council.collectors.base import CollectorFactory, MeetingInfo
from council.collectors.polling import Poller, Rejected, SourceProblem
from council.collectors.state import record_resume
from council.i18n import _
from council.intake import Post
from council.models import CollectorState
from council.services import Council
from council.settings import Settings

SOURCE = "bluesky"
PAGE_SIZE = 100  # searchPosts' most per request
OVERLAP = timedelta(minutes=2)
# Questions posted shortly before the meeting starts still belong to it.
EARLY_QUESTIONS = timedelta(hours=1)
REQUEST_TIMEOUT = 30.0
SESSION_ERRORS = ("ExpiredToken", "InvalidToken", "AuthenticationRequired")


def xrpc_detail(exc: AtProtocolError) -> str:
    """``401 AuthenticationRequired: Invalid identifier or password``."""
    if isinstance(exc, RequestErrorBase) and exc.response is not None:
        content = exc.response.content
        if isinstance(content, XrpcError):
            words = f"{content.error}: {content.message}" if content.message else content.error
            return f"{exc.response.status_code} {words}"
        return str(exc.response.status_code)
    return f"{type(exc).__name__}: {exc}"[:200]


def xrpc_error(exc: AtProtocolError) -> str | None:
    if isinstance(exc, RequestErrorBase) and exc.response is not None:
        content = exc.response.content
        if isinstance(content, XrpcError):
            return str(content.error)
    return None


class BlueskyAccount:
    """The town's Bluesky login, shared by every collector (and kept while one uses it)."""

    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.bluesky_base_url
        self.handle = (settings.bluesky_handle or "").strip().lstrip("@")
        self.password = settings.bluesky_app_password or ""
        self._client: Client | None = None
        self._lock = threading.Lock()
        self._users = 0

    def acquire(self) -> None:
        with self._lock:
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users <= 0:
                self._drop()

    def client(self) -> Client:
        """Logged in (in a worker thread). Raises Rejected when the login is refused."""
        with self._lock:
            if self._client is not None:
                return self._client
            client = Client(base_url=self.base_url)
            try:
                client.login(self.handle, self.password)
            except UnauthorizedError as exc:
                client.request.close()
                raise Rejected(
                    _(
                        "Bluesky login refused for {handle}: {detail} (check "
                        "COUNCIL_BLUESKY_HANDLE and COUNCIL_BLUESKY_APP_PASSWORD)"
                    ).format(handle=self.handle, detail=xrpc_detail(exc))
                ) from exc
            except BaseException:
                client.request.close()
                raise
            self._client = client
            return client

    def forget(self) -> None:
        """The session was refused: log in again next time."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._client is not None:
            self._client.request.close()
            self._client = None


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _field(obj: Any, name: str, alias: str | None = None) -> Any:
    """A record is a model when atproto knows its type, else a plain dict."""
    if isinstance(obj, dict):
        return obj.get(alias or name)
    return getattr(obj, name, None)


def expand_links(text: str, facets: list[Any] | None) -> str:
    """Bluesky apps shorten a link's text ("jun.es/obras…"); its facet has the whole address."""
    data = text.encode()
    spans = []
    for facet in facets or []:
        index = _field(facet, "index")
        start = _field(index, "byte_start", "byteStart")
        end = _field(index, "byte_end", "byteEnd")
        for feature in _field(facet, "features") or []:
            uri = _field(feature, "uri")
            if uri and isinstance(start, int) and isinstance(end, int) and 0 <= start < end:
                spans.append((start, end, str(uri)))
    for start, end, uri in sorted(spans, reverse=True):
        data = data[:start] + uri.encode() + data[end:]
    return data.decode(errors="replace")


def tags_of(record: Any) -> set[str]:
    tags = {str(t).casefold() for t in _field(record, "tags") or []}
    for facet in _field(record, "facets") or []:
        for feature in _field(facet, "features") or []:
            tag = _field(feature, "tag")
            if tag:
                tags.add(str(tag).casefold())
    text = str(_field(record, "text") or "")
    tags.update(m.casefold() for m in re.findall(r"(?<![\w/])[#＃](\w+)", text))
    return tags


def sort_time(view: Any) -> datetime | None:
    """Roughly the search's ``sortAt``: the earlier of written and indexed."""
    times = [
        t
        for t in (_time(_field(view.record, "created_at", "createdAt")), _time(view.indexed_at))
        if t
    ]
    return min(times) if times else None


def posts_from(views: list[Any], hashtags: tuple[str, ...]) -> list[Post]:
    """Posts that really carry one of the hashtags (search matches words loosely)."""
    wanted = {t.casefold() for t in hashtags}
    posts = []
    for view in views:
        record = view.record
        if not wanted & tags_of(record):
            continue
        author = view.author
        handle = str(author.handle)
        rkey = str(view.uri).rsplit("/", 1)[-1]
        profile = handle if handle != "handle.invalid" else str(author.did)
        posts.append(
            Post(
                external_id=str(view.uri),
                text=expand_links(str(_field(record, "text") or ""), _field(record, "facets")),
                author_name=author.display_name or handle,
                handle=handle,
                avatar_url=author.avatar,
                url=f"https://bsky.app/profile/{profile}/post/{rkey}",
                posted_at=_time(_field(record, "created_at", "createdAt")),
            )
        )
    return posts


class BlueskyCollector(Poller):
    source = SOURCE

    def __init__(self, council: Council, meeting: MeetingInfo, account: BlueskyAccount) -> None:
        super().__init__(council, meeting, poll_seconds=council.settings.bluesky_poll_seconds)
        self.account = account

    async def run(self) -> None:
        self.account.acquire()  # released by close(), however run ends
        await super().run()

    def close(self) -> None:
        self.account.release()

    async def poll(self, state: CollectorState) -> None:
        resume = _time(state.newest_id)
        since = resume - OVERLAP if resume else self._first_since()
        newest = resume
        try:
            for tag in self.meeting.hashtags:
                cursor: str | None = None
                while True:
                    page = await asyncio.to_thread(self._search, tag, since, cursor)
                    views = list(page.posts)
                    for view in views:
                        moment = sort_time(view)
                        if moment and (newest is None or moment > newest):
                            newest = moment
                    await self.store(
                        posts_from(views, self.meeting.hashtags), posts_read=len(views)
                    )
                    cursor = page.cursor
                    if not cursor or not views:
                        break
        except AtProtocolError as exc:
            raise self._problem(exc) from exc
        except httpx.HTTPError as exc:  # what atproto does not wrap (a broken response, say)
            raise SourceProblem(
                _("Bluesky not answering, retrying: {detail}").format(
                    detail=f"{type(exc).__name__}: {exc}"[:200]
                ),
                polled=False,
            ) from exc
        if newest is not None and newest != resume:
            await self.council.act(
                record_resume,
                meeting_id=self.meeting.id,
                source=SOURCE,
                newest_id=newest.isoformat(),
            )

    def _search(self, tag: str, since: datetime, cursor: str | None) -> Any:
        params: dict[str, Any] = {
            "q": f"#{tag}",
            "sort": "latest",
            "since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "limit": PAGE_SIZE,
        }
        if cursor:
            params["cursor"] = cursor
        client = self.account.client()
        try:
            return client.app.bsky.feed.search_posts(params=params)
        except (UnauthorizedError, BadRequestError, LoginRequiredError) as exc:
            if not isinstance(exc, LoginRequiredError) and xrpc_error(exc) not in SESSION_ERRORS:
                raise
            # The session ran out or was revoked: one fresh login, then the same page.
            self.account.forget()
            return self.account.client().app.bsky.feed.search_posts(params=params)

    def _problem(self, exc: AtProtocolError) -> SourceProblem:
        if isinstance(exc, RateLimitExceededError):
            until = exc.reset_at or datetime.now(UTC) + timedelta(minutes=1)
            return SourceProblem(
                _("Bluesky rate limit: waiting until {time} UTC").format(
                    time=until.strftime("%H:%M:%S")
                ),
                until=until,
                retry_in=max(1.0, until.timestamp() - time.time() + 1),
            )
        if isinstance(exc, UnauthorizedError | BadRequestError | LoginRequiredError):
            return Rejected(
                _("Bluesky refused the search for {account}: {detail}").format(
                    account=self.account.handle, detail=xrpc_detail(exc)
                )
            )
        if isinstance(exc, RequestErrorBase):
            return SourceProblem(
                _("Bluesky not answering, retrying: {detail}").format(detail=xrpc_detail(exc)),
                polled=exc.response is not None,
            )
        return SourceProblem(
            _("Bluesky failed, retrying: {detail}").format(detail=xrpc_detail(exc))
        )

    def _first_since(self) -> datetime:
        begins = self.meeting.starts_at or self.meeting.started_at or datetime.now(UTC)
        return begins - EARLY_QUESTIONS


def bluesky_factory(council: Council) -> CollectorFactory:
    """One login for every meeting's collector."""
    account = BlueskyAccount(council.settings)

    def make(council: Council, meeting: MeetingInfo) -> BlueskyCollector:
        return BlueskyCollector(council, meeting, account)

    return make
