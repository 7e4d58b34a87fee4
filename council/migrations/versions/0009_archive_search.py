"""archive search: PostgreSQL full-text index over past meetings' questions (#6)

On PostgreSQL the archive searches through an expression GIN index (a weighted tsvector
of the question, the author's name and the neighbourhood); SQLite keeps searching in
Python and gets nothing here.

Accents: ``council_search_fold(text)`` removes them before the words are indexed and before
a query is parsed, so "peticion" finds "Petición". It wraps the ``unaccent`` extension when
the server lets us create it (it ships with PostgreSQL's contrib, and a superuser or a
database owner on PostgreSQL 13+ may create it: trusted extension); otherwise it falls back
to ``translate()`` over the accented letters Spanish and its neighbours use. The wrapper
exists because ``unaccent()`` itself is only STABLE (its dictionary could change) and an
index expression must be IMMUTABLE; pinning the dictionary by its qualified name makes that
promise true enough for us.

Configuration 'simple' rather than 'spanish': no stop-word list (searching "de la Vega"
keeps every word, as the SQLite path does), no stemming of residents' and streets' names,
and questions arrive in Spanish, Catalan, Galician and English alike. Plurals are covered
by prefix queries ("peticion:*" finds "peticiones"), which is what the SQLite path's
substring match does too.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 08:50:00
"""
from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import DBAPIError


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# translate()'s fallback: each accented letter and the letter it folds to, same positions.
ACCENTED = 'ÁÀÂÄÃÅáàâäãåÉÈÊËéèêëÍÌÎÏíìîïÓÒÔÖÕóòôöõÚÙÛÜúùûüÑñÇçÝýÿ'
PLAIN = 'AAAAAAaaaaaaEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuNnCcYyy'

# council/archive/search.py builds the very same expression: the planner uses the index only
# when the query repeats it exactly.
SEARCH_VECTOR = (
    "(setweight(to_tsvector('simple'::regconfig, council_search_fold(coalesce(display_text, ''))), 'A')"
    " || setweight(to_tsvector('simple'::regconfig, council_search_fold(coalesce(author_name, ''))), 'B')"
    " || setweight(to_tsvector('simple'::regconfig, council_search_fold(coalesce(neighborhood, ''))), 'C'))"
)


def _unaccent_schema() -> str | None:
    """The schema ``unaccent`` lives in, creating the extension if we may; None if not."""
    bind = op.get_bind()
    try:
        # A savepoint: a refused CREATE EXTENSION must not abort the migration's transaction.
        with bind.begin_nested():
            bind.exec_driver_sql('CREATE EXTENSION IF NOT EXISTS unaccent')
    except DBAPIError:
        return None
    schema = bind.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'unaccent'"
    ).scalar()
    return str(schema) if schema else None


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    schema = _unaccent_schema()
    if schema is not None:
        quoted = '"' + schema.replace('"', '""') + '"'
        body = f"SELECT {quoted}.unaccent('{quoted}.unaccent'::regdictionary, $1)"
    else:
        assert len(ACCENTED) == len(PLAIN)
        body = f"SELECT translate($1, '{ACCENTED}', '{PLAIN}')"
    op.execute(
        "CREATE OR REPLACE FUNCTION council_search_fold(text) RETURNS text"
        f" LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fold$ {body} $fold$"
    )
    op.execute(f'CREATE INDEX ix_submissions_search ON submissions USING gin ({SEARCH_VECTOR})')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('DROP INDEX IF EXISTS ix_submissions_search')
    op.execute('DROP FUNCTION IF EXISTS council_search_fold(text)')
    # The unaccent extension stays: other things in the database may use it.
