"""operator desk: operators' phones (queue member interfaces), calls connected to operators with
their wrap-up, callbacks placed from the desk (issue 13)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 02:20:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import autoinform.models


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('desk_operators',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('interface', sa.String(length=128), nullable=False),
    sa.Column('updated_at', autoinform.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_desk_operators_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_desk_operators')),
    sa.UniqueConstraint('interface', name=op.f('uq_desk_operators_interface'))
    )
    op.create_table('desk_calls',
    sa.Column('id', BIGID, nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('linked_id', sa.String(length=64), nullable=False),
    sa.Column('queue', sa.String(length=64), nullable=False),
    sa.Column('interface', sa.String(length=128), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('caller', sa.String(length=32), nullable=False),
    sa.Column('account', sa.String(length=32), nullable=True),
    sa.Column('attempt_id', sa.BigInteger(), nullable=True),
    sa.Column('hold_s', sa.Double(), nullable=True),
    sa.Column('connected_at', autoinform.models.UTCDateTime(), nullable=False),
    sa.Column('ended_at', autoinform.models.UTCDateTime(), nullable=True),
    sa.Column('topic', sa.String(length=64), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('wrapped_at', autoinform.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['operator_id'], ['users.id'], name=op.f('fk_desk_calls_operator_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_id'], ['hotline_tasks.id'], name=op.f('fk_desk_calls_task_id_hotline_tasks'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_desk_calls')),
    sa.UniqueConstraint('call_id', name=op.f('uq_desk_calls_call_id'))
    )
    with op.batch_alter_table('desk_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_desk_calls_connected_at'), ['connected_at'], unique=False)
        batch_op.create_index('ix_desk_calls_operator_connected', ['operator_id', 'connected_at'], unique=False)
    op.create_table('desk_callbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('interface', sa.String(length=128), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('placed_at', autoinform.models.UTCDateTime(), nullable=False),
    sa.Column('result', sa.String(length=32), nullable=False),
    sa.Column('ended_at', autoinform.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['operator_id'], ['users.id'], name=op.f('fk_desk_callbacks_operator_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_id'], ['hotline_tasks.id'], name=op.f('fk_desk_callbacks_task_id_hotline_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_desk_callbacks')),
    sa.UniqueConstraint('channel_id', name=op.f('uq_desk_callbacks_channel_id'))
    )
    with op.batch_alter_table('desk_callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_desk_callbacks_task_id'), ['task_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('desk_callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_desk_callbacks_task_id'))
    op.drop_table('desk_callbacks')
    with op.batch_alter_table('desk_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_desk_calls_operator_connected')
        batch_op.drop_index(batch_op.f('ix_desk_calls_connected_at'))
    op.drop_table('desk_calls')
    op.drop_table('desk_operators')
