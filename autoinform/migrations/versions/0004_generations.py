"""generations: counters a send compares to see campaign and stop-list changes at its instant;
engine_workers: who holds a lease-owner name

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import autoinform.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        'generations',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_generations')),
    )
    # The rows exist from the start, so a bump is always an UPDATE that takes the row's lock.
    op.bulk_insert(table, [{'name': 'campaigns', 'value': 0}, {'name': 'stop_list', 'value': 0}])
    op.create_table(
        'engine_workers',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('heartbeat_at', autoinform.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_engine_workers')),
    )


def downgrade() -> None:
    op.drop_table('engine_workers')
    op.drop_table('generations')
