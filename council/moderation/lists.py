"""The word lists triage works from: categories with their keywords, and profanity.

Council ships them in Spanish and English (``council/moderation/data/``); an admin's
edit is stored in the database (table ``triage_lists``) and applies from the next
question on. Removing the edit brings back the shipped lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy.orm import Session

from council.errors import InvalidInput
from council.i18n import _
from council.models import TriageList, utcnow
from council.moderation.context import triage_of
from council.moderation.textfold import Matcher

CATEGORIES = "categories"
PROFANITY = "profanity"
LANGUAGES = ("es", "en")
# The category a question gets when no keyword matches (if the town keeps it).
CATCH_ALL = "other"

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_CATEGORIES = 40
MAX_TERMS = 1000
MAX_TERM_LENGTH = 60
MAX_LABEL_LENGTH = 60


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    keywords: tuple[str, ...]

    def view(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "keywords": list(self.keywords)}


def default_label(key: str) -> str:
    labels = {
        "lighting": _("Lighting"),
        "water": _("Water"),
        "streets": _("Streets"),
        "police": _("Police"),
        "events": _("Events"),
        "other": _("Other"),
    }
    return labels.get(key, key)


def _data(name: str) -> list[str]:
    text = resources.files("council.moderation").joinpath("data", name).read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@cache
def _shipped_keywords() -> dict[str, tuple[str, ...]]:
    keywords: dict[str, list[str]] = {}
    for language in LANGUAGES:
        for line in _data(f"keywords.{language}.txt"):
            key, _sep, terms = line.partition(":")
            keywords.setdefault(key.strip(), []).extend(
                t.strip() for t in terms.split(",") if t.strip()
            )
    return {key: tuple(dict.fromkeys(terms)) for key, terms in keywords.items()}


def shipped_categories() -> list[Category]:
    keywords = _shipped_keywords()
    keys = [*keywords, CATCH_ALL] if CATCH_ALL not in keywords else list(keywords)
    return [Category(key, default_label(key), keywords.get(key, ())) for key in keys]


@cache
def shipped_profanity() -> tuple[str, ...]:
    return tuple(dict.fromkeys(w for lang in LANGUAGES for w in _data(f"profanity.{lang}.txt")))


def _stored(session: Session, name: str) -> TriageList | None:
    return session.get(TriageList, name)


def categories(session: Session) -> list[Category]:
    row = _stored(session, CATEGORIES)
    if row is None:
        return shipped_categories()
    return [
        Category(c["key"], c.get("label") or default_label(c["key"]), tuple(c.get("keywords", [])))
        for c in row.value
    ]


def profanity(session: Session) -> tuple[str, ...]:
    row = _stored(session, PROFANITY)
    return shipped_profanity() if row is None else tuple(row.value)


def is_edited(session: Session, name: str) -> bool:
    return _stored(session, name) is not None


# -- compiled, cached by the version they were built from --------------------------------------


def category_matchers(session: Session) -> list[tuple[Category, Matcher]]:
    row = _stored(session, CATEGORIES)
    version = row.updated_at.isoformat() if row is not None else "shipped"
    triage = triage_of(session)
    cached = triage.compiled.get(CATEGORIES)
    if cached is not None and cached[0] == version:
        found: list[tuple[Category, Matcher]] = cached[1]
        return found
    built = [(c, Matcher.build(c.keywords)) for c in categories(session)]
    triage.compiled[CATEGORIES] = (version, built)
    return built


def profanity_matcher(session: Session) -> Matcher:
    row = _stored(session, PROFANITY)
    version = row.updated_at.isoformat() if row is not None else "shipped"
    triage = triage_of(session)
    cached = triage.compiled.get(PROFANITY)
    if cached is not None and cached[0] == version:
        found: Matcher = cached[1]
        return found
    built = Matcher.build(profanity(session))
    triage.compiled[PROFANITY] = (version, built)
    return built


# -- an admin's edits -------------------------------------------------------------------------


def split_terms(text: str) -> list[str]:
    """Terms as typed in a box: separated by commas or new lines, blanks dropped."""
    return [t.strip() for t in re.split(r"[,\n;]", text) if t.strip()]


def _check_terms(terms: list[str], where: str) -> list[str]:
    if len(terms) > MAX_TERMS:
        raise InvalidInput(
            _("{where}: at most {n} words or phrases.").format(where=where, n=MAX_TERMS)
        )
    for term in terms:
        if len(term) > MAX_TERM_LENGTH:
            raise InvalidInput(
                _("{where}: “{term}” is too long: at most {n} characters.").format(
                    where=where, term=term[:80], n=MAX_TERM_LENGTH
                )
            )
    return list(dict.fromkeys(terms))


def _save(session: Session, name: str, value: Any, actor: str | None) -> None:
    row = _stored(session, name)
    if row is None:
        session.add(TriageList(name=name, value=value, updated_by=actor, updated_at=utcnow()))
    else:
        row.value = value
        row.updated_by = actor
        row.updated_at = utcnow()


def save_categories(
    session: Session, *, categories: list[dict[str, Any]], actor: str | None = None
) -> list[Category]:
    """Replace the town's categories: ``[{"key", "label", "keywords": [..]}]`` in order."""
    if not categories:
        raise InvalidInput(_("Keep at least one category."))
    if len(categories) > MAX_CATEGORIES:
        raise InvalidInput(_("At most {n} categories.").format(n=MAX_CATEGORIES))
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in categories:
        key = str(entry.get("key", "")).strip().lower()
        if not KEY.match(key):
            raise InvalidInput(
                _(
                    "“{key}” cannot be a category's key: use lowercase letters, digits, dashes "
                    "or underscores, 32 at most, like “parks”."
                ).format(key=key[:40])
            )
        if key in seen:
            raise InvalidInput(_("The category “{key}” is listed twice.").format(key=key))
        seen.add(key)
        label = " ".join(str(entry.get("label") or "").split()) or default_label(key)
        if len(label) > MAX_LABEL_LENGTH:
            raise InvalidInput(
                _("The name of “{key}” is too long: at most {n} characters.").format(
                    key=key, n=MAX_LABEL_LENGTH
                )
            )
        keywords = _check_terms([str(t) for t in entry.get("keywords", [])], label)
        cleaned.append({"key": key, "label": label, "keywords": keywords})
    _save(session, CATEGORIES, cleaned, actor)
    session.flush()
    return [Category(c["key"], c["label"], tuple(c["keywords"])) for c in cleaned]


def save_profanity(session: Session, *, words: list[str], actor: str | None = None) -> None:
    _save(session, PROFANITY, _check_terms(words, _("Profanity")), actor)
    session.flush()


def reset(session: Session, *, name: str, actor: str | None = None) -> None:
    """Back to the shipped list."""
    if name not in (CATEGORIES, PROFANITY):
        raise InvalidInput(_("Unknown list {name!r}.").format(name=name))
    row = _stored(session, name)
    if row is not None:
        session.delete(row)
        session.flush()
