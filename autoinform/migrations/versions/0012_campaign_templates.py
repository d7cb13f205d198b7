"""recurring campaign templates and the billing drop folder (issue 14)

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-02 01:50:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import autoinform.models


revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('scenario', sa.String(length=100), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('first_day', sa.Integer(), nullable=False),
    sa.Column('last_day', sa.Integer(), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=False),
    sa.Column('end_minute', sa.Integer(), nullable=False),
    sa.Column('form_days_before', sa.Integer(), nullable=False),
    sa.Column('approvers', sa.JSON(), nullable=False),
    sa.Column('notify_emails', sa.JSON(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', autoinform.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', autoinform.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_templates')),
    sa.UniqueConstraint('name', name=op.f('uq_campaign_templates_name'))
    )
    op.create_table('drop_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('unique_sha256', sa.String(length=64), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=2000), nullable=False),
    sa.Column('moved_to', sa.String(length=500), nullable=False),
    sa.Column('received_at', autoinform.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['contact_lists.id'], name=op.f('fk_drop_files_list_id_contact_lists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drop_files')),
    sa.UniqueConstraint('unique_sha256', name=op.f('uq_drop_files_unique_sha256'))
    )
    with op.batch_alter_table('drop_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drop_files_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_drop_files_sha256'), ['sha256'], unique=False)

    op.create_table('template_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('start_at', autoinform.models.UTCDateTime(), nullable=False),
    sa.Column('end_at', autoinform.models.UTCDateTime(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('list_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=2000), nullable=False),
    sa.Column('created_at', autoinform.models.UTCDateTime(), nullable=False),
    sa.Column('updated_at', autoinform.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_template_runs_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['list_id'], ['contact_lists.id'], name=op.f('fk_template_runs_list_id_contact_lists')),
    sa.ForeignKeyConstraint(['template_id'], ['campaign_templates.id'], name=op.f('fk_template_runs_template_id_campaign_templates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_template_runs')),
    sa.UniqueConstraint('template_id', 'period_key', name=op.f('uq_template_runs_template_id'))
    )
    with op.batch_alter_table('template_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_template_runs_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_template_runs_template_id'), ['template_id'], unique=False)

    op.create_table('template_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.String(length=2000), nullable=False),
    sa.Column('created_at', autoinform.models.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=300), nullable=False),
    sa.Column('done_at', autoinform.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_template_notices_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['run_id'], ['template_runs.id'], name=op.f('fk_template_notices_run_id_template_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_template_notices'))
    )
    with op.batch_alter_table('template_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_template_notices_recipient'), ['recipient'], unique=False)
        batch_op.create_index(batch_op.f('ix_template_notices_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('template_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_template_notices_run_id'))
        batch_op.drop_index(batch_op.f('ix_template_notices_recipient'))

    op.drop_table('template_notices')
    with op.batch_alter_table('template_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_template_runs_template_id'))
        batch_op.drop_index(batch_op.f('ix_template_runs_state'))

    op.drop_table('template_runs')
    with op.batch_alter_table('drop_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drop_files_sha256'))
        batch_op.drop_index(batch_op.f('ix_drop_files_name'))

    op.drop_table('drop_files')
    op.drop_table('campaign_templates')
