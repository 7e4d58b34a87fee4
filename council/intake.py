"""Questions arriving: checked, stored as received, and announced to moderators only."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, select, update
from sqlalchemy.orm import Session

from council.bulk import insert_rows_claiming
from council.errors import CouncilError, InvalidInput, NotAccepting
from council.events import arrivals_received, note_last_seq, submission_event
from council.i18n import _, current_language, language
from council.meetings import get_meeting, possible_slug
from council.models import Meeting, MeetingStatus, Status, Submission, utcnow
from council.moderation import reasons
from council.moderation.triage import on_arrival
from council.residents import is_verified
from council.text import clean_line, clean_text

MAX_NEIGHBORHOOD_LENGTH = 80
HONEYPOT_REASON = "automatic: a field hidden from people was filled in (looks like a bot)"


@dataclass(frozen=True)
class Limits:
    name: int = 80
    text: int = 500


@dataclass(frozen=True)
class Question:
    name: str
    text: str
    neighborhood: str | None


def check_question(*, name: str, text: str, neighborhood: str | None, limits: Limits) -> Question:
    """Trim and check what a person typed; every problem is named so they can fix it at once."""
    name, text = clean_line(name), clean_text(text)
    area = clean_line(neighborhood) if neighborhood else ""
    problems: dict[str, str] = {}
    if not name:
        problems["name"] = _("Please write your name.")
    elif len(name) > limits.name:
        problems["name"] = _("Your name is too long: at most {n} characters.").format(n=limits.name)
    if not text:
        problems["text"] = _("Please write your question.")
    elif len(text) > limits.text:
        problems["text"] = _("Your question is too long: {length} characters, at most {n}.").format(
            length=len(text), n=limits.text
        )
    if len(area) > MAX_NEIGHBORHOOD_LENGTH:
        problems["neighborhood"] = _(
            "The neighbourhood is too long: at most {n} characters."
        ).format(n=MAX_NEIGHBORHOOD_LENGTH)
    if problems:
        raise InvalidInput(" ".join(problems.values()), errors=problems)
    return Question(name=name, text=text, neighborhood=area or None)


def accepting_meeting(session: Session, *, slug: str) -> Meeting:
    meeting = get_meeting(session, slug=slug)
    if not meeting.is_accepting:
        raise _not_accepting(meeting)
    return meeting


def _not_accepting(meeting: Meeting) -> NotAccepting:
    return NotAccepting(
        _("The meeting “{title}” is not taking questions now.").format(title=meeting.title)
        if meeting.status != "ended"
        else _("The meeting “{title}” has ended and takes no more questions.").format(
            title=meeting.title
        )
    )


def _reject_as_bot(sub: Submission) -> None:
    # Kept, not dropped: a person whose browser autofilled the trap can still be restored.
    sub.status = Status.REJECTED
    sub.rejection_key = reasons.AUTOMATIC_SPAM
    sub.rejection_reason = HONEYPOT_REASON
    sub.rejected_at, sub.rejected_by = utcnow(), "system"


def submit(
    session: Session,
    *,
    slug: str,
    question: Question,
    source: str = "web",
    external_id: str | None = None,
    external_url: str | None = None,
    handle: str | None = None,
    avatar_url: str | None = None,
    posted_at: datetime | None = None,
    verified: bool = False,
    honeypot_filled: bool = False,
    triage_later: bool = False,
) -> Submission:
    """``triage_later``: leave triage to ``triage_arrivals`` (council/arrivals.py), as for
    the web's batches, instead of running it in this transaction."""
    meeting = accepting_meeting(session, slug=slug)
    sub = Submission(
        meeting=meeting,
        source=source,
        external_id=external_id,
        external_url=external_url,
        author_name=question.name,
        author_handle=handle,
        avatar_url=avatar_url,
        neighborhood=question.neighborhood,
        verified=verified,
        original_text=question.text,
        display_text=question.text,
        status=Status.PENDING,
        asked_count=1,
        track_token=secrets.token_urlsafe(24),
        posted_at=posted_at,
        received_at=utcnow(),
    )
    if honeypot_filled:
        _reject_as_bot(sub)
    session.add(sub)
    session.flush()
    if triage_later:
        sub.triaged = False
    else:
        on_arrival(session, [sub])
    submission_event(
        session,
        type="received",
        actor=None,
        changed=[sub],
        was_public=set(),
        # A rejection counts publicly by its reason, even the automatic one.
        extra=reasons.rejections_payload(session, meeting_id=meeting.id)
        if honeypot_filled
        else None,
    )
    return sub


