"""A small stand-in X API v2 on 127.0.0.1: recent search only, for ``council demo``.

It answers what Council's X collector asks (``GET /2/tweets/search/recent`` with a
``#tag`` query, ``since_id`` or ``start_time``, ``max_results``, ``next_token``,
``expansions=author_id``) in X's JSON shapes: newest first, HTML-encoded text, the
authors under ``includes.users``, and ``meta`` describing the page. The tests use the
complete fake in ``tests/fakes/x_api.py``; this one only has to make the demo real.
"""

from __future__ import annotations

import html
import itertools
import re
import threading
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from council.sandbox.server import ServerThread

__all__ = ["SandboxX"]

FIRST_ID = 1_900_000_000_000_000_000
_QUERY_TAG = re.compile(r"#(\w+)")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class SandboxX:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tweets: list[dict[str, Any]] = []
        self._users: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(FIRST_ID)
        self.app = Starlette(routes=[Route("/2/tweets/search/recent", self._search)])
        self._server = ServerThread(self.app, "sandbox-x")

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def start(self) -> SandboxX:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def post(self, text: str, *, username: str, name: str) -> str:
        with self._lock:
            user = self._users.setdefault(
                username.lower(),
                {
                    "id": str(len(self._users) + 1000),
                    "username": username,
                    "name": name,
                    "profile_image_url": None,
                },
            )
            tweet_id = str(next(self._ids))
            self._tweets.append(
                {
                    "id": tweet_id,
                    "text": text,
                    "author_id": user["id"],
                    "created_at": datetime.now(UTC),
                    "tags": {t.lower() for t in re.findall(r"#(\w+)", text)},
                }
            )
            return tweet_id

    async def _search(self, request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse(
                {
                    "title": "Unauthorized",
                    "type": "about:blank",
                    "status": 401,
                    "detail": "Unauthorized",
                },
                status_code=401,
            )
        params = request.query_params
        wanted = {t.lower() for t in _QUERY_TAG.findall(params.get("query", ""))}
        since_id = int(params.get("since_id") or 0)
        start = params.get("start_time")
        start_at = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
        until = int(params.get("next_token") or 0)
        size = min(max(int(params.get("max_results") or 10), 10), 100)
        with self._lock:
            found = [
                t
                for t in reversed(self._tweets)
                if t["tags"] & wanted
                and int(t["id"]) > since_id
                and (start_at is None or t["created_at"] >= start_at)
                and (not until or int(t["id"]) < until)
            ]
            page, more = found[:size], len(found) > size
            users = {t["author_id"] for t in page}
            includes = [u for u in self._users.values() if u["id"] in users]
        if not page:
            return JSONResponse({"meta": {"result_count": 0}})
        meta: dict[str, Any] = {
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
            "result_count": len(page),
        }
        if more:
            meta["next_token"] = page[-1]["id"]
        data = [
            {
                "id": t["id"],
                "text": html.escape(t["text"], quote=False),
                "author_id": t["author_id"],
                "created_at": _iso(t["created_at"]),
                "edit_history_tweet_ids": [t["id"]],
            }
            for t in page
        ]
        users_json = [{k: v for k, v in u.items() if v is not None} for u in includes]
        return JSONResponse({"data": data, "includes": {"users": users_json}, "meta": meta})
