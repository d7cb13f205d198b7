"""Migration 0006 (issue 8 item 4): list rows imported before it keep the contacts they used."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from autoinform import db


def test_rows_imported_before_0006_are_linked_to_their_customers_contacts(db_url: str) -> None:
    """Issue 8 item 4, AI-11: before 0006 a row used all its customer's contacts; after, it is
    linked to exactly those, in creation order, and the migration goes down again cleanly."""
    engine = create_engine(db_url)
    try:
        db.upgrade(engine, "0005")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO customers (id, account, name, \"group\", address, created_at, updated_at) "
                              "VALUES (1, '1', 'x', 1, '', '2026-11-01', '2026-11-01'), "
                              "(2, '2', 'y', 1, '', '2026-11-01', '2026-11-01')"))
            conn.execute(text("INSERT INTO contact_points (id, customer_id, channel, value, line_type, source, "
                              "source_ref, consent, created_at) VALUES "
                              "(10, 1, 'sms', '+79001110001', 'mobile', 'voluntary', '', true, '2026-11-01'), "
                              "(11, 1, 'email', 'a@example.ru', 'email', 'voluntary', '', true, '2026-11-01'), "
                              "(12, 2, 'email', 'b@example.ru', 'email', 'voluntary', '', true, '2026-11-01')"))
            conn.execute(text("INSERT INTO contact_lists (id, name, source_file, sha256, created_by, created_at, "
                              "rows_read, rows_imported, rows_merged, rows_rejected, complete) VALUES "
                              "(5, 'old', '', '', '', '2026-11-01', 2, 2, 0, 0, true)"))
            conn.execute(text("INSERT INTO list_rows (id, list_id, customer_id, row_number, variables) VALUES "
                              "(7, 5, 1, 2, '{}'), (8, 5, 2, 3, '{}')"))
        db.upgrade(engine)
        with engine.connect() as conn:
            links = conn.execute(text("SELECT list_row_id, contact_point_id FROM list_row_contacts "
                                      "ORDER BY list_row_id, position")).all()
            kinds = conn.execute(text("SELECT contact_kinds FROM list_rows")).scalars().all()
            superseded = conn.execute(text("SELECT count(*) FROM contact_points WHERE superseded_at IS NOT NULL"))
            assert superseded.scalar_one() == 0
        assert [tuple(r) for r in links] == [(7, 10), (7, 11), (8, 12)]
        assert kinds == [0, 0]
        command.downgrade(db.alembic_config(engine), "0005")
        assert db.current_revision(engine) == "0005"
    finally:
        engine.dispose()