@dataclass(frozen=True, slots=True)
class Arrival:
    """A question from the web form on its way into the next batch (council/arrivals.py)."""

    slug: str
    question: Question
    honeypot_filled: bool = False
    # The asker's language, taken when the request made this: a batch mixes people, and a
    # refusal must reach each in their own (council/i18n.py).
    language: str = field(default_factory=current_language)


@dataclass(frozen=True, slots=True)
class Received:
    """What the person who sent a web question is told: it is stored, and where to follow it."""

    id: int
    track_token: str
    status: str


def receive(session: Session, *, arrivals: list[Arrival]) -> list[Received | CouncilError]:
    """Store the web's questions of one batch, each with its ``received`` event; triage later.

    The person waiting for the 201 needs only the stored row: triage (duplicates above
    all, which compares with every open question) follows on its own write
    (council/moderation/triage.py ``triage_arrivals``). A burst of questions to one
    meeting costs the same few statements and one commit whatever its size: the
    meeting's seqs taken, which also checks it takes questions, with the rows behind
    them (one statement on PostgreSQL, council/bulk.py), then their events. A question
    for a meeting that takes none gets its own error; the others are stored.
    """
    outcomes: list[Received | CouncilError | None] = [None] * len(arrivals)
    people: dict[str, list[int]] = {}
    for index, arrival in enumerate(arrivals):
        if not arrival.honeypot_filled:
            people.setdefault(arrival.slug, []).append(index)
    new: list[Submission] = []
    last_seqs: dict[int, int] = {}
    for slug, indices in people.items():
        rows = [_new_row(arrivals[index].question) for index in indices]
        claimed = (
            insert_rows_claiming(
                session,
                Submission,
                rows,
                claim=_claim(),
                params={"meeting_slug": slug, "count": len(rows)},
                claimed={"meeting_id": "id"},
            )
            if possible_slug(slug)
            else None
        )
        if claimed is None:
            refusals: dict[str, CouncilError] = {}  # worded once per language
            for index in indices:
                asker = arrivals[index].language
                if asker not in refusals:
                    with language(asker):
                        refusals[asker] = _refusal(session, slug=slug)
                outcomes[index] = refusals[asker]
            continue
        (meeting_id, last), ids = claimed
        last_seqs[meeting_id] = last
        note_last_seq(session, meeting_id=meeting_id, last=last)
        new.extend(_stored(rows, ids, meeting_id=meeting_id, slug=slug))
    arrivals_received(session, subs=new, last_seqs=last_seqs)
    stored = iter(new)
    for indices in people.values():
        for index in indices:
            if outcomes[index] is None:
                sub = next(stored)
                outcomes[index] = Received(
                    id=sub.id, track_token=sub.track_token, status=sub.status
                )
    for index, arrival in enumerate(arrivals):
        if arrival.honeypot_filled:
            with language(arrival.language):
                outcomes[index] = _receive_bot(session, arrival)
    settled = [outcome for outcome in outcomes if outcome is not None]
    assert len(settled) == len(arrivals)
    return settled


@cache
def _claim() -> Update:
    """Take ``count`` seqs of the meeting ``meeting_slug`` if it takes questions now: its id
    and the last seq taken (the first is ``last - count + 1``); no row if none such takes
    any. The batch's rows go in behind it, in the same statement on PostgreSQL
    (``bulk.insert_rows_claiming``). Its row lock orders concurrent writers as
    ``events.next_seq``'s does.
    """
    table = Meeting.__table__
    assert isinstance(table, Table)
    return (
        update(table)
        .where(
            table.c.slug == bindparam("meeting_slug"),
            table.c.accepts_questions,
            table.c.status != MeetingStatus.ENDED,
        )
        .values(last_seq=table.c.last_seq + bindparam("count"))
        .returning(table.c.id, table.c.last_seq)
    )


