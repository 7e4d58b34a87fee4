"""A fake X (Twitter) API v2 on 127.0.0.1 that the real tweepy client talks to in tests.

Use it as a pytest plugin (``pytest_plugins = ["tests.fakes.x_api"]`` or ``-p tests.fakes.x_api``)
and ask for the ``fake_x`` fixture: a started :class:`FakeX` whose ``base_url`` is the server's
``http://127.0.0.1:PORT``. Point tweepy at it with :func:`redirect_tweepy` (a mounted requests
adapter, see /work/shared/notes/x-api.md section 2), or the product's own copy of that adapter.

What the fake speaks, in X's JSON shapes:

- ``GET /2/tweets/search/recent``: query operators ``#tag`` (exact, case-insensitive), ``@user``,
  keywords, ``"phrases"``, ``from:``, ``to:``, ``is:retweet|reply|quote|verified``,
  ``has:hashtags|mentions|links``, ``lang:``, ``url:``, ``conversation_id:``, ``retweets_of:``,
  implicit AND, ``OR``, parentheses and ``-`` negation; ``since_id``, ``until_id``,
  ``start_time``, ``end_time``, ``max_results`` (10-100), ``next_token``, ``sort_order``,
  ``expansions``, ``tweet.fields``, ``user.fields``. Newest first; every page's ``meta``
  describes that page only. Unknown parameters, fields and operators are a 400, as on X.
- ``GET|POST /2/tweets/search/stream/rules`` and ``GET /2/tweets/search/stream`` (NDJSON lines
  ending in ``\\r\\n``, a bare ``\\r\\n`` keep-alive every ``keepalive_seconds``, 409 without
  rules, 429 ``TooManyConnections`` beyond ``max_stream_connections``, ``backfill_minutes``
  1-5 re-sends the matching tweets of those last minutes first). Only tweets posted while a
  stream is open (see :meth:`FakeX.wait_for_streams`) reach it.
- ``POST /2/tweets`` (OAuth 1.0a user context only; app bearer tokens get 403 "Unsupported
  Authentication") and ``GET /2/users/me``. The new tweet is authored by the ``me`` account
  (``ayto_jun``) and shows up in search and streams like any other. 403 in X's words for the same
  text twice (``reject_duplicate_tweets``), a reply to a tweet the fake does not have or deleted,
  and text over ``max_tweet_length``.

Every answer carries ``x-rate-limit-limit``/``-remaining``/``-reset`` headers; when a window's
``remaining`` reaches 0 the endpoint answers 429 until the window resets, like X does (see
:meth:`FakeX.set_rate_limit`). Tweet text is HTML-entity encoded (``&``, ``<``, ``>``) like X.
Bearer tokens: any is accepted except the strings ``"None"`` and ``""`` (what tweepy sends when
no token was configured) unless :meth:`FakeX.require_bearer` pins one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import http
import json
import random
import re
import string
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import pytest
import requests
import requests.adapters
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from council.sandbox.server import ServerThread

__all__ = [
    "CreatedTweet",
    "FakeTweet",
    "FakeUser",
    "FakeX",
    "RecordedRequest",
    "RedirectAdapter",
    "fake_x",
    "redirect_tweepy",
]

ORIGINAL_HOSTS = ("https://api.twitter.com", "https://api.x.com")
WINDOW_SECONDS = 15 * 60
FIRST_TWEET_ID = 1_800_000_000_000_000_000

SEARCH_PATH = "/2/tweets/search/recent"
RULES_PATH = "/2/tweets/search/stream/rules"
STREAM_PATH = "/2/tweets/search/stream"
TWEETS_PATH = "/2/tweets"
ME_PATH = "/2/users/me"

#: Endpoint groups for :meth:`FakeX.fail_next`.
ENDPOINTS = ("search", "tweets", "stream", "rules", "me")
#: Rate-limit windows (per 15 minutes) as documented by X for a pay-per-use app.
RATE_LIMITS = {
    "search": 450,
    "rules_get": 450,
    "rules_post": 100,
    "stream": 50,
    "tweets": 100,
    "me": 75,
}

# fmt: off
TWEET_FIELDS = frozenset({
    "article", "attachments", "author_id", "card_uri", "community_id", "context_annotations",
    "conversation_id", "created_at", "display_text_range", "edit_controls",
    "edit_history_tweet_ids", "entities", "geo", "id", "in_reply_to_user_id", "lang",
    "media_metadata", "non_public_metrics", "note_tweet", "organic_metrics",
    "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets",
    "reply_settings", "scopes", "source", "suggested_source_links", "text", "withheld",
})
USER_FIELDS = frozenset({
    "affiliation", "connection_status", "created_at", "description", "entities", "id",
    "is_identity_verified", "location", "most_recent_tweet_id", "name", "parody",
    "pinned_tweet_id", "profile_banner_url", "profile_image_url", "protected", "public_metrics",
    "receives_your_dm", "subscription", "subscription_type", "url", "username", "verified",
    "verified_followers_count", "verified_type", "withheld",
})
EXPANSIONS = frozenset({
    "article.cover_media", "article.media_entities", "attachments.media_keys",
    "attachments.media_source_tweet", "attachments.poll_ids", "author_id",
    "edit_history_tweet_ids", "entities.mentions.username", "entities.note.mentions.username",
    "geo.place_id", "in_reply_to_user_id", "referenced_tweets.id",
    "referenced_tweets.id.attachments.media_keys", "referenced_tweets.id.author_id",
})
# fmt: on
_FIELD_PARAMS = ("media.fields", "place.fields", "poll.fields")
SEARCH_PARAMS = frozenset(
    {
        "query",
        "start_time",
        "end_time",
        "since_id",
        "until_id",
        "max_results",
        "next_token",
        "pagination_token",
        "sort_order",
        "expansions",
        "tweet.fields",
        "user.fields",
        *_FIELD_PARAMS,
    }
)
STREAM_PARAMS = frozenset(
    {"backfill_minutes", "expansions", "tweet.fields", "user.fields", *_FIELD_PARAMS}
)

_INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
_ID_RE = re.compile(r"^[0-9]{1,19}$")
_HASHTAG_RE = re.compile(r"(?<![\w&])[#＃](\w*[^\W\d]\w*)")
_MENTION_RE = re.compile(r"(?<![\w@])[@＠](\w{1,15})")
_URL_RE = re.compile(r"https?://[^\s<>\"]+")
_WORD_RE = re.compile(r"\w+")


# --------------------------------------------------------------------------------------------
# Public records


class RecordedRequest(NamedTuple):
    """One request the fake received (``method, path, query, headers, time``)."""

    method: str
    path: str
    query: dict[str, str]
    #: Lower-case names: ``authorization``, ``content-type``, ``user-agent``, ``host`` (if sent).
    headers: dict[str, str]
    time: float


@dataclass(frozen=True)
class CreatedTweet:
    """A successful ``POST /2/tweets``."""

    id: str
    text: str
    in_reply_to_tweet_id: str | None
    body: dict[str, Any]
    authorization: str
    time: float


@dataclass
class FakeUser:
    id: str
    username: str
    name: str
    profile_image_url: str
    verified: bool = False
    description: str = ""
    location: str | None = None
    protected: bool = False
    created_at: datetime = field(default_factory=lambda: datetime(2012, 3, 4, 5, 6, 7, tzinfo=UTC))


@dataclass
class FakeTweet:
    id: str
    #: The text as written, before X's HTML-entity encoding.
    text: str
    author_id: str
    created_at: datetime
    conversation_id: str
    lang: str = "es"
    referenced_tweets: list[dict[str, str]] = field(default_factory=list)
    in_reply_to_user_id: str | None = None
    deleted: bool = False

    @property
    def is_retweet(self) -> bool:
        return any(ref["type"] == "retweeted" for ref in self.referenced_tweets)

    @property
    def hashtags(self) -> list[str]:
        return [m.group(1) for m in _HASHTAG_RE.finditer(self.text)]


# --------------------------------------------------------------------------------------------
# X's error bodies


class _XError(Exception):
    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def x_problem(status: int) -> dict[str, Any]:
    """The body X sends with ``status`` when nothing more specific applies."""
    if status == 401:
        return {
            "title": "Unauthorized",
            "type": "about:blank",
            "status": 401,
            "detail": "Unauthorized",
        }
    if status == 403:
        return {
            "client_id": "29466541",
            "detail": (
                "When authenticating requests to the Twitter API v2 endpoints, you must use keys "
                "and tokens from a Twitter developer App that is attached to a Project. You can "
                "create a project via the developer portal."
            ),
            "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
            "title": "Client Forbidden",
            "required_enrollment": "Appropriate Level of API Access",
            "reason": "client-not-enrolled",
            "type": "https://api.twitter.com/2/problems/client-forbidden",
        }
    if status == 429:
        return {
            "title": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
            "detail": "Too Many Requests",
        }
    if status == 400:
        return invalid_request("One or more parameters to your request was invalid.", {})
    phrase = http.HTTPStatus(status).phrase
    return {"title": phrase, "type": "about:blank", "status": status, "detail": phrase}


def invalid_request(message: str, parameters: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "errors": [{"parameters": parameters, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": _INVALID_REQUEST,
    }


def _bad_param(name: str, value: str, message: str) -> _XError:
    return _XError(400, invalid_request(message, {name: [value]}))


def _forbidden(detail: str) -> _XError:
    return _XError(
        403, {"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403}
    )


def _unsupported_auth(used: str, supported: str) -> _XError:
    return _XError(
        403,
        {
            "title": "Unsupported Authentication",
            "detail": (
                f"Authenticating with {used} is forbidden for this endpoint.  "
                f"Supported authentication types are [{supported}]."
            ),
            "type": "https://api.twitter.com/2/problems/unsupported-authentication",
            "status": 403,
        },
    )


# --------------------------------------------------------------------------------------------
# Query language


class _QueryError(ValueError):
    pass


_STANDALONE_OPERATORS = frozenset(
    {"from", "to", "url", "retweets_of", "conversation_id", "in_reply_to_tweet_id"}
)
_CONJUNCTION_OPERATORS = {
    "is": frozenset({"retweet", "reply", "quote", "verified", "nullcast"}),
    "has": frozenset({"hashtags", "mentions", "links", "media", "images", "videos", "geo"}),
    "lang": None,
}

Node = tuple[Any, ...]


def _tokenize(query: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append((ch, ch, i))
            i += 1
        elif ch == "-" and i + 1 < n and not query[i + 1].isspace():
            tokens.append(("-", "-", i))
            i += 1
        elif ch == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise _QueryError(f"Unterminated quoted phrase (at position {i + 1})")
            tokens.append(("phrase", query[i + 1 : end], i))
            i = end + 1
        else:
            start = i
            while i < n and not query[i].isspace() and query[i] not in '()"':
                i += 1
            word = query[start:i]
            tokens.append(("OR", word, start) if word == "OR" else ("term", word, start))
    return tokens


def _term(word: str, position: int) -> Node:
    if word[0] in "#＃":
        if len(word) == 1:
            raise _QueryError(f"Missing hashtag after '#' (at position {position + 1})")
        return ("hashtag", word[1:].casefold())
    if word[0] in "@＠" and len(word) > 1:
        return ("mention", word[1:].casefold())
    match = re.match(r"^([a-z_]+):(.*)$", word)
    if match and match.group(1) not in ("http", "https"):
        name, value = match.groups()
        if not value:
            raise _QueryError(f"Missing value for operator '{name}:' (at position {position + 1})")
        if name in _STANDALONE_OPERATORS:
            return ("op", name, value.casefold())
        if name in _CONJUNCTION_OPERATORS:
            allowed = _CONJUNCTION_OPERATORS[name]
            if allowed is not None and value not in allowed:
                raise _QueryError(
                    f"Reference to invalid operator '{name}:{value}'. Operator is not available "
                    f"in current product or product packaging. (at position {position + 1})"
                )
            return ("op", name, value.casefold())
        raise _QueryError(
            f"Reference to invalid operator '{name}'. Operator is not available in current "
            f"product or product packaging. (at position {position + 1})"
        )
    return ("keyword", tuple(_WORD_RE.findall(word.casefold())))


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _tokenize(query)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def parse(self) -> Node:
        if not self.tokens:
            raise _QueryError("The query is empty")
        node = self.parse_or()
        if self.pos < len(self.tokens):
            kind, _, at = self.tokens[self.pos]
            raise _QueryError(f"Unexpected '{kind}' (at position {at + 1})")
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.peek() == "OR":
            self.pos += 1
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else ("or", items)

    def parse_and(self) -> Node:
        items = []
        while self.peek() not in (None, ")", "OR"):
            items.append(self.parse_unary())
        if not items:
            at = self.tokens[self.pos][2] + 1 if self.pos < len(self.tokens) else len(self.tokens)
            raise _QueryError(f"Missing term (at position {at})")
        return items[0] if len(items) == 1 else ("and", items)

    def parse_unary(self) -> Node:
        if self.peek() == "-":
            self.pos += 1
            if self.peek() in (None, ")", "OR"):
                raise _QueryError("Nothing to negate after '-'")
            return ("not", self.parse_atom())
        return self.parse_atom()

    def parse_atom(self) -> Node:
        kind, value, at = self.tokens[self.pos]
        self.pos += 1
        if kind == "(":
            node = self.parse_or()
            if self.peek() != ")":
                raise _QueryError(f"Missing closing parenthesis (at position {at + 1})")
            self.pos += 1
            return node
        if kind == "phrase":
            return ("keyword", tuple(_WORD_RE.findall(value.casefold())))
        if kind == "term":
            return _term(value, at)
        raise _QueryError(f"Unexpected '{value}' (at position {at + 1})")


def _standalone(node: Node) -> bool:
    kind = node[0]
    if kind == "and":
        return any(_standalone(child) for child in node[1])
    if kind == "or":
        return all(_standalone(child) for child in node[1])
    if kind == "not":
        return False
    if kind == "op":
        return bool(node[1] in _STANDALONE_OPERATORS)
    return True


def parse_query(query: str) -> Node:
    """Parse an X search query or stream rule; raises ValueError with X's style of message."""
    node = _Parser(query).parse()
    if not _standalone(node):
        raise _QueryError(
            "Rules must contain at least one positive, non-stopword clause that is not a "
            "negation or a conjunction-required operator such as is:, has: or lang: "
            "(at position 1)"
        )
    return node


