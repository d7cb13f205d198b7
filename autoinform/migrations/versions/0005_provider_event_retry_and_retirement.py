"""provider events: the provider's retry flag, retirement of reports matching no attempt, and an
index of the unsettled ones only

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00.000000

Issue 8 items 6 and 7 (AI-14). Briefed as '0003', which this branch already has (list rejection
kind); the lead re-chains the migrations at merge.
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_UNSETTLED = sa.text('applied_at IS NULL')


def upgrade() -> None:
    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retry', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('retired_reason', sa.String(length=64), nullable=True))
        batch_op.drop_index('ix_provider_events_unapplied')
    # Outside the batch: SQLite's batch mode would copy the table again for an index.
    op.create_index('ix_provider_events_unsettled', 'provider_events', ['id'], unique=False,
                    sqlite_where=_UNSETTLED, postgresql_where=_UNSETTLED)


def downgrade() -> None:
    op.drop_index('ix_provider_events_unsettled', table_name='provider_events')
    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.create_index('ix_provider_events_unapplied', ['applied_at', 'provider_id'], unique=False)
        batch_op.drop_column('retired_reason')
        batch_op.drop_column('retry')
