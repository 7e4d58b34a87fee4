"""Text folded for comparison: case, accents and punctuation do not count.

"¿Cuándo ARREGLAN la farola?" and "cuando arreglan la farola" fold to the same words,
so keyword lists, word lists and duplicate detection work however people type.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lowercase, without accents (ñ becomes n), words separated by single spaces."""
    return " ".join(words(text))


def words(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(bare)


def _singular(word: str) -> str | None:
    """A plural's likely singular (Spanish and English): farolas, baches, streetlights."""
    if len(word) > 4 and word.endswith("es"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s"):
        return word[:-1]
    return None


@dataclass(frozen=True)
class Matcher:
    """Whole-word matching of a list of terms, as people write them in the lists:

    - ``farola``: the word, or its plural (farolas);
    - ``alcantarill*``: any word that starts so (alcantarilla, alcantarillado);
    - ``corte de agua``: the words in a row.
    """

    exact: frozenset[str]
    prefixes: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]
    # Each term as written, by the folded form it is matched with.
    names: tuple[tuple[str, str], ...]

    @classmethod
    def build(cls, terms: Iterable[str]) -> Matcher:
        exact: set[str] = set()
        prefixes: list[str] = []
        phrases: list[tuple[str, ...]] = []
        names: list[tuple[str, str]] = []
        for term in terms:
            star = term.strip().endswith("*")
            parts = words(term)
            if not parts:
                continue
            if len(parts) > 1:
                phrases.append(tuple(parts))
                names.append((" ".join(parts), term.strip()))
            elif star:
                prefixes.append(parts[0])
                names.append((parts[0] + "*", term.strip()))
            else:
                exact.add(parts[0])
                names.append((parts[0], term.strip()))
        return cls(frozenset(exact), tuple(sorted(set(prefixes))), tuple(phrases), tuple(names))

    def matches(self, text: str) -> set[str]:
        """The folded terms found in ``text`` (each counted once)."""
        return self.matches_words(words(text))

    def matches_words(self, tokens: list[str]) -> set[str]:
        found: set[str] = set()
        for token in tokens:
            if token in self.exact:
                found.add(token)
                continue
            singular = _singular(token)
            if singular is not None and singular in self.exact:
                found.add(singular)
                continue
            for prefix in self.prefixes:
                if token.startswith(prefix):
                    found.add(prefix + "*")
                    break
        if self.phrases:
            joined = f" {' '.join(tokens)} "
            for phrase in self.phrases:
                if f" {' '.join(phrase)} " in joined:
                    found.add(" ".join(phrase))
        return found