def _contains(haystack: list[str], needle: tuple[str, ...]) -> bool:
    if not needle:
        return False
    size = len(needle)
    return any(tuple(haystack[i : i + size]) == needle for i in range(len(haystack) - size + 1))


# --------------------------------------------------------------------------------------------
# Helpers


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_time(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def x_escape(text: str) -> str:
    """Encode text the way X does in tweet payloads: only ``&``, ``<`` and ``>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _json_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        _dumps(body),
        status_code=status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


def _csv(params: dict[str, str], name: str, allowed: frozenset[str]) -> set[str]:
    raw = params.get(name)
    if raw is None:
        return set()
    values = [value.strip() for value in raw.split(",")]
    for value in values:
        if value not in allowed:
            raise _bad_param(
                name,
                value,
                f"The `{name}` query parameter value [{value}] is not one of "
                f"[{', '.join(sorted(allowed))}]",
            )
    return set(values)


def _check_params(params: dict[str, str], allowed: frozenset[str]) -> None:
    for name in params:
        if name not in allowed:
            raise _bad_param(
                name,
                params[name],
                f"The query parameter [{name}] is not one of [{', '.join(sorted(allowed))}]",
            )


def _id_param(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not _ID_RE.match(value):
        raise _bad_param(
            name,
            value,
            f"The `{name}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$",
        )
    return int(value)


@dataclass
class _Window:
    limit: int
    remaining: int
    reset: int

    def roll(self, now: float) -> None:
        if now >= self.reset:
            self.remaining = self.limit
            self.reset = int(now) + WINDOW_SECONDS

    def headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(self.reset),
        }


@dataclass
class _Failure:
    status: int
    body: dict[str, Any] | None
    reset_in: float | None
    headers: dict[str, str | None]


@dataclass
class _Rule:
    id: str
    value: str
    tag: str | None
    node: Node

    def as_json(self) -> dict[str, str]:
        out = {"id": self.id, "value": self.value}
        if self.tag is not None:
            out["tag"] = self.tag
        return out


@dataclass
class _Fields:
    expansions: set[str]
    tweet_fields: set[str]
    user_fields: set[str]


class _StreamConnection:
    """One open ``GET /2/tweets/search/stream``; lines are pushed from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fields: _Fields) -> None:
        self.loop = loop
        self.fields = fields
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def push(self, item: bytes | None) -> None:
        with contextlib.suppress(RuntimeError):  # the server's loop is already closed
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class _StreamResponse:
    """Streams NDJSON lines and keep-alives until the client leaves or the fake closes it."""

    def __init__(self, fake: FakeX, conn: _StreamConnection, headers: dict[str, str]) -> None:
        self.fake = fake
        self.conn = conn
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_headers = [(b"content-type", b"application/json; charset=utf-8")]
        raw_headers += [(k.encode(), v.encode()) for k, v in self.headers.items()]
        gone: asyncio.Future[Any] = asyncio.ensure_future(_wait_for_disconnect(receive))
        getter: asyncio.Future[Any] | None = None
        try:
            await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
            while True:
                if getter is None:
                    getter = asyncio.ensure_future(self.conn.queue.get())
                done, _ = await asyncio.wait(
                    {getter, gone},
                    timeout=self.fake.keepalive_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if getter in done:
                    item = getter.result()
                    getter = None
                    if item is None:  # disconnect_streams() or stop(): a clean close
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                        return
                    await send({"type": "http.response.body", "body": item, "more_body": True})
                elif gone in done:
                    return
                else:
                    await send({"type": "http.response.body", "body": b"\r\n", "more_body": True})
        finally:
            for task in (getter, gone):
                if task is not None:
                    task.cancel()
            self.fake._unregister_stream(self.conn)


# --------------------------------------------------------------------------------------------
# The fake


class FakeX:
    """In-memory X: users, tweets, stream rules, failure injection and a record of requests.

    Every public method is thread-safe; the server runs in its own thread.
    """

    def __init__(
        self,
        *,
        keepalive_seconds: float = 0.2,
        seed: int = 2026,
        me_username: str = "ayto_jun",
        me_name: str = "Ayuntamiento de Jun",
    ) -> None:
        self.keepalive_seconds = keepalive_seconds
        #: X allows one filtered-stream connection per app; a second one gets 429 after
        #: ``stream_connection_grace`` seconds (time for a client that just hung up to be seen).
        self.max_stream_connections = 1
        self.stream_connection_grace = 1.0
        #: Set False to mimic X since 2026-05-04: recent search never returns retweets.
        self.search_returns_retweets = True
        #: X refuses a second tweet with the same text from the same account (403).
        self.reject_duplicate_tweets = True
        self.max_tweet_length = 280
        self.max_rule_length = 1024
        self.max_query_length = 512
        self.base_url = ""

        self._cond = threading.Condition(threading.RLock())
        self._rng = random.Random(seed)
        self._last_tweet_id = FIRST_TWEET_ID
        self._last_user_id = 1_400_000_000
        self._last_rule_id = 1_900_000_000_000_000_000
        self._users: dict[str, FakeUser] = {}  # by id
        self._usernames: dict[str, str] = {}  # casefolded username -> id
        self._tweets: dict[str, FakeTweet] = {}
        self._rules: dict[str, _Rule] = {}
        self._next_tokens: dict[str, int] = {}
        self._failures: dict[str, list[_Failure]] = {name: [] for name in ENDPOINTS}
        self._windows: dict[str, _Window] = {}
        self._bearer: str | None = None
        self._oauth1: tuple[str, str, str, str] | None = None
        self._streams: list[_StreamConnection] = []
        self._stream_connects = 0
        self._requests: list[RecordedRequest] = []
        self._created: list[CreatedTweet] = []
        self._search_calls = 0
        self._server = ServerThread(self._asgi, "fake-x-server")
        self._app = Starlette(
            routes=[
                Route(SEARCH_PATH, self._search, methods=["GET"]),
                Route(RULES_PATH, self._get_rules, methods=["GET"]),
                Route(RULES_PATH, self._post_rules, methods=["POST"]),
                Route(STREAM_PATH, self._stream, methods=["GET"]),
                Route(TWEETS_PATH, self._create_tweet, methods=["POST"]),
                Route(ME_PATH, self._me, methods=["GET"]),
                Route("/{path:path}", self._not_found, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )
        self.me_id = self.add_user(me_username, me_name)

    # ---- content -----------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        name: str | None = None,
        profile_image_url: str | None = None,
        *,
        verified: bool = False,
        description: str = "",
        location: str | None = None,
    ) -> str:
        """Create (or return the id of) the account ``username``; ids are numeric strings."""
        with self._cond:
            existing = self._usernames.get(username.casefold())
            if existing is not None:
                return existing
            self._last_user_id += self._rng.randint(1, 1_000_000)
            user_id = str(self._last_user_id)
            self._users[user_id] = FakeUser(
                id=user_id,
                username=username,
                name=name if name is not None else username.replace("_", " ").title(),
                profile_image_url=profile_image_url
                or f"https://pbs.twimg.com/profile_images/{user_id}/avatar_normal.jpg",
                verified=verified,
                description=description,
                location=location,
            )
            self._usernames[username.casefold()] = user_id
            return user_id

    def post(
        self,
        text: str,
        *,
        username: str = "vecina_jun",
        name: str | None = None,
        created_at: datetime | str | None = None,
        retweet_of: str | None = None,
        reply_to: str | None = None,
        lang: str = "es",
    ) -> str:
        """Publish a tweet as ``username`` (created if new) and return its id.

        ``retweet_of``: the id of a tweet in the fake; the text becomes ``"RT @author: "`` plus
        ``text`` or, when ``text`` is empty, the original text. ``reply_to``: a tweet id.
        Open filtered streams receive the tweet when it matches a rule.
        """
        with self._cond:
            author_id = self.add_user(username, name)
            return self._store_tweet(
                text,
                author_id=author_id,
                created_at=created_at,
                retweet_of=retweet_of,
                reply_to=reply_to,
                lang=lang,
            )

    def post_many(
        self,
        n: int,
        text_template: str = "Pregunta {i} para el pleno #PlenoJun",
        *,
        usernames: Sequence[str] | None = None,
        **post_kwargs: Any,
    ) -> list[str]:
        """Post ``n`` tweets (``text_template.format(i=1..n, n=n)``), oldest first; their ids.

        ``usernames`` rotates authors; other keyword arguments go to :meth:`post`.
        """
        ids = []
        with self._cond:
            for i in range(1, n + 1):
                if usernames:
                    post_kwargs["username"] = usernames[(i - 1) % len(usernames)]
                ids.append(self.post(text_template.format(i=i, n=n), **post_kwargs))
        return ids

    def delete_tweet(self, tweet_id: str) -> None:
        """The tweet disappears from search; replying to it is a 403."""
        with self._cond:
            self._tweets[str(tweet_id)].deleted = True

    def tweet(self, tweet_id: str) -> FakeTweet:
        with self._cond:
            return self._tweets[str(tweet_id)]

    def user(self, username: str) -> FakeUser:
        with self._cond:
            return self._users[self._usernames[username.casefold()]]

    @property
    def tweets(self) -> list[FakeTweet]:
        """Every tweet, oldest first (including the ones created through ``POST /2/tweets``)."""
        with self._cond:
            return sorted(self._tweets.values(), key=lambda t: int(t.id))

    def add_rule(self, value: str, tag: str | None = None) -> str:
        """Add a filtered-stream rule directly (as if added earlier); returns its id."""
        with self._cond:
            rule = self._make_rule(value, tag)
            self._rules[rule.id] = rule
            return rule.id

    @property
    def rules(self) -> list[dict[str, str]]:
        with self._cond:
            return [rule.as_json() for rule in self._rules.values()]

    # ---- failures, auth and limits -------------------------------------------------------

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        reset_in: float | None = None,
        body: dict[str, Any] | None = None,
        endpoint: str = "search",
        headers: dict[str, str | None] | None = None,
    ) -> None:
        """The next ``times`` calls to ``endpoint`` answer ``status`` in X's JSON shape.

        ``endpoint``: "search", "tweets" (POST /2/tweets), "stream" (connect), "rules" (GET or
        POST) or "me". For a 429, ``x-rate-limit-reset`` is ``int(time.time() + reset_in)``
        computed when the call arrives (default: the end of the current 15-minute window) and
        ``x-rate-limit-remaining`` is 0. ``body`` replaces the default body; ``headers`` adds
        headers, a ``None`` value removes one (e.g. ``{"x-rate-limit-reset": None}``).
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {ENDPOINTS}, not {endpoint!r}")
        with self._cond:
            self._failures[endpoint].extend(
                _Failure(status, body, reset_in, dict(headers or {})) for _ in range(times)
            )

    def require_bearer(self, token: str | None) -> None:
        """Only this app bearer token is accepted (401 otherwise); None accepts any again."""
        with self._cond:
            self._bearer = token

    def require_oauth1(
        self,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
    ) -> None:
        """Check OAuth 1.0a requests: keys must match and the HMAC-SHA1 signature must verify.

        tweepy signs the original ``https://api.twitter.com`` URL before the redirect adapter
        runs, so the signature is checked against that URL (or ``https://api.x.com``).
        Without this call any well-formed OAuth 1.0a header is accepted.
        """
        with self._cond:
            self._oauth1 = (consumer_key, consumer_secret, access_token, access_token_secret)

    def set_rate_limit(
        self,
        endpoint: str,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset_in: float | None = None,
    ) -> None:
        """Adjust a 15-minute window: "search", "tweets", "stream", "rules_get", "rules_post",
        "rules" (both) or "me". When ``remaining`` is 0 the endpoint answers 429 until reset."""
        keys = ["rules_get", "rules_post"] if endpoint == "rules" else [endpoint]
        with self._cond:
            for key in keys:
                window = self._window(key)
                if limit is not None:
                    window.limit = limit
                if remaining is not None:
                    window.remaining = remaining
                if reset_in is not None:
                    window.reset = int(time.time() + reset_in)

    # ---- stream -------------------------------------------------------------------------

    def disconnect_streams(self) -> int:
        """Cleanly end every open stream response (tweepy reconnects at once); how many."""
        with self._cond:
            streams = list(self._streams)
        for conn in streams:
            conn.push(None)
        return len(streams)

    @property
    def open_streams(self) -> int:
        with self._cond:
            return len(self._streams)

    @property
    def stream_connects(self) -> int:
        """How many stream connections were accepted (200) so far."""
        with self._cond:
            return self._stream_connects

    def wait_for_streams(self, count: int = 1, timeout: float = 5.0) -> None:
        """Block until ``count`` streams are open: tweets posted before that are not sent."""
        self.wait_for(lambda fake: fake.open_streams >= count, timeout, f"{count} open stream(s)")

    # ---- observation --------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        with self._cond:
            return [
                r
                for r in self._requests
                if r.path == path and (method is None or r.method == method.upper())
            ]

    @property
    def created_tweets(self) -> list[CreatedTweet]:
        with self._cond:
            return list(self._created)

    @property
    def search_calls(self) -> int:
        """Requests received on ``GET /2/tweets/search/recent``, failed ones included."""
        with self._cond:
            return self._search_calls

    def wait_for(
        self, predicate: Callable[[FakeX], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Block until ``predicate(self)`` holds (re-checked on every request and change)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fake X: timed out after {timeout} s waiting for {what}")
                self._cond.wait(min(left, 0.05))

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeX:
        """Serve on a free 127.0.0.1 port in a background thread; sets ``base_url``."""
        self.base_url = self._server.start()
        return self

    def stop(self) -> None:
        if not self._server.running:
            return
        self.disconnect_streams()
        self._server.stop()

    def __enter__(self) -> FakeX:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- internals: state ----------------------------------------------------------------

    def _store_tweet(
        self,
        text: str,
        *,
        author_id: str,
        created_at: datetime | str | None,
        retweet_of: str | None,
        reply_to: str | None,
        lang: str,
    ) -> str:
        self._last_tweet_id += self._rng.randint(1 << 12, 1 << 22)
        tweet_id = str(self._last_tweet_id)
        referenced: list[dict[str, str]] = []
        conversation_id = tweet_id
        in_reply_to_user_id = None
        if retweet_of is not None:
            original = self._tweets.get(str(retweet_of))
            if original is None:
                raise KeyError(f"retweet_of: no tweet {retweet_of} in the fake")
            text = f"RT @{self._users[original.author_id].username}: {text or original.text}"
            referenced.append({"type": "retweeted", "id": original.id})
        if reply_to is not None:
            reply_to = str(reply_to)
            referenced.append({"type": "replied_to", "id": reply_to})
            parent = self._tweets.get(reply_to)
            if parent is not None:
                in_reply_to_user_id = parent.author_id
                conversation_id = parent.conversation_id
            else:
                conversation_id = reply_to
        tweet = FakeTweet(
            id=tweet_id,
            text=text,
            author_id=author_id,
            created_at=_parse_time(created_at) if created_at is not None else datetime.now(UTC),
            conversation_id=conversation_id,
            lang=lang,
            referenced_tweets=referenced,
            in_reply_to_user_id=in_reply_to_user_id,
        )
        self._tweets[tweet_id] = tweet
        self._fan_out(tweet)
        self._cond.notify_all()
        return tweet_id

    def _fan_out(self, tweet: FakeTweet) -> None:
        for conn in self._streams:
            line = self._stream_line(tweet, conn.fields)
            if line is not None:
                conn.push(line)

    def _stream_line(self, tweet: FakeTweet, fields: _Fields) -> bytes | None:
        matching = [rule for rule in self._rules.values() if self._matches(rule.node, tweet)]
        if not matching:
            return None
        line: dict[str, Any] = {"data": self._render_tweet(tweet, fields.tweet_fields)}
        includes = self._includes([tweet], fields)
        if includes:
            line["includes"] = includes
        line["matching_rules"] = [
            {"id": r.id, "tag": r.tag} if r.tag is not None else {"id": r.id} for r in matching
        ]
        return _dumps(line) + b"\r\n"

    def _backfill(self, conn: _StreamConnection, minutes: int) -> None:
        """Send matching tweets of the last ``minutes`` again, oldest first (duplicates!)."""
        cutoff = datetime.now(UTC) - timedelta(minutes=minutes)
        for tweet in sorted(self._tweets.values(), key=lambda t: int(t.id)):
            if not tweet.deleted and tweet.created_at >= cutoff:
                line = self._stream_line(tweet, conn.fields)
                if line is not None:
                    conn.push(line)

    def _make_rule(self, value: str, tag: str | None) -> _Rule:
        if len(value) > self.max_rule_length:
            raise _QueryError(
                f"Rule length exceeds the max allowed rule length of {self.max_rule_length} "
                f"characters (actual: {len(value)})"
            )
        node = parse_query(value)
        self._last_rule_id += self._rng.randint(1 << 12, 1 << 22)
        return _Rule(str(self._last_rule_id), value, tag, node)

    def _window(self, key: str) -> _Window:
        if key not in RATE_LIMITS:
            raise ValueError(f"unknown rate-limit window {key!r}; one of {sorted(RATE_LIMITS)}")
        now = time.time()
        window = self._windows.get(key)
        if window is None:
            limit = RATE_LIMITS[key]
            window = self._windows[key] = _Window(limit, limit, int(now) + WINDOW_SECONDS)
        window.roll(now)
        return window

    def _unregister_stream(self, conn: _StreamConnection) -> None:
        with self._cond:
            if conn in self._streams:
                self._streams.remove(conn)
            self._cond.notify_all()

    # ---- internals: matching and rendering ----------------------------------------------

    def _matches(self, node: Node, tweet: FakeTweet) -> bool:
        kind = node[0]
        if kind == "and":
            return all(self._matches(child, tweet) for child in node[1])
        if kind == "or":
            return any(self._matches(child, tweet) for child in node[1])
        if kind == "not":
            return not self._matches(node[1], tweet)
        if kind == "hashtag":
            return any(tag.casefold() == node[1] for tag in tweet.hashtags)
        if kind == "mention":
            return any(m.group(1).casefold() == node[1] for m in _MENTION_RE.finditer(tweet.text))
        if kind == "keyword":
            return _contains(_WORD_RE.findall(tweet.text.casefold()), node[1])
        name: str = node[1]
        value: str = node[2]
        author = self._users[tweet.author_id]
        if name == "from":
            return value in (author.username.casefold(), author.id)
        if name == "to":
            target = self._users.get(tweet.in_reply_to_user_id or "")
            return target is not None and value in (target.username.casefold(), target.id)
        if name == "is":
            types = {ref["type"] for ref in tweet.referenced_tweets}
            return {
                "retweet": "retweeted" in types,
                "reply": "replied_to" in types,
                "quote": "quoted" in types,
                "verified": author.verified,
            }.get(value, False)
        if name == "has":
            return {
                "hashtags": bool(tweet.hashtags),
                "mentions": bool(_MENTION_RE.search(tweet.text)),
                "links": bool(_URL_RE.search(tweet.text)),
            }.get(value, False)
        if name == "lang":
            return tweet.lang.casefold() == value
        if name == "url":
            return any(value in url.casefold() for url in _URL_RE.findall(tweet.text))
        if name == "conversation_id":
            return tweet.conversation_id == value
        if name == "in_reply_to_tweet_id":
            return any(
                r["type"] == "replied_to" and r["id"] == value for r in tweet.referenced_tweets
            )
        if name == "retweets_of":
            return any(
                r["type"] == "retweeted"
                and r["id"] in self._tweets
                and value
                in (
                    self._users[self._tweets[r["id"]].author_id].username.casefold(),
                    self._tweets[r["id"]].author_id,
                )
                for r in tweet.referenced_tweets
            )
        return False

    def _entities(self, tweet: FakeTweet) -> dict[str, Any]:
        entities: dict[str, Any] = {}
        hashtags = [
            {"start": m.start(), "end": m.end(), "tag": m.group(1)}
            for m in _HASHTAG_RE.finditer(tweet.text)
        ]
        if hashtags:
            entities["hashtags"] = hashtags
        mentions = []
        for m in _MENTION_RE.finditer(tweet.text):
            mention: dict[str, Any] = {"start": m.start(), "end": m.end(), "username": m.group(1)}
            user_id = self._usernames.get(m.group(1).casefold())
            if user_id is not None:
                mention["id"] = user_id
            mentions.append(mention)
        if mentions:
            entities["mentions"] = mentions
        urls = [
            {
                "start": m.start(),
                "end": m.end(),
                "url": m.group(0),
                "expanded_url": m.group(0),
                "display_url": m.group(0).split("://", 1)[1][:26],
            }
            for m in _URL_RE.finditer(tweet.text)
        ]
        if urls:
            entities["urls"] = urls
        return entities

    def _render_tweet(self, tweet: FakeTweet, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": tweet.id,
            "text": x_escape(tweet.text),
            "edit_history_tweet_ids": [tweet.id],
        }
        if "author_id" in fields:
            out["author_id"] = tweet.author_id
        if "created_at" in fields:
            out["created_at"] = _iso(tweet.created_at)
        if "conversation_id" in fields:
            out["conversation_id"] = tweet.conversation_id
        if "lang" in fields:
            out["lang"] = tweet.lang
        if "in_reply_to_user_id" in fields and tweet.in_reply_to_user_id:
            out["in_reply_to_user_id"] = tweet.in_reply_to_user_id
        if "referenced_tweets" in fields and tweet.referenced_tweets:
            out["referenced_tweets"] = [dict(ref) for ref in tweet.referenced_tweets]
        if "entities" in fields:
            entities = self._entities(tweet)
            if entities:
                out["entities"] = entities
        if "possibly_sensitive" in fields:
            out["possibly_sensitive"] = False
        if "reply_settings" in fields:
            out["reply_settings"] = "everyone"
        if "public_metrics" in fields:
            out["public_metrics"] = {
                "retweet_count": self._count_references("retweeted", tweet.id),
                "reply_count": self._count_references("replied_to", tweet.id),
                "like_count": 0,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 0,
            }
        if "edit_controls" in fields:
            out["edit_controls"] = {
                "edits_remaining": 5,
                "is_edit_eligible": not tweet.referenced_tweets,
                "editable_until": _iso(tweet.created_at + timedelta(hours=1)),
            }
        return out

    def _count_references(self, kind: str, tweet_id: str) -> int:
        return sum(
            any(r["type"] == kind and r["id"] == tweet_id for r in t.referenced_tweets)
            for t in self._tweets.values()
            if not t.deleted
        )

    def _render_user(self, user: FakeUser, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
        if "profile_image_url" in fields:
            out["profile_image_url"] = user.profile_image_url
        if "verified" in fields:
            out["verified"] = user.verified
        if "verified_type" in fields:
            out["verified_type"] = "blue" if user.verified else "none"
        if "description" in fields:
            out["description"] = user.description
        if "location" in fields and user.location is not None:
            out["location"] = user.location
        if "created_at" in fields:
            out["created_at"] = _iso(user.created_at)
        if "protected" in fields:
            out["protected"] = user.protected
        if "url" in fields:
            out["url"] = ""
        if "public_metrics" in fields:
            out["public_metrics"] = {
                "followers_count": 0,
                "following_count": 0,
                "tweet_count": sum(t.author_id == user.id for t in self._tweets.values()),
                "listed_count": 0,
                "like_count": 0,
                "media_count": 0,
            }
        return out

    def _includes(self, tweets: list[FakeTweet], fields: _Fields) -> dict[str, Any]:
        expansions = fields.expansions
        user_ids: dict[str, None] = {}
        extra: dict[str, FakeTweet] = {}
        for tweet in tweets:
            if "author_id" in expansions:
                user_ids[tweet.author_id] = None
            if "in_reply_to_user_id" in expansions and tweet.in_reply_to_user_id:
                user_ids[tweet.in_reply_to_user_id] = None
            if "entities.mentions.username" in expansions:
                for m in _MENTION_RE.finditer(tweet.text):
                    mentioned = self._usernames.get(m.group(1).casefold())
                    if mentioned is not None:
                        user_ids[mentioned] = None
            if "referenced_tweets.id" in expansions:
                for ref in tweet.referenced_tweets:
                    other = self._tweets.get(ref["id"])
                    if other is not None and not other.deleted:
                        extra[other.id] = other
                        if "referenced_tweets.id.author_id" in expansions:
                            user_ids[other.author_id] = None
        out: dict[str, Any] = {}
        if user_ids:
            out["users"] = [self._render_user(self._users[u], fields.user_fields) for u in user_ids]
        if extra:
            out["tweets"] = [self._render_tweet(t, fields.tweet_fields) for t in extra.values()]
        return out

    # ---- internals: HTTP ------------------------------------------------------------------

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {
                k.decode("latin-1"): v.decode("latin-1")
                for k, v in scope["headers"]
                if k in (b"authorization", b"content-type", b"user-agent", b"host")
            }
            query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
            record = RecordedRequest(scope["method"], scope["path"], query, headers, time.time())
            with self._cond:
                self._requests.append(record)
                if scope["path"] == SEARCH_PATH:
                    self._search_calls += 1
                self._cond.notify_all()
        await self._app(scope, receive, send)

    def _prelude(self, request: Request, group: str, rate_key: str, auth: str) -> dict[str, str]:
        """Injected failure, then authentication, then the rate-limit window."""
        with self._cond:
            window = self._window(rate_key)
            if self._failures[group]:
                failure = self._failures[group].pop(0)
                headers = window.headers()
                if failure.status == 429:
                    headers["x-rate-limit-remaining"] = "0"
                    if failure.reset_in is not None:
                        headers["x-rate-limit-reset"] = str(int(time.time() + failure.reset_in))
                for name, value in failure.headers.items():
                    if value is None:
                        headers.pop(name.lower(), None)
                    else:
                        headers[name.lower()] = value
                body = failure.body if failure.body is not None else x_problem(failure.status)
                raise _XError(failure.status, body, headers)
            self._authenticate(request, auth)
            if window.remaining <= 0:
                raise _XError(429, x_problem(429), window.headers())
            window.remaining -= 1
            return window.headers()

    def _authenticate(self, request: Request, auth: str) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            if auth == "user":
                raise _unsupported_auth(
                    "OAuth 2.0 Application-Only", "OAuth 1.0a User Context, OAuth 2.0 User Context"
                )
            if credentials in ("", "None"):
                raise _XError(401, x_problem(401))
            if self._bearer is not None and not hmac.compare_digest(
                credentials.encode(), self._bearer.encode()
            ):
                raise _XError(401, x_problem(401))
        elif scheme == "OAuth":
            if auth == "app":
                raise _unsupported_auth("OAuth 1.0a User Context", "OAuth 2.0 Application-Only")
            if not self._oauth1_valid(request, header):
                raise _XError(401, x_problem(401))
        else:
            raise _XError(401, x_problem(401))

    def _oauth1_valid(self, request: Request, header: str) -> bool:
        try:
            params = dict(oauth_utils.parse_authorization_header(header))
        except (ValueError, TypeError):
            return False
        required = ("oauth_consumer_key", "oauth_token", "oauth_signature", "oauth_nonce")
        if any(params.get(name) in (None, "", "None") for name in required):
            return False
        if params.get("oauth_signature_method") != "HMAC-SHA1":
            return False
        if self._oauth1 is None:
            return True
        consumer_key, consumer_secret, access_token, token_secret = self._oauth1
        if params["oauth_consumer_key"] != consumer_key or params["oauth_token"] != access_token:
            return False
        query = request.url.query
        collected = oauth_signature.collect_parameters(
            uri_query=query, headers={"Authorization": header}, exclude_oauth_signature=True
        )
        normalized = oauth_signature.normalize_parameters(collected)
        sent = oauth_utils.unescape(params["oauth_signature"])
        for host in ORIGINAL_HOSTS:
            uri = oauth_signature.base_string_uri(host + request.url.path)
            base = oauth_signature.signature_base_string(request.method, uri, normalized)
            key = f"{oauth_utils.escape(consumer_secret)}&{oauth_utils.escape(token_secret)}"
            digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
            expected = base64.b64encode(digest).decode()
            if hmac.compare_digest(expected.encode(), sent.encode()):
                return True
        return False

    @staticmethod
    def _params(request: Request, allowed: frozenset[str]) -> dict[str, str]:
        params = dict(request.query_params)
        _check_params(params, allowed)
        return params

    @staticmethod
    def _fields(params: dict[str, str]) -> _Fields:
        return _Fields(
            expansions=_csv(params, "expansions", EXPANSIONS),
            tweet_fields=_csv(params, "tweet.fields", TWEET_FIELDS),
            user_fields=_csv(params, "user.fields", USER_FIELDS),
        )

    @staticmethod
    def _error_response(error: _XError) -> Response:
        return _json_response(error.body, error.status, error.headers)

    async def _search(self, request: Request) -> Response:
        try:
            headers = self._prelude(request, "search", "search", "app_or_user")
            with self._cond:
                return _json_response(self._search_body(request), 200, headers)
        except _XError as error:
            return self._error_response(error)

    def _search_body(self, request: Request) -> dict[str, Any]:
        params = self._params(request, SEARCH_PARAMS)
        query = params.get("query", "")
        if not query.strip():
            raise _bad_param("query", query, "The `query` query parameter can not be empty")
        if len(query) > self.max_query_length:
            raise _bad_param(
                "query",
                query,
                f"The `query` query parameter value [{query}] exceeds the maximum length of "
                f"{self.max_query_length} characters",
            )
        try:
            node = parse_query(query)
        except _QueryError as error:
            raise _bad_param(
                "query", query, f"There were errors processing your request: {error}"
            ) from None
        raw_max = params.get("max_results", "10")
        if not raw_max.isdigit() or not 10 <= int(raw_max) <= 100:
            raise _bad_param(
                "max_results",
                raw_max,
                f"The `max_results` query parameter value [{raw_max}] is not between 10 and 100",
            )
        max_results = int(raw_max)
        sort_order = params.get("sort_order", "recency")
        if sort_order not in ("recency", "relevancy"):
            raise _bad_param(
                "sort_order",
                sort_order,
                f"The `sort_order` query parameter value [{sort_order}] is not one of "
                "[recency, relevancy]",
            )
        since_id = _id_param(params, "since_id")
        until_id = _id_param(params, "until_id")
        start_time = end_time = None
        for name in ("start_time", "end_time"):
            if name in params:
                try:
                    moment = _parse_time(params[name])
                except ValueError:
                    raise _bad_param(
                        name,
                        params[name],
                        f"The `{name}` query parameter value [{params[name]}] is not a valid "
                        "RFC3339 date-time",
                    ) from None
                if name == "start_time":
                    start_time = moment
                else:
                    end_time = moment
        cursor = None
        token = params.get("next_token") or params.get("pagination_token")
        if token is not None:
            cursor = self._next_tokens.get(token)
            if cursor is None:
                raise _bad_param(
                    "next_token",
                    token,
                    f"The `next_token` query parameter value [{token}] is invalid",
                )
        fields = self._fields(params)

        page: list[FakeTweet] = []
        more = False
        for tweet in sorted(self._tweets.values(), key=lambda t: int(t.id), reverse=True):
            number = int(tweet.id)
            if (
                tweet.deleted
                or (since_id is not None and number <= since_id)
                or (until_id is not None and number >= until_id)
                or (cursor is not None and number >= cursor)
                or (start_time is not None and tweet.created_at < start_time)
                or (end_time is not None and tweet.created_at >= end_time)
                or (tweet.is_retweet and not self.search_returns_retweets)
                or not self._matches(node, tweet)
            ):
                continue
            if len(page) == max_results:
                more = True
                break
            page.append(tweet)
        if not page:
            return {"meta": {"result_count": 0}}
        body: dict[str, Any] = {"data": [self._render_tweet(t, fields.tweet_fields) for t in page]}
        includes = self._includes(page, fields)
        if includes:
            body["includes"] = includes
        meta: dict[str, Any] = {
            "newest_id": page[0].id,
            "oldest_id": page[-1].id,
            "result_count": len(page),
        }
        if more:
            token = "".join(self._rng.choices(string.ascii_lowercase + string.digits, k=36))
            self._next_tokens[token] = int(page[-1].id)
            meta["next_token"] = token
        body["meta"] = meta
        return body

    async def _get_rules(self, request: Request) -> Response:
        try:
            headers = self._prelude(request, "rules", "rules_get", "app")
            params = self._params(request, frozenset({"ids", "max_results", "pagination_token"}))
            with self._cond:
                rules = list(self._rules.values())
            if "ids" in params:
                wanted = set(params["ids"].split(","))
                rules = [rule for rule in rules if rule.id in wanted]
            body: dict[str, Any] = {}
            if rules:
                body["data"] = [rule.as_json() for rule in rules]
            body["meta"] = {"sent": _iso(datetime.now(UTC)), "result_count": len(rules)}
            return _json_response(body, 200, headers)
        except _XError as error:
            return self._error_response(error)

    async def _post_rules(self, request: Request) -> Response:
        try:
            headers = self._prelude(request, "rules", "rules_post", "app")
            params = self._params(request, frozenset({"dry_run", "delete_all"}))
            dry_run = params.get("dry_run", "false").lower() == "true"
            try:
                payload = json.loads(await request.body())
            except ValueError:
                raise _XError(400, invalid_request("Request body is not valid JSON", {})) from None
            if not isinstance(payload, dict) or len(payload.keys() & {"add", "delete"}) != 1:
                raise _XError(
                    400,
                    invalid_request(
                        "The request body must contain exactly one of `add` or `delete`", {}
                    ),
                )
            with self._cond:
                if "add" in payload:
                    status, body = self._add_rules(payload["add"], dry_run)
                else:
                    status, body = self._delete_rules(payload["delete"], dry_run)
                self._cond.notify_all()
            return _json_response(body, status, headers)
        except _XError as error:
            return self._error_response(error)

    def _add_rules(self, items: Any, dry_run: bool) -> tuple[int, dict[str, Any]]:
        if not isinstance(items, list) or not items:
            raise _XError(400, invalid_request("`add` must be a non-empty array of rules", {}))
        created: list[_Rule] = []
        errors: list[dict[str, Any]] = []
        by_value = {rule.value: rule for rule in self._rules.values()}
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                raise _XError(400, invalid_request("Each rule needs a string `value`", {}))
            value, tag = item["value"], item.get("tag")
            if value in by_value:
                errors.append(
                    {
                        "value": value,
                        "id": by_value[value].id,
                        "title": "DuplicateRule",
                        "type": "https://api.twitter.com/2/problems/duplicate-rules",
                    }
                )
                continue
            try:
                rule = self._make_rule(value, tag)
            except _QueryError as error:
                errors.append(
                    {
                        "value": value,
                        "details": [str(error)],
                        "title": "UnprocessableEntity",
                        "type": "https://api.twitter.com/2/problems/invalid-rules",
                    }
                )
                continue
            created.append(rule)
            by_value[value] = rule
        if not dry_run:
            for rule in created:
                self._rules[rule.id] = rule
        body: dict[str, Any] = {}
        if created:
            body["data"] = [rule.as_json() for rule in created]
        body["meta"] = {
            "sent": _iso(datetime.now(UTC)),
            "summary": {
                "created": len(created),
                "not_created": len(errors),
                "valid": len(created),
                "invalid": len(errors),
            },
        }
        if errors:
            body["errors"] = errors
        return 201, body

    def _delete_rules(self, spec: Any, dry_run: bool) -> tuple[int, dict[str, Any]]:
        if not isinstance(spec, dict) or not (spec.get("ids") or spec.get("values")):
            raise _XError(400, invalid_request("`delete` needs `ids` or `values`", {}))
        wanted_ids = [str(i) for i in spec.get("ids") or []]
        wanted_values = set(spec.get("values") or [])
        deleted = [
            rule
            for rule in self._rules.values()
            if rule.id in wanted_ids or rule.value in wanted_values
        ]
        missing = [i for i in wanted_ids if i not in self._rules] + [
            v for v in wanted_values if v not in {r.value for r in self._rules.values()}
        ]
        if not dry_run:
            for rule in deleted:
                del self._rules[rule.id]
        body: dict[str, Any] = {
            "meta": {
                "sent": _iso(datetime.now(UTC)),
                "summary": {"deleted": len(deleted), "not_deleted": len(missing)},
            }
        }
        if missing:
            body["errors"] = [
                {
                    "errors": [{"parameters": {}, "message": "Rule does not exist"}],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": _INVALID_REQUEST,
                }
                for _ in missing
            ]
        return 200, body

    async def _stream(self, request: Request) -> Any:
        try:
            headers = self._prelude(request, "stream", "stream", "app")
            params = self._params(request, STREAM_PARAMS)
            fields = self._fields(params)
            backfill = params.get("backfill_minutes")
            if backfill is not None and (not backfill.isdigit() or not 1 <= int(backfill) <= 5):
                raise _bad_param(
                    "backfill_minutes",
                    backfill,
                    f"The `backfill_minutes` query parameter value [{backfill}] is not between "
                    "1 and 5",
                )
            with self._cond:
                if not self._rules:
                    raise _XError(
                        409,
                        {
                            "title": "ConnectionException",
                            "detail": "This stream has no rules. Add rules with POST "
                            "/2/tweets/search/stream/rules before connecting.",
                            "type": "https://api.twitter.com/2/problems/streaming-connection",
                            "status": 409,
                        },
                    )
            conn = _StreamConnection(asyncio.get_running_loop(), fields)
            # A client that just hung up may not be noticed yet: give it a moment.
            deadline = time.monotonic() + self.stream_connection_grace
            while True:
                with self._cond:
                    if len(self._streams) < self.max_stream_connections:
                        self._streams.append(conn)
                        self._stream_connects += 1
                        if backfill is not None:
                            self._backfill(conn, int(backfill))
                        self._cond.notify_all()
                        return _StreamResponse(self, conn, headers)
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.02)
            raise _XError(
                429,
                {
                    "title": "ConnectionException",
                    "detail": "This stream is currently at the maximum allowed connection limit.",
                    "connection_issue": "TooManyConnections",
                    "type": "https://api.twitter.com/2/problems/streaming-connection",
                },
                headers,
            )
        except _XError as error:
            return self._error_response(error)

    async def _create_tweet(self, request: Request) -> Response:
        try:
            headers = self._prelude(request, "tweets", "tweets", "user")
            try:
                payload = json.loads(await request.body())
            except ValueError:
                raise _XError(400, invalid_request("Request body is not valid JSON", {})) from None
            with self._cond:
                data = self._create_tweet_data(payload, request.headers["authorization"])
            return _json_response({"data": data}, 201, headers)
        except _XError as error:
            return self._error_response(error)

    def _create_tweet_data(self, payload: Any, authorization: str) -> dict[str, Any]:
        allowed = {
            "text", "reply", "quote_tweet_id", "media", "poll", "reply_settings", "geo",
            "for_super_followers_only", "direct_message_deep_link", "community_id", "nullcast",
            "made_with_ai", "paid_partnership", "share_with_followers", "card_uri",
        }  # fmt: skip
        if not isinstance(payload, dict):
            raise _XError(400, invalid_request("The request body must be a JSON object", {}))
        for key in payload:
            if key not in allowed:
                raise _XError(
                    400,
                    invalid_request(
                        f"$.{key}: is not defined in the schema and the schema does not allow "
                        "additional properties",
                        {},
                    ),
                )
        text = payload.get("text")
        if text is not None and not isinstance(text, str):
            raise _XError(400, invalid_request("$.text: string expected", {}))
        if not text and "media" not in payload:
            raise _XError(400, invalid_request("$.text: must be at least 1 characters long", {}))
        text = text or ""
        if len(text) > self.max_tweet_length:
            raise _forbidden(
                "Your Tweet text is too long. For more information on how Twitter determines "
                "text length, see https://github.com/twitter/twitter-text."
            )
        reply_to = None
        reply = payload.get("reply")
        if reply is not None:
            reply_to = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
            if not isinstance(reply_to, str) or not _ID_RE.match(reply_to):
                raise _XError(
                    400,
                    invalid_request(
                        "$.reply.in_reply_to_tweet_id: string matching ^[0-9]{1,19}$ expected", {}
                    ),
                )
            parent = self._tweets.get(reply_to)
            if parent is None or parent.deleted:
                raise _forbidden(
                    "You attempted to reply to a Tweet that is deleted or not visible to you."
                )
        if self.reject_duplicate_tweets and any(
            t.author_id == self.me_id and t.text == text and not t.deleted
            for t in self._tweets.values()
        ):
            raise _forbidden("You are not allowed to create a Tweet with duplicate content.")
        tweet_id = self._store_tweet(
            text, author_id=self.me_id, created_at=None, retweet_of=None, reply_to=reply_to,
            lang="es",
        )  # fmt: skip
        self._created.append(
            CreatedTweet(tweet_id, text, reply_to, payload, authorization, time.time())
        )
        self._cond.notify_all()
        return {"id": tweet_id, "text": x_escape(text), "edit_history_tweet_ids": [tweet_id]}

    async def _me(self, request: Request) -> Response:
        try:
            headers = self._prelude(request, "me", "me", "user")
            params = self._params(request, frozenset({"expansions", "tweet.fields", "user.fields"}))
            fields = self._fields(params)
            with self._cond:
                data = self._render_user(self._users[self.me_id], fields.user_fields)
            return _json_response({"data": data}, 200, headers)
        except _XError as error:
            return self._error_response(error)

    async def _not_found(self, request: Request) -> Response:
        return _json_response(
            {
                "errors": [{"message": "Sorry, that page does not exist", "code": 34}],
                "title": "Not Found Error",
                "detail": f"No route for {request.method} {request.url.path}",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            },
            404,
        )


# --------------------------------------------------------------------------------------------
# tweepy redirection and the pytest fixture


class RedirectAdapter(requests.adapters.HTTPAdapter):
    """Sends requests for X's hosts to ``base`` instead (see the notes, section 2)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        super().__init__()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = request.url or ""
        for host in ORIGINAL_HOSTS:
            if url.startswith(host + "/"):
                request.url = self.base + url[len(host) :]
                break
        kwargs["proxies"] = {}  # ignore HTTP(S)_PROXY for loopback
        return super().send(request, **kwargs)


def redirect_tweepy(client: Any, base_url: str) -> Any:
    """Mount :class:`RedirectAdapter` on a tweepy Client/StreamingClient's session; returns it."""
    for host in ORIGINAL_HOSTS:
        client.session.mount(host + "/", RedirectAdapter(base_url))
    return client


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    """A running fake X API; ``fake_x.base_url`` is ``http://127.0.0.1:PORT``."""
    fake = FakeX()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