def _refusal(session: Session, *, slug: str) -> CouncilError:
    """Why a meeting took no question just now: unknown, or not taking any."""
    try:
        meeting = get_meeting(session, slug=slug)
    except CouncilError as unknown:
        return unknown
    return _not_accepting(meeting)


def _receive_bot(session: Session, arrival: Arrival) -> Received | CouncilError:
    """A question whose hidden field was filled in: stored as rejected, counted publicly by
    the reason like any rejection, and answered as if it were taken."""
    try:
        bot = submit(
            session,
            slug=arrival.slug,
            question=arrival.question,
            honeypot_filled=True,
            # A flood of bots must not hold the writer against people's questions.
            triage_later=True,
        )
    except CouncilError as refused:
        return refused
    return Received(id=bot.id, track_token=bot.track_token, status=bot.status)


def _new_row(question: Question) -> dict[str, Any]:
    """A new web question as a row with every column a view reads (council/views.py), but
    its meeting's id, which the claim gives (``_claim``)."""
    return {
        "source": "web",
        "external_id": None,
        "external_url": None,
        "author_name": question.name,
        "author_handle": None,
        "avatar_url": None,
        "neighborhood": question.neighborhood,
        "verified": False,
        "original_text": question.text,
        "display_text": question.text,
        "status": Status.PENDING,
        "asked_count": 1,
        "category": None,
        "category_suggested": False,
        "flags": [],
        "triaged": False,
        "duplicates": [],
        "votes": 0,
        "score": 0.0,
        "position": None,
        "position_manual": False,
        "track_token": secrets.token_urlsafe(24),
        "posted_at": None,
        "received_at": utcnow(),
    }


def _stored(
    rows: list[dict[str, Any]], ids: list[int], *, meeting_id: int, slug: str
) -> list[Submission]:
    """The rows just stored, as the views see them.

    Making and flushing an ORM object per question cost more than the rest of a web
    question's path (bench/intake.py); the views only read attributes, so each new row
    comes back as a plain object with the same attribute names, never added to the session.
    """
    blank = _blank_submission()
    meeting = SimpleNamespace(id=meeting_id, slug=slug)
    return [
        cast(
            Submission,
            SimpleNamespace(
                **{**blank, **row, "id": sid, "meeting_id": meeting_id},
                meeting=meeting,
                merged_into=None,
            ),
        )
        for sid, row in zip(ids, rows, strict=True)
    ]


@cache
def _blank_submission() -> dict[str, Any]:
    table = Submission.__table__
    assert isinstance(table, Table)
    return {column.key: None for column in table.columns}


@dataclass(frozen=True)
class Post:
    """A public post from a social network that carries the meeting's hashtag."""

    external_id: str
    text: str
    author_name: str
    handle: str
    avatar_url: str | None = None
    url: str | None = None
    posted_at: datetime | None = None


def collect(
    session: Session, *, meeting_id: int, source: str, posts: list[Post]
) -> list[Submission]:
    """Store the posts not seen before, as pending questions; a re-delivered post is ignored.

    Unlike the web form, posts are taken whatever the meeting's intake switch says: the
    citizen has already published them, and the moderator decides what reaches the screen.
    """
    if not posts:
        return []
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        return []
    ids = [p.external_id for p in posts]
    seen = set(
        session.scalars(
            select(Submission.external_id).where(
                Submission.source == source, Submission.external_id.in_(ids)
            )
        )
    )
    stored: list[Submission] = []
    for post in posts:
        if post.external_id in seen:
            continue
        seen.add(post.external_id)
        # Plain text, already decoded by the source (X encodes &, < and >; Mastodon sends HTML).
        text = clean_text(post.text)
        name = clean_line(post.author_name)[:200] or post.handle
        sub = Submission(
            meeting=meeting,
            source=source,
            external_id=post.external_id,
            external_url=post.url,
            author_name=name,
            author_handle=post.handle,
            avatar_url=post.avatar_url,
            verified=is_verified(session, source=source, handle=post.handle),
            original_text=text,
            display_text=text,
            status=Status.PENDING,
            asked_count=1,
            track_token=secrets.token_urlsafe(24),
            posted_at=post.posted_at,
        )
        session.add(sub)
        stored.append(sub)
    session.flush()
    on_arrival(session, stored)
    for sub in stored:
        submission_event(session, type="received", actor=None, changed=[sub], was_public=set())
    return stored
