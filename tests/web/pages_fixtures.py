"""Fixtures for the page, live-update and browser tests (issue 12 item 1).

Log-in is not these tests' subject: a test-only middleware puts the user named by the
`X-Test-User` header (or `test_user` cookie, for the browser) on `request.state.user`, with a fixed
CSRF token on `request.state.csrf_token`, exactly where the real authentication middleware puts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from time import monotonic as time_now
from time import sleep
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from autoinform import db
from autoinform.channels.base import SendResult
from autoinform.config import Settings, WindowSettings
from autoinform.deliveries import Done, claim, record
from autoinform.models import Channel, Outcome, Role, utcnow
from autoinform.policy import RetryPolicy
from autoinform.runtime import Runtime, open_runtime
from autoinform.users import add_user
from autoinform.web.app import create_app
from autoinform.web.auth import CurrentUser
from tests.conftest import ROOT
from tests.engine.builders import Built, Person, SimpleRenderer, campaign

__all__ = ["live_rt", "page_rt", "web"]

CSRF = "test-csrf-token"
DEBT = ROOT / "scenarios" / "debt_reminder.yaml"
HOTLINE = {"hotline_phone": "+78512000000"}
# login -> role: one of each, and a second manager (the first one's campaigns need another's approval)
USERS = {"spec": Role.SPECIALIST, "boss": Role.MANAGER, "boss2": Role.MANAGER, "op": Role.OPERATOR,
         "view": Role.VIEWER, "root": Role.ADMIN}
ANY_HOUR = WindowSettings(start=time(0), end=time(23, 59, 59, 999999), calendar="any")


class TestUserMiddleware:
    """Sets request.state.user and request.state.csrf_token as the real middleware does."""

    def __init__(self, app: ASGIApp, roles: dict[str, Role]) -> None:
        self.app = app
        self.roles = roles

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            login = headers.get("x-test-user")
            if login is None and "cookie" in headers:
                jar: SimpleCookie = SimpleCookie(headers["cookie"])
                login = jar["test_user"].value if "test_user" in jar else None
            state = scope.setdefault("state", {})
            if login in self.roles:
                state["user"] = CurrentUser(login, self.roles[login])
                state["csrf_token"] = CSRF
        await self.app(scope, receive, send)


def web_settings(url: str, tmp: Path) -> Settings:
    return Settings(database_url=url, var_dir=tmp / "var", scenarios_dir=ROOT / "scenarios",
                    audio_dir=ROOT / "audio", window=ANY_HOUR, scenario_constants=HOTLINE)


def seed_users(rt: Runtime) -> None:
    with db.transaction(rt.sessions) as s:
        for login, role in USERS.items():
            add_user(s, login, role)


@pytest.fixture
def page_rt(tmp_path: Path) -> Iterator[Runtime]:
    """SQLite with the six users: for pages, whose subject is not storage."""
    rt = open_runtime(web_settings(f"sqlite:///{tmp_path / 'web.db'}", tmp_path))
    seed_users(rt)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def live_rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """Both backends with the six users: for live updates, whose subject is storage."""
    rt = open_runtime(web_settings(db_url, tmp_path))
    seed_users(rt)
    try:
        yield rt
    finally:
        rt.close()


def web_app(rt: Runtime) -> FastAPI:
    app = create_app(rt)
    app.add_middleware(TestUserMiddleware, roles=USERS)
    return app


@dataclass
class Web:
    rt: Runtime
    client: TestClient

    def get(self, url: str, who: str | None, **kw: Any) -> Any:
        return self.client.get(url, headers={"X-Test-User": who} if who else {}, **kw)

    def post(self, url: str, who: str | None, **kw: Any) -> Any:
        return self.client.post(url, headers={"X-Test-User": who} if who else {}, follow_redirects=False, **kw)


@pytest.fixture
def web(page_rt: Runtime) -> Iterator[Web]:
    with TestClient(web_app(page_rt), raise_server_exceptions=True) as client:
        yield Web(page_rt, client)


def people(n: int, prefix: str = "70") -> list[Person]:
    return [Person(f"{prefix}{i:04d}", email=f"client{prefix}{i:04d}@example.ru", phone=f"+7851200{i:04d}")
            for i in range(1, n + 1)]


def draft(rt: Runtime, n: int = 3, *, name: str = "web", start: datetime | None = None,
          channels: tuple[Channel, ...] = (Channel.EMAIL,), prefix: str = "70") -> Built:
    """A draft formed by `spec` from the shipped debt reminder, starting now, ending in three days."""
    start = start or utcnow().replace(microsecond=0) - timedelta(minutes=1)
    return campaign(rt, people(n, prefix), channels=list(channels), start=start, end=start + timedelta(days=3),
                    approve=False, launch=False, name=name, scenario_file=DEBT)


def finish(rt: Runtime, limit: int, outcome: Outcome = Outcome.POSITIVE, reason: str = "accepted") -> int:
    """End up to `limit` due deliveries through the engine's own functions: claimed, then recorded."""
    now = utcnow()
    cfg = rt.settings.dispatch
    policies = {Channel.EMAIL: RetryPolicy(cfg.email), Channel.SMS: RetryPolicy(cfg.sms),
                Channel.PHONE: RetryPolicy(cfg.phone)}
    with db.transaction(rt.sessions) as s:
        report = claim(s, now=now, limit=limit, worker="test", lease_s=60, window=rt.window,
                       renderer=SimpleRenderer())
    with db.transaction(rt.sessions) as s:
        record(s, [Done(w, SendResult(outcome, reason), utcnow()) for w in report.work], policies=policies,
               status_timeout_s=60, worker="test")
    return len(report.work)


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """The app on a free port of 127.0.0.1 in a thread, as `autoinform web` serves it; the base URL."""
    import threading

    from autoinform.web.serve import web_server

    server = web_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, name="test-web", daemon=True)
    thread.start()
    deadline = time_now() + 20
    while not server.started:
        if not thread.is_alive() or time_now() > deadline:
            raise RuntimeError("the test web server did not start")
        sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
