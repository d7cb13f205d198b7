"""an index on attempts (destination, started_at) for the per-customer call limits (issue 10 part 2)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:45:00
"""
from __future__ import annotations

from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.create_index('ix_attempts_destination_started', ['destination', 'started_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_attempts_destination_started')
