"""What happens to every question as it arrives, before moderators see it.

Called by council/intake.py for the web form and for every collector (X, ...), in the
same transaction as the question itself, so the ``received`` event already carries
the suggested category, the flags, the likely duplicates and the score.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

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
