"""A stand-in Mastodon server on 127.0.0.1, in Mastodon's JSON shapes, for the demo and tests.

The real ``Mastodon.py`` client talks to it through its ``api_base_url``. What it serves
(shapes from docs.joinmastodon.org, checked against Mastodon.py 2.3):

- ``GET /api/v1/instance`` and ``/api/v2/instance`` (Mastodon.py reads them for version
  and timeline-access checks; no ``urls.streaming_api``, so streaming stays on this host);
- ``GET /api/v1/timelines/tag/:hashtag`` with ``max_id``, ``since_id``, ``min_id`` and
  ``limit`` (20 by default, 40 at most), newest first, with Mastodon's ``Link`` header;
  ``min_id`` returns the statuses immediately newer than it, so paging forward loses none;
- ``GET /api/v1/streaming/hashtag?tag=`` as server-sent events (``event: update``),
  for user tokens only, as since Mastodon 4.2, with a ``:thump`` heartbeat;
- ``GET /api/v2/search?q=URI&resolve=true&type=statuses`` (user token), to find a post
  seen elsewhere; ``POST /api/v1/statuses`` (user token, form or JSON, honouring
  ``Idempotency-Key``) and ``GET /api/v1/accounts/verify_credentials``.

Statuses carry Mastodon's HTML ``content`` (hashtag and mention links, shortened links
with their hidden parts) unless a test gives raw HTML. Ids are snowflakes made from the
creation time, like Mastodon's, so a ``min_id`` made from a date works. Every answer has
``X-RateLimit-*`` headers; :meth:`FakeMastodon.set_rate_limit` makes it answer 429.
A bad bearer token is a 401 ``{"error": "The access token is invalid"}`` on every
endpoint, as on Mastodon, once :meth:`FakeMastodon.require_token` pins the good one.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from council.sandbox.server import ServerThread

__all__ = ["FakeMastodon", "MastodonRequest"]

TIMELINE_LIMIT = 40
DEFAULT_LIMIT = 20
_TAG = re.compile(r"(?<![\w/])#(\w*[^\W\d]\w*)")
_MENTION = re.compile(r"(?<![\w@/])@(\w+)(?:@([\w.-]+\.\w+))?")
_LINK = re.compile(r"https?://[^\s<>\"]+")
ENDPOINTS = ("timeline", "stream", "search", "statuses", "instance", "credentials")


class MastodonRequest(NamedTuple):
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    time: float


@dataclass
class _Failure:
    status: int
    endpoint: str | None
    times: int
    body: dict[str, Any]


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _content_html(text: str, domain: str) -> str:
    """Plain text as Mastodon renders it: paragraphs, links shortened, tags and mentions linked."""

    def inline(line: str) -> str:
        out, pos = [], 0
        pattern = re.compile(f"{_LINK.pattern}|{_TAG.pattern}|{_MENTION.pattern}")
        for match in pattern.finditer(line):
            out.append(html.escape(line[pos : match.start()], quote=False))
            word = match.group(0)
            if word.startswith("http"):
                scheme, _sep, rest = word.partition("://")
                shown, hidden = rest[:30], rest[30:]
                out.append(
                    f'<a href="{html.escape(word)}" target="_blank" rel="nofollow noopener">'
                    f'<span class="invisible">{scheme}://</span>'
                    f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                    f'<span class="invisible">{html.escape(hidden)}</span></a>'
                )
            elif word.startswith("#"):
                tag = word[1:]
                out.append(
                    f'<a href="https://{domain}/tags/{html.escape(tag.lower())}" '
                    f'class="mention hashtag" rel="tag">#<span>{html.escape(tag)}</span></a>'
                )
            else:
                user = word[1:].split("@")[0]
                out.append(
                    f'<span class="h-card" translate="no"><a href="https://{domain}/@'
                    f'{html.escape(user)}" class="u-url mention">@<span>'
                    f"{html.escape(user)}</span></a></span>"
                )
            pos = match.end()
        out.append(html.escape(line[pos:], quote=False))
        return "".join(out)

    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br />".join(inline(line) for line in p.split("\n")) + "</p>" for p in paragraphs
    )


class _SSE:
    """One open streaming connection; events are pushed from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, tag: str) -> None:
        self.loop = loop
        self.tag = tag
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def push(self, item: bytes | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop already closed
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)


