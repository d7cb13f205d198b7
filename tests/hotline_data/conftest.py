"""Fixtures for the hotline back office: a runtime with its recordings folder, customers with
contact points, users by role, and the CLI pointed at the same database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from autoinform import db
from autoinform.config import HotlineSettings, Settings
from autoinform.models import Channel, ContactPoint, ContactSource, Customer, LineType, Role
from autoinform.runtime import Runtime
from autoinform.users import add_user
from tests.cli_actors import give_tokens
from tests.conftest import ROOT

# Wednesday 2 December 2026, 10:00 in Astrakhan (UTC+4): inside the default reception hours.
WED_10 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
SMS_PHONE = "+79991234567"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, var_dir=tmp_path / "var", scenarios_dir=ROOT / "scenarios",
                    audio_dir=ROOT / "audio",
                    hotline=HotlineSettings(recordings_dir=tmp_path / "recordings", max_reading_increase=5000))


AddCustomer = Callable[..., int]


@pytest.fixture
def add_customer(rt: Runtime) -> AddCustomer:
    def add(account: str, *phones: str) -> int:
        with db.transaction(rt.sessions) as s:
            c = Customer(account=account, name="Иванов Иван", group=1)
            s.add(c)
            s.flush()
            for p in phones:
                s.add(ContactPoint(customer_id=c.id, channel=Channel.SMS, value=p, line_type=LineType.MOBILE,
                                   source=ContactSource.VOLUNTARY))
            return c.id
    return add


@pytest.fixture
def users(rt: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Users by role, each with a token file where tests.cli_actors.as_user looks for it (the CLI
    acts as the token's owner, issue 12)."""
    logins = {"op": Role.OPERATOR, "op2": Role.OPERATOR, "spec": Role.SPECIALIST, "mgr": Role.MANAGER}
    with db.transaction(rt.sessions) as s:
        for login, role in logins.items():
            add_user(s, login, role)
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(settings.var_dir))
    give_tokens(rt.sessions, *logins)


@pytest.fixture
def cli_env(rt: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI in this process reads the same database and folders as `rt`."""
    monkeypatch.setenv("AUTOINFORM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("AUTOINFORM_SCENARIOS_DIR", str(ROOT / "scenarios"))
    monkeypatch.setenv("AUTOINFORM_AUDIO_DIR", str(ROOT / "audio"))
    monkeypatch.setenv("AUTOINFORM_HOTLINE__RECORDINGS_DIR", str(settings.hotline.recordings_dir))
    monkeypatch.setenv("AUTOINFORM_CONFIG", str(settings.var_dir / "none.toml"))
    return settings
