"""Mastodon and Bluesky sources (#7)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mastodon_instances', sa.JSON(), nullable=True))
    with op.batch_alter_table('collector_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cursors', sa.JSON(), nullable=True))
    # Post URIs (Mastodon, Bluesky) outgrow X's ids. SQLite ignores VARCHAR lengths, so
    # only other databases need the change (and SQLite is spared a table rebuild).
    if op.get_bind().dialect.name != 'sqlite':
        op.alter_column('submissions', 'external_id', existing_type=sa.String(length=128),
                        type_=sa.String(length=500), existing_nullable=True)
        op.alter_column('replies', 'in_reply_to', existing_type=sa.String(length=128),
                        type_=sa.String(length=500), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        op.alter_column('replies', 'in_reply_to', existing_type=sa.String(length=500),
                        type_=sa.String(length=128), existing_nullable=False)
        op.alter_column('submissions', 'external_id', existing_type=sa.String(length=500),
                        type_=sa.String(length=128), existing_nullable=True)
    with op.batch_alter_table('collector_states', schema=None) as batch_op:
        batch_op.drop_column('cursors')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_column('mastodon_instances')
