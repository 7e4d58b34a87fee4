"""the moderator's dashboard (#5): categories, flags, priority, duplicates, activity

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('category_suggested', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('flags', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('duplicates', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('votes', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('score', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('position', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('position_manual', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('rejection_key', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_submissions_merged_into_id'), ['merged_into_id'], unique=False)

    op.create_table('mutes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('handle', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_mutes_meeting_id_meetings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mutes')),
    sa.UniqueConstraint('meeting_id', 'source', 'handle', name='uq_mutes_meeting_id_source_handle')
    )

    op.create_table('triage_lists',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.String(length=80), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_triage_lists'))
    )


def downgrade() -> None:
    op.drop_table('triage_lists')
    op.drop_table('mutes')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submissions_merged_into_id'))
        batch_op.drop_column('rejection_key')
        batch_op.drop_column('position_manual')
        batch_op.drop_column('position')
        batch_op.drop_column('score')
        batch_op.drop_column('votes')
        batch_op.drop_column('duplicates')
        batch_op.drop_column('flags')
        batch_op.drop_column('category_suggested')
        batch_op.drop_column('category')
