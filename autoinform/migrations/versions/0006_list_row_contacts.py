"""list row contacts and superseded contact points (issue 8 item 4)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 21:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import autoinform.models


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('list_row_contacts',
    sa.Column('list_row_id', sa.Integer(), nullable=False),
    sa.Column('contact_point_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('list_row_id', 'contact_point_id', name=op.f('pk_list_row_contacts'))
    )
    with op.batch_alter_table('list_row_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_list_row_contacts_contact_point_id'), ['contact_point_id'], unique=False)

    with op.batch_alter_table('contact_points', schema=None) as batch_op:
        batch_op.add_column(sa.Column('superseded_at', autoinform.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('superseded_by_list_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_contact_points_superseded_by_list_id_contact_lists'), 'contact_lists', ['superseded_by_list_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('list_rows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_kinds', sa.Integer(), server_default='0', nullable=False))

    # Rows imported before this revision were sent to every contact of their customer: link them
    # to exactly those, in the order the contacts were created, so they keep working as before.
    op.execute(
        "INSERT INTO list_row_contacts (list_row_id, contact_point_id, position) "
        "SELECT r.id, cp.id, cp.id FROM list_rows r JOIN contact_points cp ON cp.customer_id = r.customer_id"
    )


def downgrade() -> None:
    with op.batch_alter_table('contact_points', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_contact_points_superseded_by_list_id_contact_lists'), type_='foreignkey')
        batch_op.drop_column('superseded_by_list_id')
        batch_op.drop_column('superseded_at')

    with op.batch_alter_table('list_rows', schema=None) as batch_op:
        batch_op.drop_column('contact_kinds')

    with op.batch_alter_table('list_row_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_list_row_contacts_contact_point_id'))

    op.drop_table('list_row_contacts')
