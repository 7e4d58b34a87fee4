"""Who is asking: session cookies with a CSRF token for browsers, bearer tokens for tools."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection, Request

from council.errors import Forbidden, NotAuthenticated
from council.i18n import _
from council.models import Role, User
from council.moderation.accounts import touch_token, user_by_id, user_for_token
from council.services import Council

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Actor:
    id: int
    username: str
    role: str
    by_token: bool

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def council_of(connection: HTTPConnection) -> Council:
    council: Council = connection.app.state.council
    return council


def csrf_token(connection: HTTPConnection) -> str:
    session: dict[str, Any] = connection.session
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def log_in(request: Request, user: User) -> None:
    request.session.clear()
    # A fresh CSRF token per login: a token seen before login is worth nothing after it.
    request.session.update({"user_id": user.id, "csrf": secrets.token_urlsafe(32)})


def log_out(request: Request) -> None:
    request.session.clear()


def _bearer(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def current_actor(connection: HTTPConnection) -> Actor | None:
    council = council_of(connection)
    token = _bearer(connection)
    if token is not None:
        found = await council.read(user_for_token, token=token)
        if found is None:
            raise NotAuthenticated(_("That API token is not valid (revoked, or mistyped)."))
        token_user, touch_due = found
        if touch_due:
            await council.db.write(touch_token, token=token)
        return Actor(token_user.id, token_user.username, token_user.role, by_token=True)
    user_id = connection.session.get("user_id") if "session" in connection.scope else None
    if not isinstance(user_id, int):
        return None
    user = await council.read(user_by_id, user_id=user_id)
    if user is None:
        return None
    return Actor(user.id, user.username, user.role, by_token=False)


def csrf_matches(request: Request, sent: str | None) -> bool:
    expected = request.session.get("csrf") or ""
    return bool(expected) and hmac.compare_digest(str(sent or ""), str(expected))


async def check_csrf(request: Request, actor: Actor, form_token: str | None = None) -> None:
    if actor.by_token or request.method in SAFE_METHODS:
        return
    if not csrf_matches(request, request.headers.get(CSRF_HEADER) or form_token):
        raise Forbidden(
            _("This form has expired or did not come from Council. Reload the page and try again.")
        )


async def require_moderator(request: Request) -> Actor:
    """FastAPI dependency for the moderators' JSON API."""
    actor = await current_actor(request)
    if actor is None:
        raise NotAuthenticated(_("Log in as a moderator first."))
    await check_csrf(request, actor)
    return actor


async def require_admin(request: Request) -> Actor:
    actor = await require_moderator(request)
    if not actor.is_admin:
        raise Forbidden(_("Only admins can do this."))
    return actor
