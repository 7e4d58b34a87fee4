"""Meetings: create, start, end, find. A meeting's changes are events like any other."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from council.errors import Conflict, InvalidInput, NotFound
from council.events import record
from council.i18n import LANGUAGES, _
from council.models import Meeting, MeetingStatus, utcnow
from council.text import clean_line
from council.views import meeting_view

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
HASHTAG = re.compile(r"^\w{1,100}$")


def normalise_hashtag(tag: str) -> str:
    tag = tag.strip().lstrip("#")
    if not HASHTAG.match(tag):
        raise InvalidInput(
            _(
                "“{tag}” is not a hashtag: use letters, digits and underscores, like PlenoJun."
            ).format(tag=tag)
        )
    return tag


def _changed(session: Session, meeting: Meeting, actor: str | None) -> None:
    """Every change to a meeting is one public ``meeting`` event with its new view."""
    view = meeting_view(meeting)
    record(
        session,
        meeting=meeting,
        type="meeting",
        payload={"meeting": view},
        public={"meeting": view},
        actor=actor,
    )


def check_stream_url(url: str | None) -> str | None:
    """An embeddable player over https (the page is strict about what it may frame)."""
    url = (url or "").strip() or None
    if url is not None and (urlsplit(url).scheme != "https" or not urlsplit(url).netloc):
        raise InvalidInput(
            _(
                "The stream's player address must start with https://, like "
                "https://www.youtube.com/embed/VIDEO_ID."
            )
        )
    if url is not None and len(url) > 500:
        raise InvalidInput(_("The stream's player address is too long."))
    return url


def set_stream_url(
    session: Session, *, slug: str, url: str | None, actor: str | None = None
) -> Meeting:
    meeting = get_meeting(session, slug=slug)
    meeting.stream_url = check_stream_url(url)
    _changed(session, meeting, actor)
    return meeting


def check_language(code: str | None) -> str | None:
    """A language the screen can speak, or None for the server's default."""
    if code is None or not code.strip():
        return None
    cleaned = code.strip().lower()
    if cleaned not in LANGUAGES:
        raise InvalidInput(
            _("“{code}” is not a language Council speaks: use one of {choices}.").format(
                code=code, choices=", ".join(LANGUAGES)
            )
        )
    return cleaned


def set_language(
    session: Session, *, slug: str, language: str | None, actor: str | None = None
) -> Meeting:
    """The chamber screen's language; None: COUNCIL_DEFAULT_LANGUAGE."""
    meeting = get_meeting(session, slug=slug)
    meeting.language = check_language(language)
    _changed(session, meeting, actor)
    return meeting


def check_mastodon_instances(urls: list[str] | None) -> list[str] | None:
    """Base URLs of Mastodon servers (None: the server-wide COUNCIL_MASTODON_INSTANCES)."""
    if urls is None:
        return None
    cleaned = list(dict.fromkeys(u.strip().rstrip("/") for u in urls if u.strip()))
    for url in cleaned:
        parts = urlsplit(url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.query
            or len(url) > 200
        ):
            raise InvalidInput(
                _(
                    "“{url}” is not a Mastodon server's address: give its base URL, like "
                    "https://mastodon.social."
                ).format(url=url)
            )
    return cleaned


def set_mastodon_instances(
    session: Session, *, slug: str, urls: list[str] | None, actor: str | None = None
) -> Meeting:
    """The Mastodon servers this meeting reads; an empty list reads none, None the default."""
    meeting = get_meeting(session, slug=slug)
    meeting.mastodon_instances = check_mastodon_instances(urls)
    _changed(session, meeting, actor)
    return meeting


def possible_slug(slug: str) -> bool:
    """False for an address no meeting can have: one holding a NUL, which PostgreSQL
    refuses to even compare (a 500 until tests/test_openapi_fuzz.py found it)."""
    return "\x00" not in slug


