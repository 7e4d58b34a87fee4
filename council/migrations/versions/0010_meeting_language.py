"""meeting language: the chamber screen speaks the meeting's language, not the browser's (#8)

NULL means "the server's COUNCIL_DEFAULT_LANGUAGE", so meetings created before this
migration keep showing what they showed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_column('language')
