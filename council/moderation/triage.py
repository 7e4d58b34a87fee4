"""What happens to every question as it arrives, before moderators see it.

Collectors (X, Mastodon, Bluesky) and ``intake.submit`` triage in the same transaction
as the question, so their ``received`` event already carries the suggested category,
the flags, the likely duplicates and the score. Web-form questions are answered as soon
as they are stored (``intake.receive``) and triaged right after by
:func:`triage_arrivals`, run by council/arrivals.py: a ``triaged`` event follows the
``received`` one within milliseconds when the meeting is calm, later in a burst.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from council.events import submission_event
from council.models import Submission
from council.moderation import categories, duplicates, flags, mutes, priority


def on_arrival(session: Session, subs: Sequence[Submission]) -> None:
    """Suggest a category, raise flags, list likely duplicates and score each new question.

    ``subs`` are flushed (they have ids), in arrival order: each is compared with the
    open questions that came before it, including earlier ones of the same batch.
    """
    for sub in subs:
        suggested = categories.suggest(session, sub.original_text)
        sub.category = suggested
        sub.category_suggested = suggested is not None
        muted = mutes.is_muted(
            session, meeting_id=sub.meeting_id, source=sub.source, author=mutes.sub_author(sub)
        )
        sub.flags = flags.compute(session, sub, muted=muted)
        sub.duplicates = duplicates.similar(
            session, meeting_id=sub.meeting_id, text=sub.original_text, before_id=sub.id
        )
        priority.refresh_score(session, sub)
    duplicates.remember(session, subs)


# One slice of triage holds the single writer this long at most: web questions queued
# behind it wait for it, so it must stay well inside their latency budget.
SLICE_SECONDS = 0.010
SLICE_LIMIT = 50


def triage_arrivals(
    session: Session, *, slice_seconds: float = SLICE_SECONDS, limit: int = SLICE_LIMIT
) -> int:
    """Triage the oldest stored-but-untriaged web questions, one time-boxed slice of them.

    Returns how many were done (0: none left). Moderators get one ``triaged`` event with
    their new category, flags, likely duplicates and score. Oldest first, so each is
    compared with the questions that came before it, as if triaged on arrival.
    """
    query = (
        select(Submission.id)
        # "= false", not "IS false": SQLite uses the index only for the former.
        .where(Submission.triaged == false())
        .order_by(Submission.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Workers of a cluster take different rows instead of triaging the same ones twice.
        query = query.with_for_update(skip_locked=True)
    started = time.perf_counter()
    done: list[Submission] = []
    # Ids first, each question loaded when its turn comes: in a burst of look-alikes a
    # slice has time for only a few, and loading fifty to triage two cost more than triage.
    for sid in session.scalars(query).all():
        sub = session.get(Submission, sid)
        if sub is None:
            continue
        on_arrival(session, [sub])
        sub.triaged = True
        done.append(sub)
        if time.perf_counter() - started >= slice_seconds:
            break
    by_meeting: dict[int, list[Submission]] = {}
    for sub in done:
        by_meeting.setdefault(sub.meeting_id, []).append(sub)
    for changed in by_meeting.values():
        submission_event(session, type="triaged", actor=None, changed=changed, was_public=set())
    return len(done)