def impossible_slug(slug: str) -> None:
    """A 404 before any query for an address no meeting can have (``possible_slug``)."""
    if not possible_slug(slug):
        raise NotFound(_("There is no meeting “{slug}”.").format(slug=slug))


def get_meeting(session: Session, *, slug: str) -> Meeting:
    impossible_slug(slug)
    meeting = session.scalars(select(Meeting).where(Meeting.slug == slug)).one_or_none()
    if meeting is None:
        raise NotFound(_("There is no meeting “{slug}”.").format(slug=slug))
    return meeting


def list_meetings(session: Session) -> list[Meeting]:
    return list(session.scalars(select(Meeting).order_by(Meeting.starts_at, Meeting.id)).all())


def create_meeting(
    session: Session,
    *,
    slug: str,
    title: str,
    hashtags: list[str] | None = None,
    starts_at: datetime | None = None,
    x_cost_cap: float | None = None,
    stream_url: str | None = None,
    mastodon_instances: list[str] | None = None,
    language: str | None = None,
    actor: str | None = None,
) -> Meeting:
    slug = slug.strip().lower()
    if not SLUG.match(slug):
        raise InvalidInput(
            _(
                "“{slug}” cannot be a meeting's address: use 1-64 lowercase letters, digits "
                "and dashes, like pleno-2026-11."
            ).format(slug=slug)
        )
    title = clean_line(title)  # no control characters: PostgreSQL cannot store a NUL
    if not 1 <= len(title) <= 200:
        raise InvalidInput(_("The title must be 1 to 200 characters."))
    if starts_at is not None and starts_at.tzinfo is None:
        raise InvalidInput(
            _("Give the start time with its time zone, like 2026-11-24T19:00+01:00.")
        )
    if x_cost_cap is not None and not 0 <= x_cost_cap <= 1_000_000:
        raise InvalidInput(_("The X cost cap is an amount in dollars, like 5 or 12.50."))
    meeting = Meeting(
        stream_url=check_stream_url(stream_url),
        mastodon_instances=check_mastodon_instances(mastodon_instances),
        language=check_language(language),
        x_cost_cap=x_cost_cap,
        slug=slug,
        title=title,
        hashtags=[normalise_hashtag(t) for t in hashtags or []],
        starts_at=starts_at,
        status=MeetingStatus.SCHEDULED,
        accepts_questions=True,
        last_seq=0,
    )
    session.add(meeting)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(
            _("A meeting “{slug}” exists already: choose another address.").format(slug=slug)
        ) from exc
    _changed(session, meeting, actor)
    return meeting


def _set_status(
    session: Session, *, slug: str, status: MeetingStatus, actor: str | None
) -> Meeting:
    meeting = get_meeting(session, slug=slug)
    if meeting.status == MeetingStatus.ENDED and status == MeetingStatus.LIVE:
        raise Conflict(_("Meeting “{slug}” has ended; it cannot go live again.").format(slug=slug))
    meeting.status = status
    if status == MeetingStatus.LIVE:
        meeting.started_at = meeting.started_at or utcnow()
    if status == MeetingStatus.ENDED:
        meeting.ended_at = utcnow()
        meeting.accepts_questions = False
    _changed(session, meeting, actor)
    return meeting


def start_meeting(session: Session, *, slug: str, actor: str | None = None) -> Meeting:
    return _set_status(session, slug=slug, status=MeetingStatus.LIVE, actor=actor)


def end_meeting(session: Session, *, slug: str, actor: str | None = None) -> Meeting:
    return _set_status(session, slug=slug, status=MeetingStatus.ENDED, actor=actor)


def set_accepting(
    session: Session, *, slug: str, accepting: bool, actor: str | None = None
) -> Meeting:
    meeting = get_meeting(session, slug=slug)
    if accepting and meeting.status == MeetingStatus.ENDED:
        raise Conflict(
            _("Meeting “{slug}” has ended; it cannot take questions again.").format(slug=slug)
        )
    meeting.accepts_questions = accepting
    _changed(session, meeting, actor)
    return meeting
