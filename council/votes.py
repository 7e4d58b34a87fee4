"""The "me too" votes on approved questions: one per browser per question, counted live.

A browser is a random voter id in a signed, HttpOnly cookie: no account, nothing about
the person. The votes table is unique on (question, voter), so a second vote from the
same browser counts nothing, even from two workers at once.

Casting a vote writes the vote and bumps the question's counter, and records no event:
at city scale one event per vote would send every phone and screen one message per vote.
:class:`VoteFeed` gathers the questions that got votes and, at most once per
``COUNCIL_VOTE_BROADCAST_SECONDS`` per meeting, records one ``voted`` event with their
current views, plus those whose place in the queue the new counts moved (the priority
score counts votes). The first vote after a quiet spell goes out at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from council.errors import Conflict, NotFound
from council.events import record
from council.i18n import _
from council.meetings import get_meeting
from council.models import PUBLIC_STATUSES, Meeting, Status, Submission, Vote, utcnow
from council.moderation.priority import rescore
from council.ratelimit import SlidingWindow
from council.tasks import cancel_and_wait
from council.views import moderation_submission, public_submission

if TYPE_CHECKING:
    from council.services import Council

log = logging.getLogger(__name__)

VOTER_COOKIE = "council_voter"
VOTER_COOKIE_MAX_AGE = 365 * 24 * 3600
VOTABLE = frozenset({Status.APPROVED, Status.ON_SCREEN})
_MAC_LENGTH = 32
STOP_SECONDS = 5.0


# -- the browser's voter id --------------------------------------------------------------------


def new_voter() -> str:
    return secrets.token_urlsafe(18)


def _mac(voter: str, key: str) -> str:
    digest = hmac.new(key.encode(), b"council-voter:" + voter.encode(), hashlib.sha256)
    return digest.hexdigest()[:_MAC_LENGTH]


def sign_voter(voter: str, key: str) -> str:
    return f"{voter}.{_mac(voter, key)}"


def voter_from_cookie(value: str | None, key: str) -> str | None:
    """The voter id in a cookie we signed; None for no cookie or a forged or garbled one."""
    if not value:
        return None
    voter, _sep, mac = value.rpartition(".")
    if not voter or len(voter) > 64 or not hmac.compare_digest(mac, _mac(voter, key)):
        return None
    return voter


# -- the domain --------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteResult:
    meeting_id: int
    submission_id: int
    votes: int
    # False: this browser had voted for it already, and nothing changed.
    counted: bool


def _insert_once(session: Session, **values: Any) -> bool:
    """Insert the vote unless (question, voter) exists; True when it was new."""
    dialect = session.get_bind().dialect.name
    table = Vote.__table__
    assert isinstance(table, Table)
    statement = (
        (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table))
        .on_conflict_do_nothing(index_elements=["submission_id", "voter"])
        .returning(table.c.id)
    )
    # RETURNING, not rowcount: with a returned key rowcount is not the rows written everywhere.
    return session.connection().execute(statement, values).first() is not None


def cast_vote(session: Session, *, slug: str, submission_id: int, voter: str) -> VoteResult:
    meeting = get_meeting(session, slug=slug)
    sub = session.scalars(
        select(Submission).where(
            Submission.id == submission_id, Submission.meeting_id == meeting.id
        )
    ).one_or_none()
    # Pending, rejected and merged questions answer exactly like missing ones: the public
    # must not learn that they exist.
    if sub is None or sub.status not in PUBLIC_STATUSES:
        raise NotFound(
            _("Question {id} is not open for votes: only approved questions are.").format(
                id=submission_id
            )
        )
    if sub.status not in VOTABLE:
        raise Conflict(
            _("Question {id} has been answered already: there is nothing left to vote for.").format(
                id=submission_id
            )
        )
    counted = _insert_once(
        session, meeting_id=meeting.id, submission_id=sub.id, voter=voter, created_at=utcnow()
    )
    if counted:
        # Atomic in the database: votes for one question arrive from several workers at once.
        table = Submission.__table__
        assert isinstance(table, Table)
        votes = (
            session.connection()
            .execute(
                update(table)
                .where(table.c.id == sub.id)
                .values(votes=table.c.votes + 1)
                .returning(table.c.votes)
            )
            .scalar_one()
        )
        set_committed_value(sub, "votes", votes)
    return VoteResult(meeting.id, sub.id, int(sub.votes), counted)


def move_votes(session: Session, *, merged: Submission, into: Submission) -> int:
    """A merge: the votes for ``merged`` now count for ``into``, each browser once.

    Returns the new count of ``into``. A browser that had voted for both keeps one vote
    on the question kept (its other row stays with the merged question).
    """
    kept_voters = select(Vote.voter).where(Vote.submission_id == into.id).scalar_subquery()
    both = session.scalar(
        select(func.count()).where(Vote.submission_id == merged.id, Vote.voter.in_(kept_voters))
    )
    session.execute(
        update(Vote)
        .where(Vote.submission_id == merged.id, Vote.voter.not_in(kept_voters))
        .values(submission_id=into.id)
        .execution_options(synchronize_session=False)
    )
    return (into.votes or 0) + (merged.votes or 0) - int(both or 0)


def voted_ids(session: Session, *, slug: str, voter: str | None) -> list[int]:
    """The questions of this meeting this browser has voted for."""
    if voter is None:
        return []
    meeting = get_meeting(session, slug=slug)
    return list(
        session.scalars(
            select(Vote.submission_id)
            .where(Vote.meeting_id == meeting.id, Vote.voter == voter)
            .order_by(Vote.submission_id)
        )
    )


def announce_votes(session: Session, *, meeting_id: int, submission_ids: list[int]) -> int | None:
    """One ``voted`` event for the questions that got votes (and those the votes moved).

    Returns its seq, or None when there was nothing to say.
    """
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        return None
    moved = rescore(session, meeting_id=meeting_id)
    changed = {
        s.id: s
        for s in session.scalars(
            select(Submission).where(
                Submission.id.in_(submission_ids), Submission.meeting_id == meeting_id
            )
        )
    }
    for sub in moved:
        changed.setdefault(sub.id, sub)
    if not changed:
        return None
    subs = sorted(changed.values(), key=lambda s: s.id)
    public = [public_submission(s) for s in subs if s.status in PUBLIC_STATUSES]
    event = record(
        session,
        meeting=meeting,
        type="voted",
        payload={"submissions": [moderation_submission(s) for s in subs]},
        public={"submissions": public} if public else None,
        actor=None,
    )
    return event.seq


# -- the coalesced broadcast -------------------------------------------------------------------


class VoteFeed:
    """Turns any number of votes into at most one ``voted`` event per meeting per interval."""

    def __init__(self, council: Council, interval: float) -> None:
        self.council = council
        self.interval = interval
        self._dirty: dict[int, set[int]] = {}
        self._kick: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def mark(self, meeting_id: int, submission_id: int) -> None:
        self._dirty.setdefault(meeting_id, set()).add(submission_id)
        if self._kick is not None:
            self._kick.set()

    def start(self) -> None:
        if self._task is None:
            self._kick, self._stopping = asyncio.Event(), asyncio.Event()
            if self._dirty:
                self._kick.set()
            self._task = asyncio.create_task(self._run(), name="council-vote-feed")

    async def stop(self) -> None:
        """Finish a round under way (a cancel would not stop its database thread), then say
        the counts not yet said, before the database closes."""
        if self._task is not None and self._kick is not None and self._stopping is not None:
            self._stopping.set()
            self._kick.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=STOP_SECONDS)
            except TimeoutError:
                await cancel_and_wait(self._task)
        self._task = self._kick = self._stopping = None
        await self.flush()

    async def _run(self) -> None:
        assert self._kick is not None and self._stopping is not None
        while True:
            await self._kick.wait()
            self._kick.clear()
            if self._stopping.is_set():
                return
            await self.flush()
            # The pause is what coalesces: votes arriving now wait for the next round.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)

    async def flush(self) -> None:
        dirty, self._dirty = self._dirty, {}
        for meeting_id, ids in dirty.items():
            try:
                await self.council.act(
                    announce_votes, meeting_id=meeting_id, submission_ids=sorted(ids)
                )
            except Exception:
                log.exception("could not announce new vote counts; trying again")
                self._dirty.setdefault(meeting_id, set()).update(ids)
                if self._kick is not None:
                    self._kick.set()


@dataclass
class Votes:
    """What the vote routes need, built once by ``create_app``."""

    feed: VoteFeed
    limiter: SlidingWindow
    secret: str
    secure_cookie: bool = False

    @classmethod
    def build(cls, council: Council) -> Votes:
        settings = council.settings
        return cls(
            feed=VoteFeed(council, settings.vote_broadcast_seconds),
            limiter=SlidingWindow(settings.vote_rate_limit),
            secret=settings.resolved_secret_key(),
            secure_cookie=settings.secure_cookies,
        )
