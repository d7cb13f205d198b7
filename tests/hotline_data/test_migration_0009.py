"""Migration 0009 (issue 11): the hotline tables exactly as the models declare them, and down again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from autoinform import db
from autoinform.models import Base

TABLES = {"billing_imports", "billing_rejections", "account_balances", "meter_readings", "hotline_tasks",
          "hotline_calls", "hotline_queue_events", "hotline_recordings", "inbound_sms"}


def test_0009_matches_the_models_and_goes_down_cleanly(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        db.upgrade(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = [d for d in compare_metadata(ctx, Base.metadata)
                    if any(t in repr(d) for t in TABLES)]
        assert diff == []
        assert set(inspect(engine).get_table_names()) >= TABLES
        command.downgrade(db.alembic_config(engine), "0008")
        assert not TABLES & set(inspect(engine).get_table_names())
        db.upgrade(engine, "0009")
        assert db.current_revision(engine) == "0009"
    finally:
        engine.dispose()
