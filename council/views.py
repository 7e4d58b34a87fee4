"""How meetings and submissions look to each audience: moderators, the public, the submitter.

The public view is the only shape that may leave through public pages and the
public websocket, and it exists only for approved content.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from council.models import PUBLIC_STATUSES, Meeting, Submission, utcnow
from council.moderation.reasons import explain


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def meeting_view(meeting: Meeting) -> dict[str, Any]:
    return {
        "slug": meeting.slug,
        "title": meeting.title,
        "hashtags": list(meeting.hashtags or []),
        "starts_at": iso(meeting.starts_at),
        "status": meeting.status,
        "accepting": meeting.is_accepting,
        "stream_url": meeting.stream_url,
        # The chamber screen is dark (council/moderation/screen.py); both audiences know.
        "blackout": bool(meeting.blackout),
        "show_delay_s": meeting.show_delay_seconds,
        # The chamber screen's language; None: the server's default (council/i18n.py).
        "language": meeting.language,
    }


def pending_show_view(meeting: Meeting, now: datetime | None = None) -> dict[str, Any] | None:
    """The show waiting out the screen delay (moderators only), or None."""
    if meeting.pending_show_id is None or meeting.pending_show_due_at is None:
        return None
    now = now or utcnow()
    return {
        "submission_id": meeting.pending_show_id,
        "due_at": iso(meeting.pending_show_due_at),
        # Seconds left when this was written: clients count down from it with their own clock,
        # so a phone or laptop with a wrong clock still counts right.
        "remaining_s": round(max(0.0, (meeting.pending_show_due_at - now).total_seconds()), 3),
        "by": meeting.pending_show_by,
    }


def public_submission(sub: Submission) -> dict[str, Any]:
    """Approved content only; anything else becomes a bare withdrawal notice."""
    if sub.status not in PUBLIC_STATUSES:
        return {"id": sub.id, "status": "withdrawn"}
    return {
        "id": sub.id,
        "status": sub.status,
        "text": sub.display_text,
        "author": sub.author_name,
        "handle": sub.author_handle,
        "neighborhood": sub.neighborhood,
        "source": sub.source,
        "url": sub.external_url,
        "verified": sub.verified,
        "asked_count": sub.asked_count,
        "votes": sub.votes or 0,
        # The queue order (ascending is next on screen): council/moderation/priority.py.
        "position": sub.position,
        "approved_at": iso(sub.approved_at),
        "shown_at": iso(sub.shown_at),
        "answered_at": iso(sub.answered_at),
    }


def moderation_submission(sub: Submission) -> dict[str, Any]:
    return {
        "id": sub.id,
        "status": sub.status,
        "text": sub.display_text,
        "original_text": sub.original_text,
        "edited": sub.display_text != sub.original_text,
        "author": sub.author_name,
        "handle": sub.author_handle,
        "avatar_url": sub.avatar_url,
        "neighborhood": sub.neighborhood,
        "source": sub.source,
        "external_id": sub.external_id,
        "url": sub.external_url,
        "verified": sub.verified,
        "asked_count": sub.asked_count,
        "votes": sub.votes or 0,
        # Triage (council/moderation/): moderators only.
        "category": sub.category,
        "category_suggested": bool(sub.category_suggested),
        "flags": list(sub.flags or []),
        "duplicates": list(sub.duplicates or []),
        "triaged": sub.triaged is not False,
        "score": sub.score or 0.0,
        "position": sub.position,
        "position_manual": bool(sub.position_manual),
        "merged_into": sub.merged_into_id,
        "rejection_key": sub.rejection_key,
        "rejection_reason": sub.rejection_reason,
        "posted_at": iso(sub.posted_at),
        "received_at": iso(sub.received_at),
        "approved_at": iso(sub.approved_at),
        "approved_by": sub.approved_by,
        "rejected_at": iso(sub.rejected_at),
        "rejected_by": sub.rejected_by,
        "restored_at": iso(sub.restored_at),
        "restored_by": sub.restored_by,
        "shown_at": iso(sub.shown_at),
        "shown_by": sub.shown_by,
        "hidden_at": iso(sub.hidden_at),
        "hidden_by": sub.hidden_by,
        "answered_at": iso(sub.answered_at),
        "answered_by": sub.answered_by,
        "merged_at": iso(sub.merged_at),
        "merged_by": sub.merged_by,
        "edited_at": iso(sub.edited_at),
        "edited_by": sub.edited_by,
    }


def tracking_view(sub: Submission) -> dict[str, Any]:
    """What the person who asked sees: their own words, and where the question is now.

    A question merged into another follows that one: once it is approved, shown or
    answered, so is this asker's (``merged`` says it was joined with a similar one).
    """
    status, shown_at, answered_at = sub.status, sub.shown_at, sub.answered_at
    kept = sub.merged_into if sub.status == "merged" else None
    if kept is not None and kept.status in PUBLIC_STATUSES:
        status, shown_at, answered_at = kept.status, kept.shown_at, kept.answered_at
    return {
        "id": sub.id,
        "status": status,
        "merged": sub.status == "merged",
        "text": sub.original_text,
        "author": sub.author_name,
        "rejection_reason": explain(sub.rejection_key, sub.rejection_reason)
        if sub.status == "rejected"
        else None,
        # The same as key and note: a live message is written in the moderator's language,
        # and the asker's page puts the reason in its own (static/js/track.js).
        "rejection_key": sub.rejection_key if sub.status == "rejected" else None,
        "rejection_note": sub.rejection_reason if sub.status == "rejected" else None,
        "received_at": iso(sub.received_at),
        "shown_at": iso(shown_at),
        "answered_at": iso(answered_at),
        "meeting": sub.meeting.slug,
    }
