"""The public question endpoint's common case, served beneath the middleware and router.

``POST /api/meetings/{slug}/submissions`` is the one request a city's residents send by
the thousand in a minute (a question asked on the live stream). Its everyday case, a
valid JSON question, needs none of what the stack around the routes does (sessions,
CSRF, routing over a hundred routes, exception translation): served here it costs
about half as much CPU (bench/intake.py's "server CPU ms/req"). The same checks run
in the same order as the FastAPI route in council/api.py, which stays the documented
one (OpenAPI) and serves everything else: any request that is not plainly valid JSON,
or whose question fails a check, goes there untouched, so there is still one place
that words a 422.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from council.api import SubmissionIn, client_key, store_question
from council.bodylimit import replaying
from council.errors import CouncilError
from council.i18n import choose, language
from council.intake import check_question
from council.jsontext import dumps as json_text
from council.services import Council

PATH = re.compile(r"/api/meetings/([A-Za-z0-9_-]{1,100})/submissions")

RenderError = Callable[[Request, Exception], Awaitable[Response]]
Headers = list[tuple[bytes, bytes]]


class IntakeFastPath:
    def __init__(
        self,
        council: Council,
        *,
        body_limit: int,
        headers: Headers,
        render_error: RenderError,
    ) -> None:
        self.council = council
        self.body_limit = body_limit
        # The headers every answer of the app carries (security, Vary): see council/app.py.
        self.headers = headers
        self.render_error = render_error

    def wants(self, scope: Scope) -> str | None:
        """The meeting's slug when this request is the common case, else None."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("query_string"):
            return None
        match = PATH.fullmatch(scope["path"])
        if match is None:
            return None
        declared = content_type = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"content-type":
                content_type = value
        if content_type is None or not content_type.startswith(b"application/json"):
            return None
        if declared is None or not declared.isdigit() or int(declared) > self.body_limit:
            return None  # chunked, or too large: BodyLimit answers that
        return match.group(1)

    async def serve(
        self, slug: str, scope: Scope, receive: Receive, send: Send, full_app: ASGIApp
    ) -> None:
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        replay = replaying(body, receive)
        try:
            given = SubmissionIn.model_validate_json(body)
        except ValidationError:
            await full_app(scope, replay, send)  # the route words the 422
            return
        with language(choose(scope, self.council.settings.default_language)):
            try:
                question = check_question(
                    name=given.name,
                    text=given.text,
                    neighborhood=given.neighborhood,
                    limits=self.council.limits,
                )
            except CouncilError:
                await full_app(scope, replay, send)
                return
            request = Request(scope, replay)
            try:
                received = await store_question(
                    self.council,
                    slug=slug,
                    client=client_key(request),
                    question=question,
                    honeypot=given.website,
                )
            except Exception as failed:
                response = await self.render_error(request, failed)
                await response(scope, replay, self._with_headers(send))
                return
            answer = json_text(
                {
                    "id": received.id,
                    "status": "pending",
                    "track_url": f"{_base_url(scope)}t/{received.track_token}",
                }
            ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(answer)).encode()),
                    *self.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    def _with_headers(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        return sending


def _base_url(scope: Scope) -> str:
    """What Starlette's ``request.base_url`` gives, without building two URL objects."""
    host = next((v for k, v in scope["headers"] if k == b"host"), None)
    if host is not None:
        netloc = host.decode("latin-1")
    else:
        server_host, port = scope.get("server") or ("localhost", 80)
        netloc = f"{server_host}:{port}"
    return f"{scope.get('scheme', 'http')}://{netloc}{scope.get('root_path', '')}/"


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
