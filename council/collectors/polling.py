"""The loop every polling source shares: read, store, report health, wait, and say why not.

A source's ``poll`` reads everything new since its resume point and stores it with
:meth:`Poller.store`; when the service says no, it raises a :class:`SourceProblem` whose
message a moderator can act on ("Mastodon token rejected by jun.social: …"). The loop
turns that into the collector's status on the moderator page and decides what comes
next: stop until a moderator retries (credentials refused), wait until a given time
(rate limits, cost caps), or retry with a growing wait (the service is down).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from datetime import datetime
from typing import ClassVar

from council.collectors.base import MeetingInfo, publish_health, report_status
from council.collectors.state import load_state, record_page
from council.intake import Post
from council.models import CollectorState, Submission
from council.services import Council

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0


class SourceProblem(Exception):
    """Why a poll stopped short, for the moderator page. Retried with a growing wait."""

    status: ClassVar[str] = "retrying"

    def __init__(
        self,
        message: str,
        *,
        retry_in: float | None = None,
        until: datetime | None = None,
        polled: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: Seconds to wait before the next poll; None: the growing backoff.
        self.retry_in = retry_in
        #: Shown to moderators as "until HH:MM".
        self.until = until
        #: Whether the service was asked (counts as a request on the moderator page).
        self.polled = polled


class Rejected(SourceProblem):
    """Credentials or setup refused: the collector stops until a moderator retries."""

    status = "failed"


class RateLimited(SourceProblem):
    status = "rate_limited"


class Paused(SourceProblem):
    status = "paused"


class Poller(ABC):
    """One source for one meeting, polled every ``poll_seconds`` from its stored resume point."""

    source: str

    def __init__(
        self,
        council: Council,
        meeting: MeetingInfo,
        *,
        poll_seconds: float,
        cost_cap: float | None = None,
    ) -> None:
        self.council = council
        self.meeting = meeting
        self.poll_seconds = poll_seconds
        self.cost_cap = cost_cap
        self.backoff = 1.0
        # True once a poll has read everything up to now.
        self.caught_up = False

    @abstractmethod
    async def poll(self, state: CollectorState) -> None:
        """Read and store what is new since ``state``'s resume point; raise SourceProblem."""

    def close(self) -> None:  # noqa: B027 - optional: only sources holding connections need it
        """Let go of connections; called when the collector stops."""

    async def run(self) -> None:
        try:
            await self.report("starting")
            while True:
                delay = await self.poll_once()
                if delay is None:
                    return
                await self.wait(delay)
        finally:
            self.close()

    async def wait(self, seconds: float) -> None:
        """Between polls (a source with a stream stores what it brings meanwhile)."""
        await asyncio.sleep(seconds)

    async def poll_once(self) -> float | None:
        """One poll, every page of it. The seconds to wait before the next, or None to stop."""
        state = await self.council.read(load_state, meeting_id=self.meeting.id, source=self.source)
        try:
            await self.poll(state)
        except SourceProblem as problem:
            await self.report(
                problem.status,
                error=problem.message,
                paused_until=problem.until,
                polled=problem.polled,
            )
            if isinstance(problem, Rejected):
                return None
            if problem.retry_in is not None:
                return problem.retry_in
            wait, self.backoff = self.backoff, min(self.backoff * 2, MAX_BACKOFF_SECONDS)
            return wait
        self.backoff = 1.0
        self.caught_up = True
        return self.poll_seconds

    async def store(
        self,
        posts: list[Post],
        *,
        posts_read: int,
        users_read: int = 0,
        cost: float = 0.0,
        newest_id: str | None = None,
        cursors: dict[str, str] | None = None,
    ) -> list[Submission]:
        """One answered request: new posts stored (once each), reads counted, health sent."""
        stored, state = await self.council.act(
            record_page,
            meeting_id=self.meeting.id,
            source=self.source,
            posts=posts,
            posts_read=posts_read,
            users_read=users_read,
            cost=cost,
            newest_id=newest_id,
            cursors=cursors,
        )
        publish_health(self.council, state)
        if stored:
            log.info("%d new posts from %s for %s", len(stored), self.source, self.meeting.slug)
        return stored

    async def report(
        self,
        status: str,
        *,
        error: str | None = None,
        paused_until: datetime | None = None,
        polled: bool = False,
    ) -> None:
        await report_status(
            self.council,
            meeting_id=self.meeting.id,
            source=self.source,
            status=status,
            error=error,
            paused_until=paused_until,
            polled=polled,
            cost_cap=self.cost_cap,
        )
