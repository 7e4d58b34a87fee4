"""Flags: what a moderator should look at twice. Never a rejection by themselves.

- ``profanity``: a word of the profanity lists (whole words, accents and capitals
  do not count);
- ``link``: an address (http://, www., or a name.domain);
- ``shouting``: mostly capital letters;
- ``long``: longer than COUNCIL_FLAG_LONG_CHARACTERS;
- ``muted_author``: a moderator muted its author for this meeting.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from council.models import Submission
from council.moderation import lists
from council.moderation.context import triage_of

FLAGS = ("profanity", "link", "shouting", "long", "muted_author")

_LINK = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|info|biz|es|eu|io|co|ly|me|tv|gl|gg|xyz|app|"
    r"link|site|online|shop|uk|us|de|fr|it|pt|cat|gal|eus)\b(?:/\S*)?",
    re.IGNORECASE,
)
# Hashtags, mentions and addresses are often in capitals without anyone shouting.
_NOT_PROSE = re.compile(r"[#@]\w+|(?:https?://|www\.)\S+", re.IGNORECASE)
SHOUTING_MIN_LETTERS = 12
SHOUTING_RATIO = 0.7


def has_link(text: str) -> bool:
    return _LINK.search(text) is not None


def is_shouting(text: str) -> bool:
    letters = [c for c in _NOT_PROSE.sub(" ", text) if c.isalpha()]
    cased = [c for c in letters if c.isupper() or c.islower()]
    if len(cased) < SHOUTING_MIN_LETTERS:
        return False
    return sum(1 for c in cased if c.isupper()) / len(cased) >= SHOUTING_RATIO


def text_flags(session: Session, text: str) -> list[str]:
    """The flags a text earns by itself, in FLAGS order."""
    found = []
    if lists.profanity_matcher(session).matches(text):
        found.append("profanity")
    if has_link(text):
        found.append("link")
    if is_shouting(text):
        found.append("shouting")
    if len(text) > triage_of(session).long_characters:
        found.append("long")
    return found


def with_flag(sub: Submission, flag: str, on: bool) -> bool:
    """Set or clear one flag, keeping FLAGS order; True if it changed."""
    current = list(sub.flags or [])
    if (flag in current) == on:
        return False
    wanted = set(current) | {flag} if on else set(current) - {flag}
    sub.flags = [f for f in FLAGS if f in wanted]
    return True


def compute(session: Session, sub: Submission, *, muted: bool) -> list[str]:
    flags = text_flags(session, sub.original_text)
    if muted:
        flags.append("muted_author")
    return flags
