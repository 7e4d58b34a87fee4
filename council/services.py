"""The running parts of one Council app, built by ``create_app`` and kept on ``app.state``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from council.arrivals import Arrivals
from council.db import Database
from council.events import PublishedEvent, committed_events
from council.intake import Limits
from council.live.hub import Hub
from council.moderation.context import attach as attach_triage
from council.moderation.locks import Locks
from council.ratelimit import SlidingWindow
from council.settings import Settings

T = TypeVar("T")


@dataclass
class Council:
    settings: Settings
    db: Database
    hub: Hub
    submission_limiter: SlidingWindow
    login_limiter: SlidingWindow
    limits: Limits
    # The encoded public snapshot of each meeting at the seq it was taken: {meeting: (seq, text)}.
    public_snapshots: dict[int, tuple[int, str]] = field(default_factory=dict)
    # Which moderator looks at which question now (soft locks), per meeting.
    locks: Locks = field(default_factory=Locks)

    @classmethod
    def build(cls, settings: Settings) -> Council:
        db = Database(settings.resolved_database_url)
        # Triage (categories, flags, priority, duplicates) reads its settings from the session.
        attach_triage(db, settings)
        return cls(
            settings=settings,
            db=db,
            hub=Hub(ping_seconds=settings.ws_ping_seconds),
            submission_limiter=SlidingWindow(settings.submission_rate_limit),
            login_limiter=SlidingWindow(settings.login_rate_limit),
            limits=Limits(name=settings.max_name_length, text=settings.max_question_length),
        )

    # Web questions: stored in batches and triaged after (council/arrivals.py).
    arrivals: Arrivals = field(init=False)

    def __post_init__(self) -> None:
        self.hub.fill_gap = self._missed_events
        self.arrivals = Arrivals(self.act)

    async def _missed_events(self, meeting_id: int, after: int, upto: int) -> list[PublishedEvent]:
        return await self.db.read(committed_events, meeting_id=meeting_id, after=after, upto=upto)

    async def act(self, fn: Callable[..., T], **kwargs: Any) -> T:
        """Run a domain action in its own transaction, then publish what it recorded.

        Publishing comes strictly after the commit: a write that failed sends nothing.
        """
        result, events = await self.db.write(fn, **kwargs)
        # Another process (the CLI, another worker) may have written in between: the hub holds
        # this back until it has read theirs from the log (see Hub.fill_gap).
        self.hub.publish(events)
        for meeting_id in {event.meeting_id for event in events}:
            await self.hub.caught_up(meeting_id)  # so the answer never overtakes the message
        return result

    async def read(self, fn: Callable[..., T], **kwargs: Any) -> T:
        return await self.db.read(fn, **kwargs)
