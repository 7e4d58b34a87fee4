"""A stand-in Bluesky (PDS and AppView in one) on 127.0.0.1, for the demo and tests.

The real ``atproto`` client talks to it through ``Client(base_url=...)``, which adds
``/xrpc`` itself. What it serves, in the lexicons' JSON shapes:

- ``com.atproto.server.createSession`` (handle or DID and an app password; no
  ``didDoc`` in the answer, so the client stays on this host) and ``refreshSession``;
  access tokens are JWTs with an ``exp`` the client reads, expired ones a 400
  ``ExpiredToken``;
- ``app.bsky.actor.getProfile`` (the client fetches it at login);
- ``app.bsky.feed.searchPosts``: ``q`` (``#tag`` matches the post's hashtags, other words
  its text), ``sort`` (``latest``), ``since`` (inclusive) and ``until`` on ``sortAt``,
  ``limit`` (1-100, 25 by default) and an opaque ``cursor`` that stays valid while new
  posts arrive. Like the real AppView since 2025, it refuses visitors without a session;
- ``app.bsky.feed.getPosts`` and ``com.atproto.repo.createRecord`` (replies).

Every answer carries ``ratelimit-*`` headers; :meth:`FakeBluesky.set_rate_limit` makes
it answer 429 ``RateLimitExceeded``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from council.sandbox.server import ServerThread

__all__ = ["BlueskyRequest", "FakeBluesky"]

_S32 = "234567abcdefghijklmnopqrstuvwxyz"
_TAG = re.compile(r"(?<![\w/])#(\w*[^\W\d]\w*)")
_LINK = re.compile(r"https?://[^\s<>\"]+")
ENDPOINTS = ("session", "search", "posts", "create", "profile")
_ENDPOINT_OF = {
    "com.atproto.server.createSession": "session",
    "com.atproto.server.refreshSession": "session",
    "app.bsky.feed.searchPosts": "search",
    "app.bsky.feed.getPosts": "posts",
    "com.atproto.repo.createRecord": "create",
    "app.bsky.actor.getProfile": "profile",
}


class BlueskyRequest(NamedTuple):
    method: str
    #: The XRPC method, like ``app.bsky.feed.searchPosts``.
    nsid: str
    query: dict[str, str]
    headers: dict[str, str]
    time: float


@dataclass
class _Failure:
    status: int
    endpoint: str | None
    times: int
    error: str
    message: str


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _tid(micros: int, clock: int) -> str:
    value = (micros << 10) | (clock & 0x3FF)
    return "".join(_S32[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _facets(text: str) -> list[dict[str, Any]]:
    """Hashtag and link facets, with UTF-8 byte offsets as the lexicon wants."""
    facets = []
    for pattern, kind in ((_TAG, "tag"), (_LINK, "link")):
        for match in pattern.finditer(text):
            start = len(text[: match.start()].encode())
            end = start + len(match.group(0).encode())
            feature = (
                {"$type": "app.bsky.richtext.facet#tag", "tag": match.group(1)}
                if kind == "tag"
                else {"$type": "app.bsky.richtext.facet#link", "uri": match.group(0)}
            )
            facets.append({"index": {"byteStart": start, "byteEnd": end}, "features": [feature]})
    return sorted(facets, key=lambda f: f["index"]["byteStart"])


class FakeBluesky:
    """Thread-safe: the server runs in its own thread."""

    def __init__(self, *, access_seconds: float = 7200.0) -> None:
        self.access_seconds = access_seconds
        #: Whether searchPosts needs a session, as on the real AppView since 2025.
        self.search_needs_session = True
        self._lock = threading.RLock()
        self._profiles: dict[str, dict[str, Any]] = {}
        self._posts: dict[str, dict[str, Any]] = {}
        self._clock = itertools.count()
        self._logins: dict[str, str] = {}
        self._access: dict[str, tuple[str, float]] = {}
        self._refresh: dict[str, str] = {}
        self._failures: list[_Failure] = []
        self._requests: list[BlueskyRequest] = []
        self._created: list[dict[str, Any]] = []
        self._rate_limit = 3000
        self._rate_remaining = 3000
        self._rate_reset = time.time() + 300
        self.sessions_created = 0
        self.app = Starlette(routes=[Route("/xrpc/{nsid}", self._xrpc, methods=["GET", "POST"])])
        self._server = ServerThread(self._asgi, "fake-bluesky")

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def start(self) -> FakeBluesky:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeBluesky:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- what a test (or the demo) does ----------------------------------------------------

    def add_account(
        self,
        handle: str,
        *,
        display_name: str | None = None,
        avatar: str | None = None,
        app_password: str | None = None,
    ) -> dict[str, Any]:
        """A profile; with ``app_password`` it can also log in."""
        handle = handle.lower().lstrip("@")
        with self._lock:
            profile = self._profiles.get(handle)
            if profile is None:
                did = "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
                profile = {
                    "did": did,
                    "handle": handle,
                    "displayName": handle.split(".")[0],
                    "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/avatar@jpeg",
                    "createdAt": "2023-04-01T00:00:00.000Z",
                    "labels": [],
                }
                self._profiles[handle] = profile
            if display_name is not None:
                profile["displayName"] = display_name
            if avatar is not None:
                profile["avatar"] = avatar
            if app_password is not None:
                self._logins[handle] = app_password
            return profile

    def post(
        self,
        text: str,
        *,
        handle: str = "vecina.bsky.social",
        display_name: str | None = None,
        avatar: str | None = None,
        created_at: datetime | None = None,
        indexed_at: datetime | None = None,
        reply: dict[str, Any] | None = None,
        langs: list[str] | None = None,
    ) -> dict[str, Any]:
        """A new post; the search sees it at once. Its ``sortAt`` is the earlier of the times."""
        profile = self.add_account(handle, display_name=display_name, avatar=avatar)
        created = created_at or datetime.now(UTC)
        indexed = indexed_at or max(created, datetime.now(UTC))
        with self._lock:
            micros = int(time.time() * 1_000_000)
            rkey = _tid(micros, next(self._clock))
            uri = f"at://{profile['did']}/app.bsky.feed.post/{rkey}"
            record: dict[str, Any] = {
                "$type": "app.bsky.feed.post",
                "text": text,
                "createdAt": _iso(created),
                "langs": langs or ["es"],
            }
            facets = _facets(text)
            if facets:
                record["facets"] = facets
            if reply:
                record["reply"] = reply
            cid = "bafyrei" + "".join(
                _S32[b % 32] for b in hashlib.sha256(uri.encode()).digest()[:52]
            )
            author = {
                k: profile[k] for k in ("did", "handle", "displayName", "avatar", "createdAt")
            }
            view = {
                "uri": uri,
                "cid": cid.ljust(59, "a"),
                "author": {**author, "labels": [], "viewer": {"muted": False}},
                "record": record,
                "replyCount": 0,
                "repostCount": 0,
                "likeCount": 0,
                "quoteCount": 0,
                "bookmarkCount": 0,
                "indexedAt": _iso(indexed),
                "labels": [],
                "viewer": {},
                "_sortAt": min(created, indexed),
            }
            self._posts[uri] = view
            return self._public(view)

    def post_many(
        self, count: int, *, text_template: str = "Pregunta {i} #PlenoJun", **kwargs: Any
    ) -> list[dict[str, Any]]:
        return [
            self.post(
                text_template.format(i=i, n=count),
                handle=f"vecina{i % 7}.bsky.social",
                **kwargs,
            )
            for i in range(1, count + 1)
        ]

    def delete(self, uri: str) -> None:
        with self._lock:
            self._posts.pop(uri, None)

    def expire_sessions(self) -> None:
        """Every access token expires now (the client must refresh or log in again)."""
        with self._lock:
            self._access = {token: (did, 0.0) for token, (did, _exp) in self._access.items()}

    def fail_next(
        self,
        status: int,
        *,
        endpoint: str | None = "search",
        times: int = 1,
        error: str | None = None,
        message: str | None = None,
    ) -> None:
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {ENDPOINTS}")
        names = {
            400: "InvalidRequest",
            401: "AuthenticationRequired",
            403: "Forbidden",
            429: "RateLimitExceeded",
            500: "InternalServerError",
            502: "UpstreamFailure",
            503: "NotEnoughResources",
        }
        with self._lock:
            self._failures.append(
                _Failure(
                    status,
                    endpoint,
                    times,
                    error or names.get(status, "InternalServerError"),
                    message or http_reason(status),
                )
            )

    def set_rate_limit(self, remaining: int, *, reset_in: float = 300.0, limit: int = 3000) -> None:
        with self._lock:
            self._rate_limit, self._rate_remaining = limit, remaining
            self._rate_reset = time.time() + reset_in

    @property
    def requests(self) -> list[BlueskyRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, nsid: str) -> list[BlueskyRequest]:
        return [r for r in self.requests if r.nsid == nsid]

    @property
    def created_posts(self) -> list[dict[str, Any]]:
        """Records created through the API (replies): ``{uri, cid, repo, record}``."""
        with self._lock:
            return list(self._created)

    # ---- internals -------------------------------------------------------------------------

    @staticmethod
    def _public(view: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in view.items() if not k.startswith("_")}

    def _jwt(self, did: str, scope: str, seconds: float) -> tuple[str, float]:
        exp = time.time() + seconds
        header = _b64(json.dumps({"typ": "at+jwt", "alg": "ES256K"}).encode())
        payload = _b64(
            json.dumps(
                {
                    "scope": scope,
                    "sub": did,
                    "iat": int(time.time()),
                    "exp": int(exp),
                    "aud": "did:web:fake.bsky.invalid",
                    "jti": secrets.token_hex(8),
                }
            ).encode()
        )
        return f"{header}.{payload}.{_b64(secrets.token_bytes(32))}", exp

    def _new_session(self, profile: dict[str, Any]) -> dict[str, Any]:
        access, exp = self._jwt(profile["did"], "com.atproto.appPass", self.access_seconds)
        refresh, _ = self._jwt(profile["did"], "com.atproto.refresh", 90 * 86400)
        self._access[access] = (profile["did"], exp)
        self._refresh[refresh] = profile["did"]
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": profile["handle"],
            "did": profile["did"],
            "active": True,
        }

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            query = dict(parse_qsl(scope.get("query_string", b"").decode()))
            nsid = path.removeprefix("/xrpc/")
            with self._lock:
                self._requests.append(
                    BlueskyRequest(scope["method"], nsid, query, headers, time.time())
                )
        await self.app(scope, receive, send)

    def _rate_headers(self) -> dict[str, str]:
        return {
            "ratelimit-limit": str(self._rate_limit),
            "ratelimit-remaining": str(max(self._rate_remaining, 0)),
            "ratelimit-reset": str(int(self._rate_reset)),
            "ratelimit-policy": f"{self._rate_limit};w=300",
        }

    def _error(self, status: int, error: str, message: str) -> Response:
        with self._lock:
            headers = self._rate_headers()
        return JSONResponse({"error": error, "message": message}, status, headers=headers)

    def _ok(self, body: dict[str, Any]) -> Response:
        with self._lock:
            headers = self._rate_headers()
        return JSONResponse(body, headers=headers)

    def _viewer(self, request: Request) -> tuple[str | None, Response | None]:
        auth = request.headers.get("authorization", "")
        if not auth:
            return None, None
        token = auth.removeprefix("Bearer ").strip()
        with self._lock:
            found = self._access.get(token)
        if found is None:
            return None, self._error(401, "InvalidToken", "Token could not be verified")
        did, exp = found
        if exp <= time.time():
            return None, self._error(400, "ExpiredToken", "Token has expired")
        return did, None

    async def _xrpc(self, request: Request) -> Response:
        nsid = request.path_params["nsid"]
        endpoint = _ENDPOINT_OF.get(nsid)
        with self._lock:
            now = time.time()
            if now >= self._rate_reset:
                self._rate_remaining, self._rate_reset = self._rate_limit, now + 300
            self._rate_remaining -= 1
            if self._rate_remaining < 0:
                return self._error(429, "RateLimitExceeded", "Rate Limit Exceeded")
            for failure in self._failures:
                if failure.endpoint in (None, endpoint):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return self._error(failure.status, failure.error, failure.message)
        handler = {
            "com.atproto.server.createSession": self._create_session,
            "com.atproto.server.refreshSession": self._refresh_session,
            "app.bsky.actor.getProfile": self._get_profile,
            "app.bsky.feed.searchPosts": self._search,
            "app.bsky.feed.getPosts": self._get_posts,
            "com.atproto.repo.createRecord": self._create_record,
        }.get(nsid)
        if handler is None:
            return self._error(501, "MethodNotImplemented", "Method Not Implemented")
        return await handler(request)

    async def _create_session(self, request: Request) -> Response:
        if request.method != "POST":
            return self._error(405, "InvalidRequest", "Method Not Allowed")
        body = await request.json()
        identifier = str(body.get("identifier") or "").lower().lstrip("@")
        password = str(body.get("password") or "")
        with self._lock:
            profile = self._profiles.get(identifier) or next(
                (p for p in self._profiles.values() if p["did"] == identifier), None
            )
            if (
                profile is None
                or self._logins.get(profile["handle"]) is None
                or self._logins[profile["handle"]] != password
            ):
                return self._error(401, "AuthenticationRequired", "Invalid identifier or password")
            self.sessions_created += 1
            return self._ok(self._new_session(profile))

    async def _refresh_session(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        with self._lock:
            did = self._refresh.pop(token, None)
            profile = next((p for p in self._profiles.values() if p["did"] == did), None)
            if profile is None:
                return self._error(400, "InvalidToken", "Token could not be verified")
            return self._ok(self._new_session(profile))

    async def _get_profile(self, request: Request) -> Response:
        _did, refused = self._viewer(request)
        if refused:
            return refused
        actor = (request.query_params.get("actor") or "").lower()
        with self._lock:
            profile = self._profiles.get(actor) or next(
                (p for p in self._profiles.values() if p["did"] == actor), None
            )
        if profile is None:
            return self._error(400, "InvalidRequest", "Profile not found")
        return self._ok(
            {
                **profile,
                "description": "",
                "followersCount": 0,
                "followsCount": 0,
                "postsCount": 0,
                "indexedAt": profile["createdAt"],
            }
        )

    async def _search(self, request: Request) -> Response:
        viewer, refused = self._viewer(request)
        if refused:
            return refused
        if viewer is None and self.search_needs_session:
            return self._error(403, "Forbidden", "Forbidden")
        params = request.query_params
        q = (params.get("q") or "").strip()
        if not q:
            return self._error(400, "InvalidRequest", 'Error: Params must have the property "q"')
        try:
            limit = int(params.get("limit") or 25)
            since = _parse_time(params["since"]) if params.get("since") else None
            until = _parse_time(params["until"]) if params.get("until") else None
        except ValueError as exc:
            return self._error(400, "InvalidRequest", f"Error: {exc}")
        if not 1 <= limit <= 100:
            return self._error(400, "InvalidRequest", "Error: limit must be between 1 and 100")
        wanted_tags = {w[1:].lower() for w in q.split() if w.startswith("#")}
        words = [w.lower() for w in q.split() if not w.startswith("#")]
        with self._lock:
            posts = list(self._posts.values())

        def matches(view: dict[str, Any]) -> bool:
            record = view["record"]
            tags = {
                feature["tag"].lower()
                for facet in record.get("facets", [])
                for feature in facet["features"]
                if feature.get("$type") == "app.bsky.richtext.facet#tag"
            } | {t.lower() for t in record.get("tags", [])}
            text = record["text"].lower()
            return (
                wanted_tags <= tags
                and all(w in text for w in words)
                and (since is None or view["_sortAt"] >= since)
                and (until is None or view["_sortAt"] < until)
            )

        found = sorted(
            (p for p in posts if matches(p)), key=lambda p: (p["_sortAt"], p["uri"]), reverse=True
        )
        cursor = params.get("cursor")
        if cursor:
            try:
                at, uri = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
                mark = (_parse_time(at), uri)
            except (ValueError, UnicodeDecodeError):
                return self._error(400, "InvalidRequest", "Error: malformed cursor")
            found = [p for p in found if (p["_sortAt"], p["uri"]) < mark]
        page = found[:limit]
        body: dict[str, Any] = {"posts": [self._public(p) for p in page]}
        if len(found) > limit:
            last = page[-1]
            body["cursor"] = base64.urlsafe_b64encode(
                f"{last['_sortAt'].isoformat()}|{last['uri']}".encode()
            ).decode()
        return self._ok(body)

    async def _get_posts(self, request: Request) -> Response:
        _viewer, refused = self._viewer(request)
        if refused:
            return refused
        uris = request.query_params.getlist("uris")
        with self._lock:
            found = [self._public(self._posts[u]) for u in uris if u in self._posts]
        return self._ok({"posts": found})

    async def _create_record(self, request: Request) -> Response:
        viewer, refused = self._viewer(request)
        if refused:
            return refused
        if viewer is None:
            return self._error(401, "AuthenticationRequired", "Authentication Required")
        body = await request.json()
        record = body.get("record") or {}
        if body.get("repo") not in (viewer, None) and not str(body.get("repo")).startswith("did:"):
            with self._lock:
                owner = self._profiles.get(str(body.get("repo")).lower())
            if owner is None or owner["did"] != viewer:
                return self._error(400, "InvalidRequest", "Invalid repo")
        text = str(record.get("text") or "")
        if len(text) > 300:
            return self._error(
                400, "InvalidRecord", "Record/text must not be longer than 300 graphemes"
            )
        reply = record.get("reply")
        with self._lock:
            if reply and reply.get("parent", {}).get("uri") not in self._posts:
                return self._error(400, "InvalidRequest", "Could not locate record: parent")
            author = next(p for p in self._profiles.values() if p["did"] == viewer)
        view = self.post(text, handle=author["handle"], reply=reply)
        with self._lock:
            stored = self._posts[view["uri"]]
            if record.get("facets"):
                stored["record"]["facets"] = record["facets"]
            created = {
                "uri": view["uri"],
                "cid": view["cid"],
                "repo": body.get("repo"),
                "record": record,
            }
            self._created.append(created)
        return self._ok(
            {
                "uri": view["uri"],
                "cid": view["cid"],
                "commit": {"cid": view["cid"], "rev": view["uri"].rsplit("/", 1)[1]},
                "validationStatus": "valid",
            }
        )


def http_reason(status: int) -> str:
    with contextlib.suppress(ValueError):
        return HTTPStatus(status).phrase
    return "Error"
