"""Questions arriving: checked, stored as received, and announced to moderators only."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from council.errors import InvalidInput, NotAccepting
from council.events import submission_event
from council.i18n import _
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
    meeting = get_meeting(session, slug=slug)
    if not meeting.is_accepting:
        raise NotAccepting(
            _("The meeting “{title}” is not taking questions now.").format(title=meeting.title)
            if meeting.status != "ended"
            else _("The meeting “{title}” has ended and takes no more questions.").format(
                title=meeting.title
            )
        )
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
    )
    if honeypot_filled:
        # Kept, not dropped: a person whose browser autofilled the trap can still be restored.
        sub.status = Status.REJECTED
        sub.rejection_key = reasons.AUTOMATIC_SPAM
        sub.rejection_reason = HONEYPOT_REASON
        sub.rejected_at, sub.rejected_by = utcnow(), "system"
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
