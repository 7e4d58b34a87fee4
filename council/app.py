"""``create_app(settings)`` builds everything: nothing is created at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from council import __version__, api, health, pages, screen_api, vote_api
from council.archive import pages as archive_pages
from council.archive import routes as archive_routes
from council.archive.manager import RecorderManager
from council.bodylimit import BodyLimit
from council.collectors.base import CollectorManager
from council.collectors.replies import ReplyWorker, reply_senders
from council.collectors.sources import collector_factories
from council.db import upgrade
from council.errors import CouncilError
from council.health import Metrics
from council.i18n import VARY_LANGUAGE, LanguageMiddleware, _, choose, language, set_language
from council.intake_http import IntakeFastPath
from council.leases import Lease
from council.live import sockets
from council.live.relay import RedisRelay
from council.live.tail import EventTail
from council.moderation import routes as triage_routes
from council.moderation.screen import DelayedShows
from council.resources import resource_dir
from council.services import Council
from council.settings import Settings
from council.templating import make_templates
from council.validation import readable_validation_error
from council.votes import Votes

log = logging.getLogger("council")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self' ws: wss:; media-src 'self' blob: https:; object-src 'none'; "
    "frame-src https:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """A strict CSP means that even an escaping slip could not run a script from a question."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).extend(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CouncilApp(FastAPI):
    """FastAPI, with the public websocket served beneath the middleware.

    That socket fans out to every phone and projector: it needs no session, and each
    layer of ``send`` wrapping costs time per client per message (bench/fanout.py).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and await sockets.public_socket(
            self.state.council, scope, receive, send
        ):
            return
        # Residents' questions, the request a city sends by the thousand: council/intake_http.py.
        fast: IntakeFastPath = self.state.intake_fast_path
        slug = fast.wants(scope)
        if slug is not None:
            scope["app"] = self  # what Starlette would set: the error pages read it
            await fast.serve(slug, scope, receive, send, super().__call__)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    set_language(settings.default_language)
    if settings.auto_migrate:
        upgrade(settings.resolved_database_url)
    council = Council.build(settings)
    # Work that must run in one worker of a cluster at a time (council/leases.py).
    leases = {
        name: Lease(council, name, ttl_seconds=settings.lease_seconds)
        for name in ("collectors", "replies", "recorder")
    }
    collectors = CollectorManager(
        council,
        collector_factories(council),
        lead_minutes=settings.x_start_minutes_before,
        lease=leases["collectors"],
    )
    reply_worker = ReplyWorker(council, reply_senders(settings), lease=leases["replies"])
    recorders = RecorderManager(council, lease=leases["recorder"])
    tail = EventTail(council)
    relay = (
        RedisRelay(settings.redis_url, council.hub, database_url=settings.resolved_database_url)
        if settings.redis_url
        else None
    )
    delayed_shows = DelayedShows(council)
    votes = Votes.build(council)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The background tasks started here (collectors, replies) inherit this context:
        # without a request, they speak the server's language.
        set_language(settings.default_language)
        council.hub.start()
        council.arrivals.start()
        if relay is not None:
            await relay.start()
        await tail.start()
        for lease in leases.values():
            await lease.start()
        collectors.start()
        reply_worker.start()
        recorders.start()
        delayed_shows.start()
        votes.feed.start()
        try:
            yield
        finally:
            await council.arrivals.stop()
            await votes.feed.stop()
            await delayed_shows.stop()
            await recorders.stop()
            await tail.stop()
            if relay is not None:
                await relay.stop()
            await reply_worker.stop()
            await collectors.stop()
            for lease in leases.values():
                await lease.stop()
            await council.hub.stop()
            council.db.close()

    app = CouncilApp(
        title="Council",
        version=__version__,
        description="Residents' questions, moderated, on the council chamber screen.",
        lifespan=lifespan,
    )
    app.state.council = council
    app.state.relay = relay
    app.state.metrics = Metrics(council.hub)
    app.state.collectors = collectors
    app.state.leases = leases
    app.state.votes = votes
    app.state.templates = make_templates(settings)
    app.state.intake_fast_path = IntakeFastPath(
        council,
        body_limit=settings.max_body_bytes,
        headers=[*SECURITY_HEADERS, VARY_LANGUAGE],
        render_error=_render_error,
    )

    # Before api.router: its /submissions/{id}/{action} would take categorize and move.
    app.include_router(triage_routes.router)
    app.include_router(health.router)
    app.include_router(api.router)
    app.include_router(screen_api.router)
    app.include_router(vote_api.router)
    app.include_router(archive_routes.router)
    app.include_router(archive_pages.router)
    app.router.routes.append(
        WebSocketRoute("/ws/meetings/{slug}/moderation", sockets.ModerationSocket())
    )
    app.router.routes.append(WebSocketRoute("/ws/track/{token}", sockets.TrackingSocket()))
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=resource_dir("static")), name="static")

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key(),
        session_cookie="council_session",
        same_site="lax",
        https_only=settings.secure_cookies,
        max_age=12 * 3600,
    )
    # Inside the session, outside the routes and their exception handlers: each request's
    # pages, 422 details and websockets speak its language (council/i18n.py).
    app.add_middleware(
        LanguageMiddleware, default=settings.default_language, secure=settings.secure_cookies
    )
    app.add_middleware(SecurityHeaders)
    # Outermost: an oversized body is refused before sessions or routes touch it.
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    app.add_exception_handler(CouncilError, _council_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    return app


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory`` and ``council serve``: settings from the environment."""
    return create_app(Settings())


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def _error_response(request: Request, status: int, body: dict[str, Any]) -> Response:
    headers = {}
    if "retry_after" in body:
        headers["Retry-After"] = str(body["retry_after"])
    if _wants_json(request):
        return JSONResponse(body, status_code=status, headers=headers)
    return pages.error_page(request, status=status, message=str(body["detail"]), headers=headers)


async def _council_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CouncilError)
    return _error_response(request, exc.status_code, exc.to_json())


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return _error_response(request, 422, readable_validation_error(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = {
        404: _("There is nothing at this address."),
        405: _("This address does not accept that kind of request."),
    }.get(exc.status_code, str(exc.detail))
    return _error_response(request, exc.status_code, {"detail": message, "code": "http"})


async def _render_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, CouncilError):
        return await _council_error(request, exc)
    return await _unexpected_error(request, exc)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    # Starlette answers a 500 from its outermost layer, where the language middleware has
    # already finished: choose again for this request.
    settings = request.app.state.council.settings
    with language(choose(request.scope, settings.default_language)):
        return _error_response(
            request,
            500,
            {
                "detail": _(
                    "Something went wrong on our side. Nothing you sent was lost; try again."
                ),
                "code": "error",
            },
        )
