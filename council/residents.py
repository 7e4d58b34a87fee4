"""The registry of residents verified in person at town hall, by their handle on each source.

A post from a registered handle carries the "verified resident" badge in the queue,
on the screen and on the public page. Adding or removing a handle updates the
badge on that person's open questions at once.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from council.errors import Conflict, InvalidInput, NotFound
from council.events import submission_event
from council.i18n import _
from council.models import PUBLIC_STATUSES, Resident, Status, Submission
from council.moderation import priority

SOURCES = ("x", "mastodon", "bluesky")
# X: 1-15 letters, digits, underscores. Mastodon: user@server (other fediverse servers allow
# dots and dashes inside the name). Bluesky: a domain name, without the @.
HANDLE = {
    "x": re.compile(r"^[a-z0-9_]{1,15}$"),
    "mastodon": re.compile(
        r"^[a-z0-9_](?:[a-z0-9_.-]{0,62}[a-z0-9_])?@(?:[a-z0-9-]+\.)+[a-z0-9-]{2,}(?::\d+)?$"
    ),
    "bluesky": re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$"),
}
# A profile's address, pasted instead of the handle.
PROFILE_URL = {
    "x": re.compile(r"^https?://(?:www\.)?(?:x|twitter)\.com/@?([^/?#]+)/?$"),
    "mastodon": re.compile(r"^https?://([^/@?#]+)/@([^/@?#]+)/?$"),
    "bluesky": re.compile(r"^https?://bsky\.app/profile/([^/?#]+)/?$"),
}


def _from_profile_url(handle: str, source: str) -> str:
    match = PROFILE_URL[source].match(handle)
    if match is None:
        return handle
    if source == "mastodon":
        server, user = match.groups()
        return f"{user}@{server}"
    return match.group(1)


OPEN_STATUSES = (Status.PENDING, Status.APPROVED, Status.ON_SCREEN)


def normalise_handle(handle: str, source: str = "x") -> str:
    if source not in SOURCES:
        raise InvalidInput(
            _("Unknown source “{source}”: use x, mastodon or bluesky.").format(source=source)
        )
    cleaned = _from_profile_url(handle.strip(), source).lstrip("@").lower()
    if not HANDLE[source].match(cleaned):
        examples = {
            "x": ("X", "@PlenoJun"),
            "mastodon": ("Mastodon", "@vecina@mastodon.social"),
            "bluesky": ("Bluesky", "jun.bsky.social"),
        }
        name, example = examples[source]
        raise InvalidInput(
            _("“{handle}” is not a valid {source} handle; it should look like {example}.").format(
                handle=handle.strip(), source=name, example=example
            )
        )
    return cleaned


def is_verified(session: Session, *, source: str, handle: str | None) -> bool:
    if not handle or source not in SOURCES:
        return False
    cleaned = handle.strip().lstrip("@").lower()
    found = session.scalar(
        select(func.count()).where(Resident.source == source, Resident.handle == cleaned)
    )
    return bool(found)


def _rebadge(
    session: Session, *, source: str, handle: str, verified: bool, actor: str | None
) -> int:
    """Set the badge on the person's open questions; one event per meeting touched."""
    subs = session.scalars(
        select(Submission).where(
            Submission.source == source,
            func.lower(Submission.author_handle) == handle,
            Submission.status.in_(OPEN_STATUSES),
            Submission.verified.is_not(verified),
        )
    ).all()
    by_meeting: dict[int, list[Submission]] = defaultdict(list)
    for sub in subs:
        sub.verified = verified
        priority.refresh_score(session, sub)
        by_meeting[sub.meeting_id].append(sub)
    for meeting_id, rebadged in by_meeting.items():
        # The badge is worth priority points: the approved queue may reorder.
        moved = priority.rescore(session, meeting_id=meeting_id)
        changed = [*rebadged, *(m for m in moved if m not in rebadged)]
        submission_event(
            session,
            type="verified",
            actor=actor,
            changed=changed,
            was_public={s.id for s in changed if s.status in PUBLIC_STATUSES},
        )
    return len(subs)


def add_resident(
    session: Session,
    *,
    handle: str,
    source: str = "x",
    note: str | None = None,
    actor: str | None = None,
) -> Resident:
    cleaned = normalise_handle(handle, source)
    exists = session.scalar(
        select(Resident).where(Resident.source == source, Resident.handle == cleaned)
    )
    if exists is not None:
        raise Conflict(_("{handle} is already a verified resident.").format(handle=cleaned))
    resident = Resident(
        source=source, handle=cleaned, note=(note or "").strip() or None, added_by=actor
    )
    session.add(resident)
    session.flush()
    _rebadge(session, source=source, handle=cleaned, verified=True, actor=actor)
    return resident


def remove_resident(
    session: Session, *, handle: str, source: str = "x", actor: str | None = None
) -> None:
    cleaned = normalise_handle(handle, source)
    resident = session.scalar(
        select(Resident).where(Resident.source == source, Resident.handle == cleaned)
    )
    if resident is None:
        raise NotFound(_("{handle} is not in the register.").format(handle=cleaned))
    session.delete(resident)
    _rebadge(session, source=source, handle=cleaned, verified=False, actor=actor)


def list_residents(session: Session, *, source: str | None = None) -> list[Resident]:
    query = select(Resident).order_by(Resident.source, Resident.handle)
    if source:
        query = query.where(Resident.source == source)
    return list(session.scalars(query).all())


@dataclass(frozen=True)
class ImportResult:
    added: int
    already: int
    errors: list[str]


def import_csv(session: Session, *, text: str, actor: str | None = None) -> ImportResult:
    """Rows of ``handle[,source[,note]]`` (a header row is optional). Bad rows are reported,
    good ones added: one mistyped line never loses the rest of the list."""
    added = already = 0
    errors: list[str] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not row[0].strip() or row[0].strip().lower() == "handle":
            continue
        handle = row[0]
        source = row[1].strip().lower() if len(row) > 1 and row[1].strip() else "x"
        note = row[2] if len(row) > 2 else None
        try:
            with session.begin_nested():
                add_resident(session, handle=handle, source=source, note=note, actor=actor)
            added += 1
        except Conflict:
            already += 1
        except InvalidInput as exc:
            errors.append(_("Line {n}: {problem}").format(n=number, problem=exc.message))
    return ImportResult(added=added, already=already, errors=errors)
