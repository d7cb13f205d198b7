"""campaign preflight findings and a delivery's human failure reason (issue 9 items 1, 2)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: on PostgreSQL adding either column rewrites nothing, however many rows.
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preflight', sa.JSON(), nullable=True))
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason_text', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('reason_text')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('preflight')
