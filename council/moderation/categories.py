"""Categories: suggested for each new question from keyword lists, changed in one action."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from council.errors import InvalidInput
from council.events import record
from council.i18n import _
from council.models import Status, Submission
from council.moderation import lists
from council.moderation.actions import check_status, load_submission
from council.moderation.textfold import words
from council.views import moderation_submission

# Filter value for questions with no category.
NONE = "none"


def suggest(session: Session, text: str) -> str | None:
    """The category whose keywords the text matches most (ties: the first listed), else the
    catch-all ``other`` if the town keeps one, else None."""
    tokens = words(text)
    best: tuple[int, str] | None = None
    keys: list[str] = []
    for category, matcher in lists.category_matchers(session):
        keys.append(category.key)
        hits = len(matcher.matches_words(tokens))
        if hits and (best is None or hits > best[0]):
            best = (hits, category.key)
    if best is not None:
        return best[1]
    return lists.CATCH_ALL if lists.CATCH_ALL in keys else None


def choices(session: Session) -> list[dict[str, str]]:
    """What moderators pick from and filter by: ``[{"key", "label"}]`` in the town's order."""
    return [{"key": c.key, "label": c.label} for c in lists.categories(session)]


def check_filter(session: Session, category: str | None) -> str | None:
    if category is None or category == NONE:
        return category
    keys = [c.key for c in lists.categories(session)]
    if category not in keys:
        raise InvalidInput(
            _("Unknown category {key!r}: use one of {keys}, or {none}.").format(
                key=category, keys=", ".join(keys), none=NONE
            )
        )
    return category


def categorize(
    session: Session,
    *,
    slug: str,
    submission_id: int,
    actor: str,
    category: str,
    expected_status: str | None = None,
) -> Submission:
    """A moderator sets the category (moderators only hear of it: categories are internal)."""
    keys = [c.key for c in lists.categories(session)]
    if category not in keys:
        raise InvalidInput(
            _("Unknown category {key!r}: use one of {keys}.").format(
                key=category, keys=", ".join(keys)
            )
        )
    sub = load_submission(session, slug=slug, submission_id=submission_id)
    check_status(
        sub,
        action="categorize",
        allowed_from=[s for s in Status if s != Status.MERGED],
        expected_status=expected_status,
    )
    sub.category = category
    sub.category_suggested = False
    moderators_only(session, type="categorized", actor=actor, changed=[sub])
    return sub


def moderators_only(
    session: Session,
    *,
    type: str,
    actor: str | None,
    changed: list[Submission],
    extra: dict[str, Any] | None = None,
) -> None:
    """An event about triage data, which the public never sees (nor hears of)."""
    record(
        session,
        meeting=changed[0].meeting,
        type=type,
        payload={"submissions": [moderation_submission(s) for s in changed], **(extra or {})},
        public=None,
        actor=actor,
        submissions=tuple(changed),
    )
