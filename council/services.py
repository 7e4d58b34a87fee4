"""The running parts of one Council app, built by ``create_app`` and kept on ``app.state``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from council.db import Database
from council.events import committed_events
from council.intake import Limits
from council.live.hub import Hub
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

    @classmethod
    def build(cls, settings: Settings) -> Council:
        return cls(
            settings=settings,
            db=Database(settings.resolved_database_url),
            hub=Hub(ping_seconds=settings.ws_ping_seconds),
            submission_limiter=SlidingWindow(settings.submission_rate_limit),
            login_limiter=SlidingWindow(settings.login_rate_limit),
            limits=Limits(name=settings.max_name_length, text=settings.max_question_length),
        )

    async def act(self, fn: Callable[..., T], **kwargs: Any) -> T:
        """Run a domain action in its own transaction, then publish what it recorded.

        Publishing comes strictly after the commit: a write that failed sends nothing.
        """
        result, events = await self.db.write(fn, **kwargs)
        for event in events[:1]:
            # Another process (the CLI, another worker) wrote in between: publish its events
            # first, or clients would skip them as older than this one.
            known = self.hub.published_seq.get(event.meeting_id, 0)
            if event.seq > known + 1:
                self.hub.publish(
                    await self.db.read(
                        committed_events,
                        meeting_id=event.meeting_id,
                        after=known,
                        upto=event.seq - 1,
                    )
                )
        self.hub.publish(events)
        return result

    async def read(self, fn: Callable[..., T], **kwargs: Any) -> T:
        return await self.db.read(fn, **kwargs)
