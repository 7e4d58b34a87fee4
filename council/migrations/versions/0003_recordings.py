"""recordings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 03:40:37.594635
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('recordings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('desired', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('pull_url', sa.String(length=500), nullable=True),
    sa.Column('ingest_url', sa.String(length=500), nullable=True),
    sa.Column('folder', sa.String(length=500), nullable=False),
    sa.Column('parts', sa.JSON(), nullable=False),
    sa.Column('requested_by', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_s', sa.Double(), nullable=True),
    sa.Column('progress', sa.Double(), nullable=True),
    sa.Column('mp4', sa.String(length=500), nullable=True),
    sa.Column('poster', sa.String(length=500), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_recordings_meeting_id_meetings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recordings'))
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_meeting_id'), ['meeting_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recordings_meeting_id'))

    op.drop_table('recordings')
