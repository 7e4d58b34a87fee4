"""Moderator and admin accounts, their passwords (argon2) and API tokens (stored hashed)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from council.errors import Conflict, InvalidInput, NotFound
from council.i18n import _
from council.models import ApiToken, Role, User, utcnow

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,80}$")
MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def add_user(session: Session, *, username: str, password: str | None, role: str) -> User:
    if not USERNAME.match(username):
        raise InvalidInput(
            _("A user name is 1-80 letters, digits, dots, dashes, underscores or @.")
        )
    if role not in {r.value for r in Role}:
        raise InvalidInput(_("Role must be admin or moderator, not “{role}”.").format(role=role))
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            _("The password is too short: at least {n} characters.").format(n=MIN_PASSWORD_LENGTH)
        )
    user = User(
        username=username,
        password_hash=_hasher.hash(password) if password else None,
        role=role,
        active=True,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(_("A user “{name}” exists already.").format(name=username)) from exc
    return user


def get_user(session: Session, *, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        raise NotFound(_("There is no user “{name}”.").format(name=username))
    return user


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    user = session.scalars(
        select(User).where(User.username == username, User.active.is_(True))
    ).one_or_none()
    try:
        _hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user if user and user.password_hash else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, username: str) -> str:
    """A new API token for ``username``; only its hash is kept, so it is shown once."""
    user = get_user(session, username=username)
    token = "council_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token)))
    return token


# How stale "last used" may get: recording every request would cost a commit (an fsync)
# on each moderator action made with a token.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class TokenHolder:
    id: int
    username: str
    role: str


def user_for_token(session: Session, *, token: str) -> tuple[TokenHolder, bool] | None:
    """The token's user, and whether its "last used" time is due to be recorded."""
    row = session.connection().execute(_token_holder(), {"digest": _digest(token)}).one_or_none()
    if row is None or not row.active:
        return None
    due = row.last_used_at is None or utcnow() - row.last_used_at > TOKEN_TOUCH_INTERVAL
    return TokenHolder(int(row.id), row.username, row.role), due


@cache
def _token_holder() -> Select[int, str, str, bool, datetime | None]:
    # This read comes before every action a tool makes with a token, the chamber waiting
    # on it (bench/fanout.py's approve): columns, not ORM objects, and one statement built
    # once, run on the session's connection. Through the ORM's execute it took twice as
    # long, ~1.4 ms, on a machine that had been idle a moment, as a moderator's is.
    return (
        select(User.id, User.username, User.role, User.active, ApiToken.last_used_at)
        .join(ApiToken.user)
        .where(ApiToken.token_hash == bindparam("digest"))
    )


def user_by_id(session: Session, *, user_id: int) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def touch_token(session: Session, *, token: str) -> None:
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(token))).one()
    row.last_used_at = utcnow()
