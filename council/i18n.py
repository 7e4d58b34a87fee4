"""Translation: every user-facing string goes through ``_`` (Python) or ``{{ _() }}`` (Jinja).

Catalogs live in ``council/locale/<lang>/LC_MESSAGES/council.mo``; a language
without a catalog falls back to the English source strings.
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "council"

_current: ContextVar[str] = ContextVar("council_language", default="en")


@lru_cache(maxsize=16)
def translations(language: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language], fallback=True)


def set_language(language: str) -> None:
    _current.set(language)


def _(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)
