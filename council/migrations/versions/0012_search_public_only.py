"""archive search index: public questions only (#6)

The archive searches only questions that were made public (approved, on screen,
answered), yet migration 0009's GIN index took every question as it arrived: three
tsvectors and an index insert per row, on the one path a city's residents flood during
a meeting (bench/intake.py: about a tenth of a PostgreSQL batch's time). A partial
index leaves pending and rejected questions out; a question enters it when a moderator
makes it public. council/archive/search.py repeats the predicate word for word, as
literals: the planner uses a partial index only when it can prove the query's WHERE
implies the index's.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 12:30:00
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies, as a migration must not follow later changes to the application's code.
SEARCH_VECTOR = (
    "(setweight(to_tsvector('simple'::regconfig, council_search_fold(coalesce(display_text, ''))), 'A')"
    " || setweight(to_tsvector('simple'::regconfig, council_search_fold(coalesce(author_name, ''))), 'B')"
    " || setweight(to_tsvector('simple'::regconfig, council_search_fold(coalesce(neighborhood, ''))), 'C'))"
)
PUBLIC_ONLY = "status IN ('answered', 'approved', 'on_screen')"


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('DROP INDEX IF EXISTS ix_submissions_search')
    op.execute(
        f'CREATE INDEX ix_submissions_search ON submissions USING gin ({SEARCH_VECTOR})'
        f' WHERE {PUBLIC_ONLY}'
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('DROP INDEX IF EXISTS ix_submissions_search')
    op.execute(f'CREATE INDEX ix_submissions_search ON submissions USING gin ({SEARCH_VECTOR})')
