"""What triage needs beside a session: the server's settings and its small caches.

Domain functions get only a session and keyword arguments, so ``Council.build``
hangs one :class:`Triage` on the session factory's ``info``; every session of
that app finds it there. A session made some other way (a script, a bare
``Database``) gets the defaults, so the domain code never depends on the app.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from council.settings import Settings

INFO_KEY = "council_triage"


@dataclass(frozen=True)
class Weights:
    """How many points each part of the priority score is worth (COUNCIL_PRIORITY_*)."""

    verified: float = 5.0
    asked: float = 3.0
    votes: float = 1.0
    age_per_minute: float = 0.2

    @classmethod
    def from_settings(cls, settings: Settings) -> Weights:
        return cls(
            verified=settings.priority_verified_weight,
            asked=settings.priority_asked_weight,
            votes=settings.priority_vote_weight,
            age_per_minute=settings.priority_age_weight,
        )

    def view(self) -> dict[str, float]:
        return {
            "verified": self.verified,
            "asked": self.asked,
            "votes": self.votes,
            "age_per_minute": self.age_per_minute,
        }


@dataclass
class Triage:
    weights: Weights = field(default_factory=Weights)
    duplicate_threshold: float = 80.0
    long_characters: int = 280
    # Folded original texts by submission id. The original text never changes, so an entry
    # never goes stale; which questions are open is always read from the database.
    folded: dict[int, str] = field(default_factory=dict)
    # Compiled word lists, by the stored list they came from (council/moderation/lists.py).
    compiled: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings) -> Triage:
        return cls(
            weights=Weights.from_settings(settings),
            duplicate_threshold=settings.duplicate_threshold,
            long_characters=settings.flag_long_characters,
        )


_DEFAULT = Triage()


def attach(database: Any, settings: Settings) -> Triage:
    """Give every session the database makes (reads and writes) this app's one triage."""
    triage = Triage.from_settings(settings)
    makers = [database.sessions, getattr(database, "write_sessions", database.sessions)]
    for maker in {id(m): m for m in makers}.values():
        maker.configure(info={INFO_KEY: triage})
    return triage


def triage_of(session: Session) -> Triage:
    found = session.info.get(INFO_KEY)
    return found if isinstance(found, Triage) else _DEFAULT
