"""Translation: every user-facing string goes through ``_`` (Python) or ``{{ _() }}`` (Jinja).

Catalogs live in ``council/locale/<lang>/LC_MESSAGES/council.mo``; a language
without a catalog falls back to the English source strings.

The language is a ContextVar, so each request (and each websocket) has its own:
:class:`LanguageMiddleware` chooses it from ``?lang=``, then the ``council_lang``
cookie, then ``Accept-Language``, then ``COUNCIL_DEFAULT_LANGUAGE``. Work handed to
other threads must carry the caller's context (council/db.py runs each write and
each pooled read in a copy of it), or its error messages come out in the wrong language.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import lru_cache
from http.cookies import SimpleCookie
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Babel is imported where it is used: every `council` command imports this module, and
# `council --help` should answer at once.

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "council"
# The languages a page can be shown in, each named in itself for the switch in the header.
LANGUAGES: dict[str, str] = {"es": "Español", "en": "English"}
COOKIE = "council_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

_current: ContextVar[str] = ContextVar("council_language", default="en")


@lru_cache(maxsize=16)
def translations(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True)


def set_language(language: str) -> None:
    _current.set(language)


def current_language() -> str:
    return _current.get()


@contextmanager
def language(code: str) -> Iterator[None]:
    """Speak ``code`` inside the block, whatever the request chose (the chamber screen)."""
    token = _current.set(code)
    try:
        yield
    finally:
        _current.reset(token)


def _(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


# -- choosing the language -----------------------------------------------------------------------


def supported(code: str | None) -> str | None:
    """``code`` if Council speaks it ("es", "ES", "es-MX" all give "es"), else None."""
    if not code:
        return None
    base = code.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


@lru_cache(maxsize=512)
def from_accept_language(header: str) -> str | None:
    """The best of our languages for an ``Accept-Language`` header, or None."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _sep, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, index, tag))
    from babel.core import negotiate_locale

    preferred = [tag for _q, _i, tag in sorted(weighted)]
    found = negotiate_locale(preferred, list(LANGUAGES), sep="-")
    return supported(found)


def _headers(scope: Scope) -> dict[str, str]:
    # Only the two that choose a language: decoding every header of every request (and a
    # question's POST is the request a city sends by the thousand) costs more than choosing.
    # ASGI gives header names in lower case.
    return {
        raw.decode("latin-1"): value.decode("latin-1")
        for raw, value in scope.get("headers", [])
        if raw in (b"cookie", b"accept-language")
    }


def _query_language(scope: Scope) -> str | None:
    query = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(query):
        if key == "lang":
            return supported(value)
    return None


def _cookie_language(headers: dict[str, str]) -> str | None:
    raw = headers.get("cookie")
    return _language_in_cookie(raw) if raw else None


@lru_cache(maxsize=512)
def _language_in_cookie(raw: str) -> str | None:
    # Cached like the Accept-Language choice: every request of a page's visitors asks again.
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(raw)
    except Exception:  # a malformed Cookie header from some client: ignore it, not the request
        return None
    morsel = cookie.get(COOKIE)
    return supported(morsel.value) if morsel is not None else None


def choose(scope: Scope, default: str) -> str:
    """``?lang=``, then the remembered cookie, then ``Accept-Language``, then ``default``."""
    headers = _headers(scope)
    return (
        _query_language(scope)
        or _cookie_language(headers)
        or from_accept_language(headers.get("accept-language", ""))
        or supported(default)
        or "en"
    )


# Every page and answer depends on the language: shared caches (deploy/nginx.conf) must
# keep one copy per language.
VARY_LANGUAGE = (b"vary", b"Accept-Language, Cookie")


class LanguageMiddleware:
    """Sets the language for each HTTP request and websocket; remembers ``?lang=`` in a cookie.

    Plain ASGI rather than BaseHTTPMiddleware: routes run in this very task, so the
    ContextVar set here is the one they (and the exception handlers inside) read.
    """

    def __init__(self, app: ASGIApp, *, default: str, secure: bool = False) -> None:
        self.app = app
        self.default = default
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        chosen = choose(scope, self.default)
        switched = _query_language(scope)
        static = scope.get("path", "").startswith("/static/")

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start" and not static:
                headers = message.setdefault("headers", [])
                # Shared caches (deploy/nginx.conf) must keep one copy per language.
                headers.append(VARY_LANGUAGE)
                if switched is not None:
                    headers.append((b"set-cookie", self._cookie(switched).encode("latin-1")))
            await send(message)

        token = _current.set(chosen)
        try:
            if scope["type"] == "http":
                await self.app(scope, receive, send_with_language)
            else:
                await self.app(scope, receive, send)
        finally:
            _current.reset(token)

    def _cookie(self, code: str) -> str:
        parts = [f"{COOKIE}={code}", "Path=/", f"Max-Age={COOKIE_MAX_AGE}", "SameSite=Lax"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


def switch_links(path: str, query: str) -> list[dict[str, str | bool]]:
    """The header's language links: the same page (path and query) in each language."""
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "lang"]
    # Our own pages only: "//evil.example" (a 404's path) would be another site's address.
    path = quote(path, safe="/:@!$'()*+,;=-._~")
    if not path.startswith("/") or path.startswith("//"):
        path = "/"
    current = current_language()
    return [
        {
            "code": code,
            "name": name,
            "href": f"{path}?{urlencode([*kept, ('lang', code)])}",
            "current": code == current,
        }
        for code, name in LANGUAGES.items()
    ]


# -- dates and numbers in the reader's locale ----------------------------------------------------


def _as_datetime(value: datetime | date | str) -> datetime | date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # Council stores UTC
    return value


def format_datetime(value: datetime | date | str | None, *, tz: bool = True) -> str:
    """Medium date and short time: "Dec 2, 2026, 7:05 PM UTC" / "2 dic 2026, 19:05 UTC"."""
    from babel.dates import format_date, format_time, get_datetime_format

    if value is None or value == "":
        return ""
    when = _as_datetime(value)
    locale = current_language()
    if not isinstance(when, datetime):
        return format_date(when, "medium", locale=locale)
    text = str(get_datetime_format("medium", locale=locale)).format(
        format_time(when, "short", tzinfo=UTC, locale=locale),
        format_date(when.astimezone(UTC), "medium", locale=locale),
    )
    return f"{text} UTC" if tz else text


def format_day(value: datetime | date | str | None) -> str:
    """A day, long: "December 2, 2026" / "2 de diciembre de 2026"."""
    from babel.dates import format_date

    if value is None or value == "":
        return ""
    when = _as_datetime(value)
    if isinstance(when, datetime):
        when = when.astimezone(UTC).date()
    return format_date(when, "long", locale=current_language())


def format_number(value: float | int | None) -> str:
    """1,234.5 / 1234,5 (Spanish groups only from five digits, as the RAE says)."""
    from babel.numbers import format_decimal

    if value is None:
        return ""
    return format_decimal(value, locale=current_language())
