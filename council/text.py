"""Normalising text people typed, before it is checked or stored."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """NFC (so 'á' typed two ways counts and compares once), no control or bidi-override
    characters, trimmed, runs of spaces and blank lines folded."""
    text = unicodedata.normalize("NFC", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    # Every web question passes here on the event loop (bench/intake.py): the usual one
    # line with single spaces skips the splitting and the substitutions.
    if "\n" not in text:
        return _fold_spaces(text).strip()
    text = "\n".join(_fold_spaces(line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _fold_spaces(line: str) -> str:
    return _SPACES.sub(" ", line) if "  " in line or "\t" in line else line


def clean_line(text: str) -> str:
    """Like :func:`clean_text`, on one line (names, neighbourhoods)."""
    return " ".join(clean_text(text).split())
