"""Migration 0013 (issue 13): the desk's tables exactly as the models declare them, and down again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from autoinform import db
from autoinform.models import Base

TABLES = {"desk_operators", "desk_calls", "desk_callbacks"}


def test_0013_matches_the_models_and_goes_down_cleanly(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        db.upgrade(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = [d for d in compare_metadata(ctx, Base.metadata) if any(t in repr(d) for t in TABLES)]
        assert diff == []
        command.downgrade(db.alembic_config(engine), "0010")
        assert not TABLES & set(inspect(engine).get_table_names())
        db.upgrade(engine, "0013")
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
