"""screen safety and votes (#5): show delay, blackout, me-too votes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('voter', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_votes_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_votes_submission_id_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_votes')),
    sa.UniqueConstraint('submission_id', 'voter', name='uq_votes_submission_id_voter')
    )
    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.create_index('ix_votes_meeting_id_voter', ['meeting_id', 'voter'], unique=False)

    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('show_delay_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('blackout', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('pending_show_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('pending_show_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pending_show_by', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_column('pending_show_by')
        batch_op.drop_column('pending_show_due_at')
        batch_op.drop_column('pending_show_id')
        batch_op.drop_column('blackout')
        batch_op.drop_column('show_delay_seconds')

    with op.batch_alter_table('votes', schema=None) as batch_op:
        batch_op.drop_index('ix_votes_meeting_id_voter')

    op.drop_table('votes')
