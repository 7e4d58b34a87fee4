"""An admin edits the word lists; the questions still waiting follow at once.

Pending questions of meetings not yet ended get their profanity flag and (while it
is still the automatic suggestion) their category recomputed, one ``flagged`` or
``categorized`` event per meeting; a moderator's own choice of category is kept.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from council.models import Meeting, MeetingStatus, Status, Submission
from council.moderation import categories, flags, lists
from council.moderation.categories import moderators_only


def lists_view(session: Session) -> dict[str, Any]:
    """The lists as the admin page and the API show them."""
    return {
        "categories": [c.view() for c in lists.categories(session)],
        "categories_edited": lists.is_edited(session, lists.CATEGORIES),
        "profanity": list(lists.profanity(session)),
        "profanity_edited": lists.is_edited(session, lists.PROFANITY),
    }


def _waiting(session: Session) -> list[Submission]:
    return list(
        session.scalars(
            select(Submission)
            .join(Submission.meeting)
            .where(Submission.status == Status.PENDING, Meeting.status != MeetingStatus.ENDED)
            .order_by(Submission.id)
        )
    )


def _by_meeting(subs: list[Submission]) -> dict[int, list[Submission]]:
    grouped: dict[int, list[Submission]] = {}
    for sub in subs:
        grouped.setdefault(sub.meeting_id, []).append(sub)
    return grouped


def refresh_categories(session: Session, *, actor: str | None) -> int:
    changed = []
    for sub in _waiting(session):
        if sub.category is not None and not sub.category_suggested:
            continue
        suggested = categories.suggest(session, sub.original_text)
        if suggested != sub.category:
            sub.category = suggested
            sub.category_suggested = suggested is not None
            changed.append(sub)
    for subs in _by_meeting(changed).values():
        moderators_only(session, type="categorized", actor=actor, changed=subs)
    return len(changed)


def refresh_profanity(session: Session, *, actor: str | None) -> int:
    matcher = lists.profanity_matcher(session)
    changed = [
        sub
        for sub in _waiting(session)
        if flags.with_flag(sub, "profanity", bool(matcher.matches(sub.original_text)))
    ]
    for subs in _by_meeting(changed).values():
        moderators_only(session, type="flagged", actor=actor, changed=subs)
    return len(changed)


def edit_categories(
    session: Session, *, categories: list[dict[str, Any]], actor: str | None = None
) -> dict[str, Any]:
    lists.save_categories(session, categories=categories, actor=actor)
    refresh_categories(session, actor=actor)
    return lists_view(session)


def edit_profanity(
    session: Session, *, words: list[str], actor: str | None = None
) -> dict[str, Any]:
    lists.save_profanity(session, words=words, actor=actor)
    refresh_profanity(session, actor=actor)
    return lists_view(session)


def reset_list(session: Session, *, name: str, actor: str | None = None) -> dict[str, Any]:
    lists.reset(session, name=name, actor=actor)
    if name == lists.CATEGORIES:
        refresh_categories(session, actor=actor)
    else:
        refresh_profanity(session, actor=actor)
    return lists_view(session)
