"""Shared fixtures: a migrated database on every backend (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from autoinform.config import Settings
from autoinform.runtime import Runtime, open_runtime

PG_URL = os.environ.get("AUTOINFORM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("AUTOINFORM_TEST_REQUIRE_PG") == "1"
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def _pg_reachable() -> str | None:
    url = make_url(PG_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=1):
            pass
    except OSError as exc:
        return f"PostgreSQL not reachable at {url.host}:{url.port} ({exc}); set AUTOINFORM_TEST_PG_URL"
    return None


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    reason = _pg_reachable()
    if reason:
        if REQUIRE_PG:
            pytest.fail(reason + " (AUTOINFORM_TEST_REQUIRE_PG=1)")
        pytest.skip(reason)
    return PG_URL


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"autoinform_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, var_dir=tmp_path / "var",
                    scenarios_dir=ROOT / "scenarios", audio_dir=ROOT / "audio")


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = open_runtime(settings)
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture
def sqlite_rt(tmp_path: Path) -> Iterator[Runtime]:
    """SQLite only, for tests whose subject is not storage."""
    runtime = open_runtime(Settings(database_url=f"sqlite:///{tmp_path / 'test.db'}",
                                    var_dir=tmp_path / "var", scenarios_dir=ROOT / "scenarios",
                                    audio_dir=ROOT / "audio"))
    try:
        yield runtime
    finally:
        runtime.close()
