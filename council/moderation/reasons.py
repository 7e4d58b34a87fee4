"""Why a question was rejected: a short fixed list, so the public page can count them.

The asker sees the reason's label (and the moderator's note, if any) on their tracking
page; the public sees only how many questions were rejected for each reason, never
which ones or what they said (mutual visibility without exposure).
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from council.i18n import _
from council.models import Status, Submission

# Keys are stored and public; labels are translated when shown.
REASON_KEYS = (
    "off_topic",
    "duplicate",
    "already_answered",
    "offensive",
    "personal_data",
    "spam",
    "other",
)
FALLBACK = "other"
# A form filled in by a bot (intake's honeypot).
AUTOMATIC_SPAM = "spam"


def label(key: str) -> str:
    labels = {
        "off_topic": _("Off topic"),
        "duplicate": _("Already asked"),
        "already_answered": _("Already answered"),
        "offensive": _("Offensive language"),
        "personal_data": _("Personal data"),
        "spam": _("Spam"),
        "other": _("Other"),
    }
    return labels.get(key, key)


def choices() -> list[dict[str, str]]:
    """The reasons in the order a moderator picks from."""
    return [{"key": key, "label": label(key)} for key in REASON_KEYS]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(kept.replace("_", " ").split())


def parse(reason: str | None) -> tuple[str, str | None]:
    """``reason`` as a key, or as a label in any case and accents, or else free text.

    Returns the key and what remains as the moderator's note. Free text (what clients
    sent before reasons had keys) is kept whole as the note under "other".
    """
    text = (reason or "").strip()
    if not text:
        return FALLBACK, None
    if text in REASON_KEYS:
        return text, None
    folded = _fold(text)
    for key in REASON_KEYS:
        if folded in (_fold(key), _fold(label(key))):
            return key, None
    return FALLBACK, text


def explain(key: str | None, note: str | None) -> str | None:
    """What the asker reads: the reason, then the note."""
    if key is None or (key == FALLBACK and note):
        return note
    return f"{label(key)}: {note}" if note else label(key)


def public_counts(session: Session, *, meeting_id: int) -> dict[str, int]:
    """How many of the meeting's questions stand rejected, by reason (every key present)."""
    rows = session.execute(
        select(Submission.rejection_key, func.count())
        .where(Submission.meeting_id == meeting_id, Submission.status == Status.REJECTED)
        .group_by(Submission.rejection_key)
    ).all()
    counts = dict.fromkeys(REASON_KEYS, 0)
    for key, n in rows:
        name = key if key in counts else FALLBACK
        counts[name] += int(n)
    return counts


def rejections_payload(session: Session, *, meeting_id: int) -> dict[str, dict[str, int]]:
    """The part of an event that tells everyone the new counts, and nothing else."""
    session.flush()
    return {"rejections": public_counts(session, meeting_id=meeting_id)}
