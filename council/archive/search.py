"""The archive's full-text search on PostgreSQL: an expression GIN index, ranked by ts_rank.

Migrations 0009 and 0012 build the index over the very expression in ``SEARCH_VECTOR``, for
public questions only (``PUBLIC_ONLY``); the planner uses it only when a query repeats the
expression exactly and implies the condition, so both spell them the same way
(tests/archive/test_archive_search.py checks the plan). SQLite has no such index and keeps
the Python search in council/archive/pages.py.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, Select, bindparam, func, literal, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.types import Float

from council.models import PUBLIC_STATUSES, Submission


# The question weighs most (A), then who asked (B), then the neighbourhood (C): ts_rank's
# default weights for A/B/C are 1.0/0.4/0.2. council_search_fold is migration 0009's
# accent folding (unaccent, or translate() where the extension may not be created).
def _weighted(column: str, weight: str) -> str:
    folded = f"council_search_fold(coalesce({column}, ''))"
    return f"setweight(to_tsvector('simple'::regconfig, {folded}), '{weight}')"


SEARCH_VECTOR = (
    "("
    + " || ".join(
        (
            _weighted("display_text", "A"),
            _weighted("author_name", "B"),
            _weighted("neighborhood", "C"),
        )
    )
    + ")"
)

# Migration 0012 indexes public questions only. The planner uses that partial index only if
# it can prove the query's WHERE implies the index's, so the statuses go in as the same
# literals, never as bound parameters.
PUBLIC_ONLY = "submissions.status IN ({})".format(
    ", ".join(f"'{status.value}'" for status in sorted(PUBLIC_STATUSES))
)

# The same weights for the Python path on SQLite, so both rank alike.
WEIGHTS = {"text": 1.0, "author": 0.4, "neighborhood": 0.2}


def uses_full_text(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def tsquery(words: list[str]) -> ColumnElement[object]:
    """Every word, as a prefix ("peticion" also finds "peticiones"), all of them required.

    Each word is quoted as a tsquery literal, so whatever a person types is a word to find,
    never tsquery syntax.
    """
    terms = [
        func.to_tsquery(
            literal_column("'simple'::regconfig"),
            func.quote_literal(func.council_search_fold(bindparam(f"w{i}", word))).op("||")(
                literal(":*")
            ),
        )
        for i, word in enumerate(words)
    ]
    query: ColumnElement[object] = terms[0]
    for term in terms[1:]:
        query = query.op("&&")(term)
    return query


def ranked_statement(words: list[str]) -> Select[Submission, float]:
    vector: ColumnElement[object] = literal_column(SEARCH_VECTOR)
    query = tsquery(words)
    return (
        select(Submission, func.ts_rank(vector, query, type_=Float).label("rank"))
        # The words are the selective condition and the archive is nearly every meeting: the
        # meetings are left out of the WHERE so the planner keeps to the text index instead of
        # (meeting_id, status), and the few questions of other meetings are dropped after.
        .where(vector.op("@@")(query), literal_column(PUBLIC_ONLY))
        .order_by(Submission.id)
    )


def ranked_matches(
    session: Session, *, words: list[str], meeting_ids: Collection[int]
) -> list[tuple[Submission, float]]:
    """The public questions of these meetings holding every word, each with its ts_rank."""
    if not words or not meeting_ids:
        return []
    wanted = set(meeting_ids)
    return [
        (row[0], float(row[1]))
        for row in session.execute(ranked_statement(words))
        if row[0].meeting_id in wanted
    ]
