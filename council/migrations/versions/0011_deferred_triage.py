"""submissions.triaged: web questions are stored first and triaged just after (#6)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch: SQLite adds a NOT NULL column with a constant default
    # in place, where a batch would rebuild the table and trip the foreign keys of every
    # event, vote and merge that points at a question.
    op.add_column(
        'submissions',
        sa.Column('triaged', sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_index('ix_submissions_triaged', 'submissions', ['triaged', 'id'])


def downgrade() -> None:
    op.drop_index('ix_submissions_triaged', 'submissions')
    with op.batch_alter_table('submissions') as batch:
        batch.drop_column('triaged')
