"""Issue 12 item 2 (AI-19): log-in, sessions, CSRF, throttling, expiry; no secret kept or logged in clear."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from autoinform.db import transaction
from autoinform.models import ApiToken, Role, User, WebSession, utcnow
from autoinform.runtime import Runtime, open_runtime
from autoinform.users import set_disabled
from autoinform.web.app import create_app
from autoinform.web.auth import CurrentUser, require
from tests.web import access
from tests.web.access import PASSWORD, Person, log_in, make_people, web_settings

web_rt, people, app, client = access.web_rt, access.people, access.app, access.client  # fixtures


def test_log_in_opens_a_session_and_log_out_ends_it(client: TestClient, people: dict[Role, Person],
                                                    web_rt: Runtime) -> None:
    form = client.get("/login")
    assert form.status_code == 200 and 'name="password"' in form.text and "Вход" in form.text
    r = client.post("/login", data={"login": "boss", "password": PASSWORD, "next": "/campaigns/1"})
    assert r.status_code == 303 and r.headers["location"] == "/campaigns/1"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    me = client.get("/api/me").json()
    assert me["login"] == "boss" and me["role"] == "manager" and me["via"] == "session"
    assert client.get("/login").status_code == 303  # already in: no second log-in form

    refused = client.post("/logout")  # no CSRF token: refused, still logged in
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert client.get("/api/me").status_code == 200
    out = client.post("/logout", data={"csrf_token": me["csrf_token"]})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/api/me").status_code == 401
    with web_rt.sessions() as s:
        assert s.scalar(select(WebSession).limit(1)) is None


def test_wrong_password_unknown_login_and_disabled_user_get_one_message(
        client: TestClient, people: dict[Role, Person], web_rt: Runtime) -> None:
    with transaction(web_rt.sessions) as s:
        set_disabled(s, "oper", True, actor="test")
    answers = [client.post("/login", data={"login": login, "password": pw})
               for login, pw in (("boss", "wrong password!"), ("nobody", PASSWORD), ("oper", PASSWORD))]
    assert [a.status_code for a in answers] == [401, 401, 401]
    errors = {re.search(r'class="error"[^>]*>([^<]*)<', a.text).group(1) for a in answers}  # type: ignore[union-attr]
    assert errors == {"wrong login or password, or the user is disabled"}
    assert "set-cookie" not in answers[0].headers


def test_next_never_leaves_the_site_and_other_sites_cannot_log_in(
        client: TestClient, people: dict[Role, Person], web_rt: Runtime) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = client.post("/login", data={"login": "view", "password": PASSWORD, "next": target})
        assert r.status_code == 303 and r.headers["location"] == "/"
    with web_rt.sessions() as s:  # each log-in replaced the browser's previous session
        assert len(s.scalars(select(WebSession)).all()) == 1
    other = client.post("/login", data={"login": "view", "password": PASSWORD},
                        headers={"Origin": "https://evil.example"})
    assert other.status_code == 403 and "another site" in other.text


def test_secure_cookie_when_served_over_https(tmp_path: Path) -> None:
    rt = open_runtime(web_settings(f"sqlite:///{tmp_path / 's.db'}", tmp_path, cookie_secure=True,
                                   cookie_samesite="strict"))
    try:
        make_people(rt)
        with TestClient(create_app(rt), base_url="https://127.0.0.1", follow_redirects=False) as c:
            r = c.post("/login", data={"login": "view", "password": PASSWORD})
            cookie = r.headers["set-cookie"]
            assert cookie.startswith("__Host-autoinform=") and "Secure" in cookie
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie
            assert c.get("/api/me").json()["login"] == "view"
    finally:
        rt.close()


def test_cookie_secure_off_only_on_loopback() -> None:
    from pydantic import ValidationError

    from autoinform.config import WebSettings

    with pytest.raises(ValidationError, match="loopback"):
        WebSettings(host="0.0.0.0", cookie_secure=False)


def test_unauthenticated_api_is_401_and_pages_redirect_to_log_in(web_rt: Runtime,
                                                                 people: dict[Role, Person]) -> None:
    page = APIRouter()

    @page.get("/managers-only")
    def managers_only(user: CurrentUser = Depends(require(Role.MANAGER))) -> dict[str, str]:
        return {"hello": user.login}

    with TestClient(create_app(web_rt, routers=[page]), base_url="http://127.0.0.1",
                    follow_redirects=False) as c:
        api = c.get("/api/campaigns")
        assert api.status_code == 401 and "log-in required" in api.json()["detail"]
        assert api.headers["www-authenticate"].startswith("Bearer")
        r = c.get("/managers-only?x=1")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fmanagers-only%3Fx%3D1"
        log_in(c, "view")
        assert c.get("/managers-only").status_code == 403
        c.cookies.clear()
        log_in(c, "boss")
        assert c.get("/managers-only").json() == {"hello": "boss"}
        assert c.get("/health").status_code == 200  # no user needed


def test_csrf_is_required_from_a_session_for_json_forms_and_uploads(
        client: TestClient, people: dict[Role, Person]) -> None:
    csrf = log_in(client, "spec")
    files = {"file": ("paid.csv", b"300100000001\n", "text/csv")}
    # fetch() without the header, and with a wrong one
    assert client.post("/api/campaigns/1/pause").status_code == 403
    assert client.post("/api/campaigns/1/pause", headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    ok = client.post("/api/campaigns/1/pause", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 404  # past the CSRF check: there is no campaign 1
    # a multipart form: the hidden field first passes; missing, wrong or after the file it does not
    assert client.post("/api/stoplist", files=files).status_code == 403
    assert client.post("/api/stoplist", data={"csrf_token": "wrong"}, files=files).status_code == 403
    passed = client.post("/api/stoplist", data={"csrf_token": csrf}, files=files)
    assert passed.status_code == 201 and passed.json()["unknown_accounts"] == ["300100000001"]
    boundary = "b0undary"
    late = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.csv\"\r\n\r\n"
            f"300100000001\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
            f"{csrf}\r\n--{boundary}--\r\n").encode()
    r = client.post("/api/stoplist", content=late,
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 403
    # a urlencoded form with the token
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303


def test_token_requests_need_no_csrf_and_bad_tokens_are_refused(
        client: TestClient, people: dict[Role, Person], web_rt: Runtime) -> None:
    spec = people[Role.SPECIALIST]
    assert client.post("/api/campaigns/1/pause", headers=spec.bearer).status_code == 404
    bad = client.get("/api/me", headers={"Authorization": "Bearer aif_not-a-token"})
    assert bad.status_code == 401 and "unknown or revoked" in bad.json()["detail"]
    assert client.get("/health", headers={"Authorization": "Bearer nope"}).status_code == 401
    with transaction(web_rt.sessions) as s:
        set_disabled(s, spec.login, True, actor="test")
    assert client.get("/api/me", headers=spec.bearer).status_code == 401
    metrics = client.get("/api/metrics", headers=people[Role.VIEWER].bearer).json()
    assert metrics["access"]["refused_token"] == 3


def test_log_in_is_throttled_per_login_and_per_address(tmp_path: Path) -> None:
    rt = open_runtime(web_settings(f"sqlite:///{tmp_path / 't.db'}", tmp_path, login_failures_per_login=3,
                                   login_failures_per_address=6, login_lockout_minutes=10))
    try:
        people = make_people(rt)
        with TestClient(create_app(rt), base_url="http://127.0.0.1", follow_redirects=False) as c:
            for _ in range(3):
                assert c.post("/login", data={"login": "boss", "password": "guess guess"}).status_code == 401
            locked = c.post("/login", data={"login": "boss", "password": PASSWORD})  # right, but too late
            assert locked.status_code == 429
            assert "too many failed log-ins for this login; try again in 10 min" in locked.text
            assert c.post("/login", data={"login": "view", "password": PASSWORD}).status_code == 303
            c.cookies.clear()
            for login in ("spec", "oper", "nobody"):
                assert c.post("/login", data={"login": login, "password": "guess guess"}).status_code == 401
            from_here = c.post("/login", data={"login": "root", "password": PASSWORD})
            assert from_here.status_code == 429 and "from your address" in from_here.text
            metrics = c.get("/api/metrics", headers=people[Role.VIEWER].bearer).json()["login"]
            assert metrics == {"succeeded": 1, "failed": 6, "throttled_login": 1, "throttled_address": 1}
        with rt.sessions() as s:
            boss = s.scalar(select(User).where(User.login == "boss"))
            assert boss is not None and boss.failed_logins == 3
            # the lockout is over: the right password works and the count starts again
            s.execute(update(User).where(User.login == "boss")
                      .values(last_failed_login_at=utcnow() - timedelta(minutes=11)))
            s.commit()
        with TestClient(create_app(rt), base_url="http://127.0.0.1", follow_redirects=False) as c:
            assert c.post("/login", data={"login": "boss", "password": PASSWORD}).status_code == 303
        with rt.sessions() as s:
            assert s.scalar(select(User.failed_logins).where(User.login == "boss")) == 0
    finally:
        rt.close()


@pytest.mark.parametrize("column, age", [("last_seen_at", timedelta(minutes=31)),
                                         ("created_at", timedelta(hours=12, minutes=1))])
def test_sessions_expire_when_idle_and_absolutely(client: TestClient, people: dict[Role, Person],
                                                 web_rt: Runtime, column: str, age: timedelta) -> None:
    log_in(client, "boss")
    with transaction(web_rt.sessions) as s:
        s.execute(update(WebSession).values({column: utcnow() - age}))
    assert client.get("/api/me").status_code == 401
    with web_rt.sessions() as s:
        assert s.scalar(select(WebSession).limit(1)) is None  # the expired session is deleted


def test_a_new_password_or_disabling_ends_sessions(client: TestClient, people: dict[Role, Person],
                                                  web_rt: Runtime) -> None:
    from autoinform.users import set_password

    log_in(client, "boss")
    with transaction(web_rt.sessions) as s:
        set_password(s, "boss", "another long password", actor="root")
    assert client.get("/api/me").status_code == 401
    log_in(client, "boss", "another long password")
    with transaction(web_rt.sessions) as s:
        set_disabled(s, "boss", True, actor="root")
    assert client.get("/api/me").status_code == 401


def _all_rows(rt: Runtime) -> str:
    with rt.sessions() as s:
        dump = []
        for table in ("users", "web_sessions", "api_tokens", "audit_log"):
            dump += [repr(tuple(row)) for row in s.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(dump)


def test_passwords_tokens_and_session_ids_are_never_stored_or_logged_in_clear(
        settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    """On SQLite and PostgreSQL: every row of users, sessions, tokens and the audit log, and every
    log line of a log-in, a failed log-in, token use and log-out, without the secrets."""
    caplog.set_level(logging.DEBUG)
    settings.web.cookie_secure = False
    rt = open_runtime(settings)
    try:
        people = make_people(rt)
        with TestClient(create_app(rt), base_url="http://127.0.0.1", follow_redirects=False) as c:
            c.post("/login", data={"login": "boss", "password": "a wrong password"})
            r = c.post("/login", data={"login": "boss", "password": PASSWORD})
            session_id = r.cookies.get("autoinform") or c.cookies.get("autoinform")
            assert session_id
            csrf = c.get("/api/me").json()["csrf_token"]
            c.get("/api/campaigns", headers=people[Role.VIEWER].bearer)
            c.post("/logout", data={"csrf_token": csrf})
        secrets = [PASSWORD, "a wrong password", session_id, *(p.token for p in people.values())]
        rows = _all_rows(rt)
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "log-in: boss" in logged and "log-in failed" in logged
        for secret in secrets:
            assert secret not in rows and secret not in logged
        with rt.sessions() as s:
            hashes = list(s.scalars(select(User.password_hash)))
            assert hashes and all(h and h.startswith("$argon2id$") for h in hashes)
            assert all(len(h) == 64 for h in s.scalars(select(ApiToken.token_hash)))
    finally:
        rt.close()


def test_web_and_fastagi_listen_on_loopback_unless_configured() -> None:
    """Issue 12 item 2: the web app and FastAGI bind 127.0.0.1 by default (engine.py and
    ivr/server.py listen on these settings)."""
    from autoinform.config import IvrSettings, WebSettings

    assert WebSettings().host == "127.0.0.1" and IvrSettings().host == "127.0.0.1"
    assert WebSettings().cookie_secure is True


async def test_log_in_csrf_and_tokens_over_a_real_server_on_loopback(web_rt: Runtime,
                                                                    people: dict[Role, Person]) -> None:
    """The same rules through uvicorn on 127.0.0.1 and a real HTTP client: the form log-in sets the
    cookie, fetch-style requests need X-CSRF-Token, a token needs none, log-out ends the session."""
    import asyncio
    import socket

    import httpx
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(web_rt), log_config=None, access_log=False,
                                           lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            assert (await c.get("/api/campaigns")).status_code == 401
            r = await c.post("/login", data={"login": "spec", "password": PASSWORD})
            assert r.status_code == 303 and "HttpOnly" in r.headers["set-cookie"]
            me = (await c.get("/api/me")).json()
            assert me["login"] == "spec"
            assert (await c.post("/api/campaigns/7/pause")).status_code == 403
            passed = await c.post("/api/campaigns/7/pause", headers={"X-CSRF-Token": me["csrf_token"]})
            assert passed.status_code == 404
            assert (await c.post("/logout", data={"csrf_token": me["csrf_token"]})).status_code == 303
            assert (await c.get("/api/me")).status_code == 401
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            boss = people[Role.MANAGER]
            assert (await c.post("/api/campaigns/7/pause", headers=boss.bearer)).status_code == 404
    finally:
        server.should_exit = True
        await task
        sock.close()
