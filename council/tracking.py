"""The submitter's view: found by an unguessable token, never by the guessable id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from council.errors import NotFound
from council.i18n import _
from council.models import Submission


def find_by_token(session: Session, *, token: str) -> Submission:
    # A NUL is in no token, and PostgreSQL refuses to even compare text that holds one.
    sub = (
        None
        if "\x00" in token
        else session.scalars(
            select(Submission)
            .where(Submission.track_token == token)
            # A merged question's asker follows the one kept (views.tracking_view).
            .options(selectinload(Submission.merged_into))
        ).one_or_none()
    )
    if sub is None:
        raise NotFound(_("This tracking link is not valid. Check that it was copied whole."))
    return sub


def meeting_of_token(session: Session, *, token: str) -> int:
    return find_by_token(session, token=token).meeting_id
