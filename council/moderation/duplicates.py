"""Likely duplicates: a new question compared with the meeting's open ones.

Two stages. ``rapidfuzz`` (C++) picks candidates among all open questions by the
token-set similarity of their content words; then each candidate is scored by how
many content words the two share, a word counting as shared when it is spelt alike
(typos: "arrglan" and "arreglan") or written as one word or two ("streetlight",
"street light"). Case, accents, punctuation, word order and the small words of
Spanish and English (el, la, de, the, of, when...) do not count. Sharing a frame but
not the subject ("when will they fix the streetlight / the pothole on Main Street")
stays below the threshold: one word in four differs.

Folded texts are cached by question id (a question's original text never changes),
so a new question costs one indexed query for the open ids plus the comparison:
see bench/moderation.py for the time with 5,000 open questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from council.models import Status, Submission
from council.moderation.context import triage_of
from council.moderation.textfold import words

OPEN = (Status.PENDING, Status.APPROVED, Status.ON_SCREEN)
MAX_LISTED = 5
# The first stage is generous: it only has to keep every real duplicate.
CANDIDATE_CUTOFF = 55.0
MAX_CANDIDATES = 30
TYPO_RATIO = 75.0
COMPOUND_RATIO = 90.0
MAX_CACHED = 200_000


@cache
def stopwords() -> frozenset[str]:
    """The small words of Spanish and English, from council/moderation/data/stopwords.*.txt."""
    found: set[str] = set()
    for language in ("es", "en"):
        text = resources.files("council.moderation").joinpath("data", f"stopwords.{language}.txt")
        found.update(
            line.strip()
            for line in text.read_text("utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        )
    return frozenset(found)


def content_words(text: str) -> list[str]:
    stop = stopwords()
    return [w for w in words(text) if w not in stop]


def folded(text: str) -> str:
    """The form questions are compared in: content words, folded, in order."""
    return " ".join(content_words(text))


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) < 4:
        return False
    return fuzz.ratio(a, b) >= TYPO_RATIO


def _any_close(word: str, others: Sequence[str], cutoff: float) -> bool:
    # One call into rapidfuzz's C++ loop instead of a Python loop over fuzz.ratio: a hot
    # topic brings dozens of near-identical questions, each compared word by word.
    return bool(others) and (
        process.extractOne(word, others, scorer=fuzz.ratio, score_cutoff=cutoff) is not None
    )


def _covered(mine: Sequence[str], theirs: Sequence[str]) -> int:
    """How many of ``mine`` find a partner in ``theirs`` (see :func:`_same`)."""
    exact = set(theirs)
    # Words under four letters only ever match exactly (_same).
    typo_partners = [t for t in theirs if len(t) >= 4]
    pairs = [theirs[i] + theirs[i + 1] for i in range(len(theirs) - 1)]
    got = 0
    i = 0
    while i < len(mine):
        word = mine[i]
        if (
            word in exact
            or (len(word) >= 4 and _any_close(word, typo_partners, TYPO_RATIO))
            or _any_close(word, pairs, COMPOUND_RATIO)
        ):
            got += 1
            i += 1
        elif i + 1 < len(mine) and _any_close(word + mine[i + 1], theirs, COMPOUND_RATIO):
            got += 2
            i += 2
        else:
            i += 1
    return got


def similarity(a: str, b: str) -> float:
    """0-100: the share of both questions' content words the other also has (folded input)."""
    mine, theirs = a.split(), b.split()
    if not mine or not theirs:
        return 0.0
    shared = _covered(mine, theirs) + _covered(theirs, mine)
    return round(100.0 * shared / (len(mine) + len(theirs)), 1)


def rank(
    query: str, choices: dict[int, str], *, threshold: float, limit: int = MAX_LISTED
) -> list[dict[str, Any]]:
    """The choices (id -> folded text) at least ``threshold`` similar to ``query`` (folded),
    most similar first (then the oldest)."""
    if not query or not choices:
        return []
    candidates = process.extract(
        query,
        choices,
        scorer=fuzz.token_set_ratio,
        score_cutoff=CANDIDATE_CUTOFF,
        limit=MAX_CANDIDATES,
    )
    scored = []
    for text, _first, key in candidates:
        score = similarity(query, text)
        if score >= threshold:
            scored.append({"id": int(key), "similarity": score})
    scored.sort(key=lambda d: (-d["similarity"], d["id"]))
    return scored[:limit]


def open_texts(
    session: Session, *, meeting_id: int, before_id: int | None = None
) -> dict[int, str]:
    """The meeting's open questions, folded: from the cache, reading only what it lacks."""
    cache = triage_of(session).folded
    if len(cache) > MAX_CACHED:
        cache.clear()  # months of meetings: start again rather than grow without end
    query = select(Submission.id).where(
        Submission.meeting_id == meeting_id, Submission.status.in_(OPEN)
    )
    if before_id is not None:
        query = query.where(Submission.id < before_id)
    ids = list(session.scalars(query))
    missing = [i for i in ids if i not in cache]
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        for sid, text in session.execute(
            select(Submission.id, Submission.original_text).where(Submission.id.in_(chunk))
        ):
            cache[int(sid)] = folded(text)
    return {i: cache[i] for i in ids if i in cache}


def similar(
    session: Session,
    *,
    meeting_id: int,
    text: str,
    before_id: int | None = None,
    threshold: float | None = None,
    limit: int = MAX_LISTED,
) -> list[dict[str, Any]]:
    """Open questions of the meeting that look like ``text``: ``[{"id", "similarity"}]``.

    ``before_id``: only questions that arrived earlier (a new question is compared with
    those already there). This is the function bench/moderation.py times.
    """
    level = triage_of(session).duplicate_threshold if threshold is None else threshold
    choices = open_texts(session, meeting_id=meeting_id, before_id=before_id)
    return rank(folded(text), choices, threshold=level, limit=limit)


def remember(session: Session, subs: Iterable[Submission]) -> None:
    cache = triage_of(session).folded
    for sub in subs:
        cache[sub.id] = folded(sub.original_text)


def groups(session: Session, *, meeting_id: int) -> list[list[int]]:
    """Open questions grouped with their likely duplicates (groups of two or more), each
    group oldest first: the first is the one to keep, the others to merge into it."""
    subs = session.execute(
        select(Submission.id, Submission.duplicates)
        .where(Submission.meeting_id == meeting_id, Submission.status.in_(OPEN))
        .order_by(Submission.id)
    ).all()
    open_ids = {int(i) for i, _d in subs}
    parent = {i: i for i in open_ids}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for sid, dups in subs:
        for dup in dups or []:
            other = int(dup["id"])
            if other in open_ids:
                a, b = root(int(sid)), root(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    found: dict[int, list[int]] = {}
    for i in sorted(open_ids):
        found.setdefault(root(i), []).append(i)
    return [g for g in found.values() if len(g) > 1]
