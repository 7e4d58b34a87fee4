"""Questions arriving: checked, stored as received, and announced to moderators only."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any, cast

import psycopg
from psycopg.types.json import Json
from sqlalchemy import JSON, Table, insert, select
from sqlalchemy.orm import Session

from council.errors import CouncilError, InvalidInput, NotAccepting
from council.events import arrivals_received, submission_event
from council.i18n import _, current_language, language
from council.meetings import get_meeting
from council.models import Meeting, Status, Submission, utcnow
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
        raise NotAccepting(
            _("The meeting “{title}” is not taking questions now.").format(title=meeting.title)
            if meeting.status != "ended"
            else _("The meeting “{title}” has ended and takes no more questions.").format(
                title=meeting.title
            )
        )
    return meeting


def _new_submission(
    meeting: Meeting,
    question: Question,
    *,
    source: str = "web",
    external_id: str | None = None,
    external_url: str | None = None,
    handle: str | None = None,
    avatar_url: str | None = None,
    posted_at: datetime | None = None,
    verified: bool = False,
) -> Submission:
    return Submission(
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
) -> Submission:
    meeting = accepting_meeting(session, slug=slug)
    sub = _new_submission(
        meeting,
        question,
        source=source,
        external_id=external_id,
        external_url=external_url,
        handle=handle,
        avatar_url=avatar_url,
        posted_at=posted_at,
        verified=verified,
    )
    if honeypot_filled:
        _reject_as_bot(sub)
    session.add(sub)
    session.flush()
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
    (council/moderation/triage.py ``triage_arrivals``), so a burst of questions costs one
    commit and a few statements, whatever the meeting's size. A question for a meeting
    that takes none gets its own error; the others are stored.
    """
    meetings: dict[tuple[str, str], Meeting | CouncilError] = {}
    outcomes: list[Received | CouncilError | None] = []
    rows: list[dict[str, Any]] = []
    bots: list[Submission] = []
    for arrival in arrivals:
        key = (arrival.slug, arrival.language)
        if key not in meetings:
            try:
                with language(arrival.language):
                    meetings[key] = accepting_meeting(session, slug=arrival.slug)
            except CouncilError as refused:
                meetings[key] = refused
        found = meetings[key]
        if isinstance(found, CouncilError):
            outcomes.append(found)
        elif arrival.honeypot_filled:
            bot = _new_submission(found, arrival.question)
            bot.triaged = False
            _reject_as_bot(bot)
            session.add(bot)
            bots.append(bot)
            outcomes.append(None)  # filled in below, once it has an id
        else:
            rows.append(_new_row(found, arrival.question))
            outcomes.append(None)
    by_id = {m.id: m for m in meetings.values() if isinstance(m, Meeting)}
    new = _insert_rows(session, rows, meetings=by_id)
    arrivals_received(session, subs=new)
    session.flush()
    for bot in bots:  # counted publicly by the reason, like any rejection
        submission_event(
            session,
            type="received",
            actor=None,
            changed=[bot],
            was_public=set(),
            extra=reasons.rejections_payload(session, meeting_id=bot.meeting_id),
        )
    # Back in arrival order.
    people, robots = iter(new), iter(bots)
    settled: list[Received | CouncilError] = []
    for arrival, outcome in zip(arrivals, outcomes, strict=True):
        if outcome is not None:
            settled.append(outcome)
            continue
        sub = next(robots) if arrival.honeypot_filled else next(people)
        settled.append(Received(id=sub.id, track_token=sub.track_token, status=sub.status))
    return settled


def _new_row(meeting: Meeting, question: Question) -> dict[str, Any]:
    """A new web question as a row with every column a view reads (council/views.py)."""
    return {
        "meeting_id": meeting.id,
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


def _insert_rows(
    session: Session, rows: list[dict[str, Any]], *, meetings: dict[int, Meeting]
) -> list[Submission]:
    """One multi-row INSERT ... RETURNING for the batch, without the ORM's unit of work.

    Making and flushing an ORM object per question cost more than the rest of a web
    question's path (bench/intake.py); the views only read attributes, so each new row
    comes back as a plain object with the same attribute names, never added to the session.
    """
    if not rows:
        return []
    table = Submission.__table__
    assert isinstance(table, Table)
    if session.get_bind().dialect.name == "postgresql":
        ids = _insert_with_psycopg(session, table, rows)
    else:
        ids = list(
            session.connection()
            .execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
            .scalars()
        )
    blank = _blank_submission()
    return [
        cast(
            Submission,
            SimpleNamespace(
                **{**blank, **row, "id": sid, "meeting": meetings[row["meeting_id"]]},
                merged_into=None,
            ),
        )
        for sid, row in zip(ids, rows, strict=True)
    ]


def _insert_with_psycopg(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """The batch as one pipelined ``executemany(..., returning=True)`` of a one-row INSERT.

    SQLAlchemy's multi-row INSERT for a batch has a thousand parameters, over the size
    psycopg caches its parse of a statement for: each batch of 50 questions spent 10 ms
    just converting placeholders. A one-row statement is parsed once and prepared by
    the server; the pipeline still sends the whole batch in one round trip.
    """
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    # Only our own table's column names go into the text; the values are parameters.
    query = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id"
    )
    values = [tuple(Json(row[c]) if c in json_columns else row[c] for c in columns) for row in rows]
    ids: list[int] = []
    driver: psycopg.Connection[Any] = session.connection().connection.driver_connection  # type: ignore[assignment]
    with driver.cursor() as cursor:
        cursor.executemany(query, values, returning=True)
        while True:
            row = cursor.fetchone()
            assert row is not None
            ids.append(int(row[0]))
            if not cursor.nextset():
                break
    return ids


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