class FakeMastodon:
    """One Mastodon instance. Thread-safe: the server runs in its own thread."""

    def __init__(
        self,
        domain: str = "jun.social",
        *,
        title: str = "Jun Social",
        version: str = "4.3.0",
        heartbeat_seconds: float = 1.0,
    ) -> None:
        self.domain = domain
        self.title = title
        self.version = version
        self.heartbeat_seconds = heartbeat_seconds
        #: ``public``, ``authenticated`` (a token is needed) or ``disabled``, as Mastodon 4.5.
        self.hashtag_access = "public"
        self._lock = threading.RLock()
        self._statuses: dict[int, dict[str, Any]] = {}
        self._accounts: dict[str, dict[str, Any]] = {}
        self._account_ids = itertools.count(109_000_000_000_000_001)
        self._last_id = 0
        self._token: str | None = None
        self._failures: list[_Failure] = []
        self._requests: list[MastodonRequest] = []
        self._streams: list[_SSE] = []
        self._idempotent: dict[tuple[str, str], dict[str, Any]] = {}
        self._created: list[dict[str, Any]] = []
        self._rate_limit = 300
        self._rate_remaining = 300
        self._rate_reset = time.time() + 300
        self.me = self.add_account("ayto_jun", display_name="Ayuntamiento de Jun")
        self.app = Starlette(
            routes=[
                Route("/api/v1/instance", self._instance_v1),
                Route("/api/v2/instance", self._instance_v2),
                Route("/api/v1/timelines/tag/{tag}", self._timeline),
                Route("/api/v1/streaming/hashtag", self._stream),
                Route("/api/v1/streaming/hashtag/local", self._stream),
                Route("/api/v2/search", self._search),
                Route("/api/v1/statuses", self._post_status, methods=["POST"]),
                Route("/api/v1/accounts/verify_credentials", self._verify_credentials),
            ]
        )
        self._server = ServerThread(self._asgi, f"fake-mastodon-{domain}")

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def start(self) -> FakeMastodon:
        self._server.start()
        return self

    def stop(self) -> None:
        self.disconnect_streams()
        self._server.stop()

    def __enter__(self) -> FakeMastodon:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- what a test (or the demo) does ----------------------------------------------------

    def add_account(
        self,
        username: str,
        *,
        display_name: str | None = None,
        avatar: str | None = None,
        domain: str | None = None,
    ) -> dict[str, Any]:
        """A local account, or one from another server when ``domain`` is given."""
        acct = f"{username}@{domain}" if domain and domain != self.domain else username
        home = domain or self.domain
        with self._lock:
            found = self._accounts.get(acct.lower())
            if found is not None:
                if display_name is not None:
                    found["display_name"] = display_name
                if avatar is not None:
                    found["avatar"] = found["avatar_static"] = avatar
                return found
            account_id = str(next(self._account_ids))
            picture = avatar or f"https://{home}/avatars/{username}.png"
            account = {
                "id": account_id,
                "username": username,
                "acct": acct,
                "display_name": username if display_name is None else display_name,
                "locked": False,
                "bot": False,
                "discoverable": True,
                "group": False,
                "created_at": "2022-11-13T00:00:00.000Z",
                "note": "",
                "url": f"https://{home}/@{username}",
                "uri": f"https://{home}/users/{username}",
                "avatar": picture,
                "avatar_static": picture,
                "header": f"https://{self.domain}/headers/original/missing.png",
                "header_static": f"https://{self.domain}/headers/original/missing.png",
                "followers_count": 0,
                "following_count": 0,
                "statuses_count": 0,
                "last_status_at": None,
                "emojis": [],
                "fields": [],
            }
            self._accounts[acct.lower()] = account
            return account

    def post(
        self,
        text: str,
        *,
        username: str = "vecina",
        display_name: str | None = None,
        avatar: str | None = None,
        domain: str | None = None,
        content_html: str | None = None,
        tags: list[str] | None = None,
        created_at: datetime | None = None,
        visibility: str = "public",
        uri: str | None = None,
        in_reply_to_id: str | None = None,
    ) -> dict[str, Any]:
        """A new status, as this server shows it; streams see it at once.

        ``content_html`` replaces the HTML rendered from ``text`` (for hostile markup);
        ``tags`` are then its hashtags. ``uri`` makes it a copy of a post from elsewhere
        (what federation does): the same ``uri``, this server's own id.
        """
        account = self.add_account(
            username, display_name=display_name, avatar=avatar, domain=domain
        )
        home = domain or self.domain
        moment = created_at or datetime.now(UTC)
        names = tags if tags is not None else [m.group(1) for m in _TAG.finditer(text)]
        with self._lock:
            status_id = self._next_id(moment)
            status_uri = uri or f"https://{home}/users/{account['username']}/statuses/{status_id}"
            status: dict[str, Any] = {
                "id": str(status_id),
                "created_at": _iso(moment),
                "in_reply_to_id": in_reply_to_id,
                "in_reply_to_account_id": None,
                "sensitive": False,
                "spoiler_text": "",
                "visibility": visibility,
                "language": "es",
                "uri": status_uri,
                "url": status_uri if uri else f"https://{home}/@{account['username']}/{status_id}",
                "replies_count": 0,
                "reblogs_count": 0,
                "favourites_count": 0,
                "edited_at": None,
                "content": content_html
                if content_html is not None
                else _content_html(text, self.domain),
                "reblog": None,
                "application": {"name": "Web", "website": None},
                "account": account,
                "media_attachments": [],
                "mentions": [],
                "tags": [
                    {"name": name.lower(), "url": f"https://{self.domain}/tags/{name.lower()}"}
                    for name in dict.fromkeys(names)
                ],
                "emojis": [],
                "card": None,
                "poll": None,
            }
            self._statuses[status_id] = status
            account["statuses_count"] += 1
            account["last_status_at"] = moment.date().isoformat()
            line = f"event: update\ndata: {json.dumps(status)}\n\n".encode()
            for stream in self._streams:
                if stream.tag in {t["name"] for t in status["tags"]}:
                    stream.push(line)
            return status

    def post_many(
        self, count: int, *, text_template: str = "Pregunta {i} #PlenoJun", **kwargs: Any
    ) -> list[dict[str, Any]]:
        return [
            self.post(text_template.format(i=i, n=count), username=f"vecina{i % 7}", **kwargs)
            for i in range(1, count + 1)
        ]

    def federate(self, status: dict[str, Any]) -> dict[str, Any]:
        """The same post as another server shows it: same ``uri``, an id of this server's own."""
        account = status["account"]
        origin = account["url"].split("/")[2]
        return self.post(
            "",
            username=account["username"],
            display_name=account["display_name"],
            avatar=account["avatar"],
            domain=origin,
            content_html=status["content"],
            tags=[t["name"] for t in status["tags"]],
            uri=status["uri"],
        )

    def delete(self, status_id: str) -> None:
        with self._lock:
            self._statuses.pop(int(status_id), None)

    def require_token(self, token: str | None) -> None:
        """Only this bearer token is valid (others get a 401); None: any token is."""
        with self._lock:
            self._token = token

    def fail_next(
        self,
        status: int,
        *,
        endpoint: str | None = "timeline",
        times: int = 1,
        error: str | None = None,
    ) -> None:
        """The next ``times`` requests to ``endpoint`` (one of ENDPOINTS; None: any) fail."""
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {ENDPOINTS}")
        messages = {
            401: "The access token is invalid",
            403: "This action is not allowed",
            404: "Record not found",
            422: "Validation failed",
            429: "Too many requests",
            503: "Service Unavailable",
        }
        body = {"error": error or messages.get(status, "Internal server error")}
        with self._lock:
            self._failures.append(_Failure(status, endpoint, times, body))

    def set_rate_limit(self, remaining: int, *, reset_in: float = 300.0, limit: int = 300) -> None:
        """Requests left in the window; at 0 every request is a 429 until the reset."""
        with self._lock:
            self._rate_limit, self._rate_remaining = limit, remaining
            self._rate_reset = time.time() + reset_in

    def disconnect_streams(self) -> int:
        with self._lock:
            streams, self._streams = self._streams, []
        for stream in streams:
            stream.push(None)
        return len(streams)

    @property
    def open_streams(self) -> int:
        with self._lock:
            return len(self._streams)

    @property
    def requests(self) -> list[MastodonRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, prefix: str) -> list[MastodonRequest]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    @property
    def created_statuses(self) -> list[dict[str, Any]]:
        """Statuses posted through the API (replies), in order."""
        with self._lock:
            return list(self._created)

    def statuses(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._statuses[k] for k in sorted(self._statuses)]

    # ---- internals -------------------------------------------------------------------------

    def _next_id(self, moment: datetime) -> int:
        candidate = int(moment.timestamp() * 1000) << 16
        if moment >= datetime.now(UTC) - timedelta(seconds=5):
            # Posted now: strictly after every other, as Mastodon's sequence guarantees.
            candidate = max(candidate, self._last_id + 1)
            self._last_id = candidate
        while candidate in self._statuses:
            candidate += 1
        return candidate

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            query = dict(parse_qsl(scope.get("query_string", b"").decode()))
            with self._lock:
                self._requests.append(
                    MastodonRequest(scope["method"], scope["path"], query, headers, time.time())
                )
        await self.app(scope, receive, send)

    def _rate_headers(self) -> dict[str, str]:
        reset = datetime.fromtimestamp(self._rate_reset, UTC)
        return {
            "X-RateLimit-Limit": str(self._rate_limit),
            "X-RateLimit-Remaining": str(max(self._rate_remaining, 0)),
            "X-RateLimit-Reset": _iso(reset),
        }

    def _gate(self, request: Request, endpoint: str) -> tuple[Response | None, bool]:
        """Failures, rate limit and the token. (An error answer or None, whether authorised.)"""
        with self._lock:
            now = time.time()
            if now >= self._rate_reset:
                self._rate_remaining, self._rate_reset = self._rate_limit, now + 300
            self._rate_remaining -= 1
            headers = self._rate_headers()
            if self._rate_remaining < 0:
                return JSONResponse(
                    {"error": "Too many requests"}, status_code=429, headers=headers
                ), False
            for failure in self._failures:
                if failure.endpoint in (None, endpoint):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return JSONResponse(
                        failure.body, status_code=failure.status, headers=headers
                    ), False
            auth = request.headers.get("authorization", "")
            token = auth[7:] if auth.lower().startswith("bearer ") else None
            # tweepy-style clients send the string "None" when no token was configured.
            unset = token in ("", "None")
            if token is not None and (unset or (self._token is not None and token != self._token)):
                return JSONResponse(
                    {"error": "The access token is invalid"}, status_code=401, headers=headers
                ), False
            return None, token is not None

    def _json(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        with self._lock:
            all_headers = {**self._rate_headers(), **(headers or {})}
        return JSONResponse(body, status_code=status, headers=all_headers)

    async def _instance_v1(self, request: Request) -> Response:
        refused, _authed = self._gate(request, "instance")
        if refused:
            return refused
        return self._json(
            {
                "uri": self.domain,
                "title": self.title,
                "short_description": "",
                "description": "",
                "email": f"admin@{self.domain}",
                "version": self.version,
                "urls": {},
                "stats": {"user_count": len(self._accounts), "status_count": 0, "domain_count": 1},
                "languages": ["es"],
                "registrations": False,
                "approval_required": False,
                "invites_enabled": False,
                "contact_account": None,
                "rules": [],
            }
        )

    async def _instance_v2(self, request: Request) -> Response:
        refused, _authed = self._gate(request, "instance")
        if refused:
            return refused
        access = {"local": self.hashtag_access, "remote": self.hashtag_access}
        return self._json(
            {
                "domain": self.domain,
                "title": self.title,
                "version": self.version,
                "api_versions": {"mastodon": 2},
                "source_url": "https://github.com/mastodon/mastodon",
                "description": "",
                "usage": {"users": {"active_month": len(self._accounts)}},
                "thumbnail": {"url": f"https://{self.domain}/thumbnail.png"},
                "languages": ["es"],
                "configuration": {
                    "urls": {},
                    "statuses": {"max_characters": 500, "max_media_attachments": 4},
                    "timelines_access": {
                        "live_feeds": {"local": "public", "remote": "public"},
                        "hashtag_feeds": access,
                        "trending_link_feeds": {"local": "public", "remote": "public"},
                    },
                },
                "registrations": {"enabled": False, "approval_required": False},
                "contact": {"email": f"admin@{self.domain}", "account": None},
                "rules": [],
            }
        )

    def _matching(self, tags: set[str]) -> list[dict[str, Any]]:
        with self._lock:
            return [
                self._statuses[k]
                for k in sorted(self._statuses)
                if self._statuses[k]["visibility"] == "public"
                and tags & {t["name"] for t in self._statuses[k]["tags"]}
            ]

    async def _timeline(self, request: Request) -> Response:
        refused, authed = self._gate(request, "timeline")
        if refused:
            return refused
        if self.hashtag_access == "disabled" or (
            self.hashtag_access == "authenticated" and not authed
        ):
            return self._json([])  # Mastodon 4.5: an empty list where the feed is off
        params = request.query_params
        tags = {request.path_params["tag"].lower()}
        tags.update(t.lower() for t in params.getlist("any[]"))
        try:
            limit = min(int(params.get("limit") or DEFAULT_LIMIT), TIMELINE_LIMIT)
            bounds = {k: int(params[k]) for k in ("max_id", "since_id", "min_id") if params.get(k)}
        except ValueError:
            return self._json({"error": "Validation failed: invalid id or limit"}, 422)
        found = [
            s
            for s in self._matching(tags)
            if ("max_id" not in bounds or int(s["id"]) < bounds["max_id"])
            and ("since_id" not in bounds or int(s["id"]) > bounds["since_id"])
            and ("min_id" not in bounds or int(s["id"]) > bounds["min_id"])
        ]
        limit = max(limit, 1)
        # min_id: the statuses immediately newer than it; otherwise the newest. Newest first.
        page = found[:limit] if "min_id" in bounds else found[-limit:]
        page.reverse()
        headers = {}
        if page:
            base = f"{self.base_url}{request.url.path}"
            older = urlencode({"max_id": page[-1]["id"]})
            newer = urlencode({"min_id": page[0]["id"]})
            headers["Link"] = f'<{base}?{older}>; rel="next", <{base}?{newer}>; rel="prev"'
        return self._json(page, headers=headers)

    async def _stream(self, request: Request) -> Response | _StreamResponse:
        refused, authed = self._gate(request, "stream")
        if refused:
            return refused
        if not authed:
            return self._json({"error": "Missing access token"}, 401)
        tag = (request.query_params.get("tag") or "").lower()
        if not tag:
            return self._json({"error": "Missing tag name parameter"}, 400)
        stream = _SSE(asyncio.get_running_loop(), tag)
        with self._lock:
            self._streams.append(stream)
        return _StreamResponse(self, stream)

    def _forget(self, stream: _SSE) -> None:
        with self._lock:
            if stream in self._streams:
                self._streams.remove(stream)

    async def _search(self, request: Request) -> Response:
        refused, authed = self._gate(request, "search")
        if refused:
            return refused
        params = request.query_params
        resolve = params.get("resolve") in ("true", "1")
        if resolve and not authed:
            return self._json({"error": "The access token is invalid"}, 401)
        q = (params.get("q") or "").strip()
        with self._lock:
            statuses = [s for s in self._statuses.values() if q and q in (s["uri"], s["url"])]
        kind = params.get("type")
        return self._json(
            {
                "accounts": [],
                "statuses": statuses if kind in (None, "statuses") else [],
                "hashtags": [],
            }
        )

    async def _verify_credentials(self, request: Request) -> Response:
        refused, authed = self._gate(request, "credentials")
        if refused:
            return refused
        if not authed:
            return self._json({"error": "The access token is invalid"}, 401)
        return self._json({**self.me, "source": {"privacy": "public", "note": ""}})

    async def _post_status(self, request: Request) -> Response:
        refused, authed = self._gate(request, "statuses")
        if refused:
            return refused
        if not authed:
            return self._json({"error": "The access token is invalid"}, 401)
        if "json" in request.headers.get("content-type", ""):
            form: dict[str, Any] = await request.json()
        else:
            form = dict(await request.form())
        text = str(form.get("status") or "")
        if not text.strip():
            return self._json({"error": "Validation failed: Text can't be blank"}, 422)
        if len(text) > 500:
            return self._json(
                {"error": "Validation failed: Text character limit of 500 exceeded"}, 422
            )
        reply_to = form.get("in_reply_to_id")
        key = request.headers.get("idempotency-key")
        token = request.headers.get("authorization", "")
        with self._lock:
            if key and (token, key) in self._idempotent:
                return self._json(self._idempotent[(token, key)])
            if reply_to is not None and int(str(reply_to) or 0) not in self._statuses:
                return self._json({"error": "Record not found"}, 404)
            status = self.post(
                text,
                username=self.me["username"],
                visibility=str(form.get("visibility") or "public"),
                in_reply_to_id=str(reply_to) if reply_to else None,
            )
            if key:
                self._idempotent[(token, key)] = status
            self._created.append(status)
        return self._json(status)


class _StreamResponse:
    """Server-sent events until the client leaves or the fake closes the stream."""

    def __init__(self, fake: FakeMastodon, stream: _SSE) -> None:
        self.fake = fake
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        gone = asyncio.create_task(_wait_for_disconnect(receive))
        try:
            await send({"type": "http.response.body", "body": b":)\n", "more_body": True})
            while not gone.done():
                try:
                    item = await asyncio.wait_for(
                        self.stream.queue.get(), timeout=self.fake.heartbeat_seconds
                    )
                except TimeoutError:
                    item = b":thump\n"
                if item is None:
                    break
                await send({"type": "http.response.body", "body": item, "more_body": True})
            with contextlib.suppress(OSError, RuntimeError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            self.fake._forget(self.stream)


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
