"""What happens to text people typed before it is checked or stored (council/text.py)."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from council.text import clean_line, clean_text


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  ¿Y la farola?  ", "¿Y la farola?"),
        ("dos  espacios   y\ttab", "dos espacios y tab"),
        ("a \t b", "a b"),
        ("líneas\r\nde Windows\ry de Mac", "líneas\nde Windows\ny de Mac"),
        ("uno\n\n\n\n\ndos", "uno\n\ndos"),
        ("  primera  línea \n   segunda\t\tlínea  ", "primera línea\nsegunda línea"),
        ("nul\x00 y\u202e bidi\u200b", "nul y bidi"),
        ("a\u0301cento", "ácento"),  # typed as a + combining accent: one character
        ("\n\n  \n", ""),
    ],
)
def test_typed_text_is_tidied_before_it_is_stored(typed: str, stored: str) -> None:
    assert clean_text(typed) == stored


def test_a_name_is_one_line() -> None:
    assert clean_line("  Ana \n  García\t ") == "Ana García"


def _tidied_line_by_line(text: str) -> str:
    """The rule spelled out plainly: what clean_text's quicker paths must agree with."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(
        r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]",
        "",
        text,
    )
    text = "\n".join(re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def test_any_mix_of_spaces_tabs_breaks_and_controls_is_tidied_by_the_same_rule() -> None:
    pieces = [" ", "  ", "\t", "\n", "\r", "\r\n", "a", "ñ", "e\u0301", "\x00", "\u202e", "\x0b"]
    generator = random.Random(6)
    for _ in range(3000):
        typed = "".join(generator.choices(pieces, k=generator.randint(0, 12)))
        assert clean_text(typed) == _tidied_line_by_line(typed), repr(typed)
