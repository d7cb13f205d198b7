"""Migration 0010 (issue 12): users made before it keep working (enabled, no password until one is
set, no failed log-ins), and the migration goes down again cleanly, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect, text

from autoinform import db


def test_users_before_0010_are_enabled_without_a_password_and_it_goes_down_again(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        db.upgrade(engine, "0008")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, login, full_name, role, created_at) VALUES "
                              "(1, 'petrov', 'Петров', 'manager', '2026-11-01')"))
        db.upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT password_hash, disabled, failed_logins, last_failed_login_at "
                                    "FROM users")).one()
        assert tuple(row) == (None, False, 0, None)
        tables = set(inspect(engine).get_table_names())
        assert {"web_sessions", "api_tokens"} <= tables
        command.downgrade(db.alembic_config(engine), "0008")
        assert db.current_revision(engine) == "0008"
        inspector = inspect(engine)
        assert "api_tokens" not in inspector.get_table_names()
        assert "password_hash" not in {c["name"] for c in inspector.get_columns("users")}
    finally:
        engine.dispose()
