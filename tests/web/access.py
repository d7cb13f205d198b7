"""Fixtures and helpers of the access tests (issue 12): one user of every role, each with a
password and an API token, and the real app (create_app) over a migrated database.

Imported by the test modules by name (tests/web/conftest.py is left to the pages' tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from autoinform.config import Settings, WebSettings
from autoinform.db import transaction
from autoinform.models import Role
from autoinform.runtime import Runtime, open_runtime
from autoinform.tokens import create_token
from autoinform.users import add_user
from autoinform.web.app import create_app
from tests.conftest import ROOT

PASSWORD = "correct horse battery staple"
LOGINS = {Role.ADMIN: "root", Role.MANAGER: "boss", Role.SPECIALIST: "spec", Role.OPERATOR: "oper",
          Role.VIEWER: "view"}


@dataclass(frozen=True)
class Person:
    login: str
    role: Role
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def web_settings(db_url: str, tmp_path: Path, **web: object) -> Settings:
    return Settings(database_url=db_url, var_dir=tmp_path / "var", scenarios_dir=ROOT / "scenarios",
                    audio_dir=ROOT / "audio", scenario_constants={"hotline_phone": "+78512000000"},
                    web=WebSettings(**{"cookie_secure": False, **web}))  # type: ignore[arg-type]


def make_people(rt: Runtime) -> dict[Role, Person]:
    people = {}
    with transaction(rt.sessions) as s:
        for role, login in LOGINS.items():
            add_user(s, login, role, f"{role.value} name", actor="test", password=PASSWORD)
            people[role] = Person(login, role, create_token(s, login, "test", actor="test").secret)
    return people


@pytest.fixture
def web_rt(tmp_path: Path) -> Iterator[Runtime]:
    rt = open_runtime(web_settings(f"sqlite:///{tmp_path / 'web.db'}", tmp_path))
    yield rt
    rt.close()


@pytest.fixture
def people(web_rt: Runtime) -> dict[Role, Person]:
    return make_people(web_rt)


@pytest.fixture
def app(web_rt: Runtime) -> FastAPI:
    return create_app(web_rt)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        yield c


def log_in(client: TestClient, login: str, password: str = PASSWORD) -> str:
    """Log in through the form; the session's CSRF token (as /api/me gives it to scripts)."""
    r = client.post("/login", data={"login": login, "password": password, "next": "/api/me"})
    assert r.status_code == 303, r.text
    me = client.get("/api/me")
    assert me.status_code == 200 and me.json()["login"] == login
    token = me.json()["csrf_token"]
    assert token
    return str(token)
