"""The desk's pages (issue 13) without Asterisk: who may open them, the card only on the connected
operator's page, wrap-up through the form, actions that need the engine's AMI link refused with 503;
`autoinform users phone` on the command line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from autoinform import db
from autoinform.cli import app as cli_app
from autoinform.desk import store
from autoinform.desk.events import connect_from
from autoinform.models import DeskCall, DeskOperator, Role, User
from autoinform.runtime import Runtime
from autoinform.web.app import create_app
from tests.cli_actors import add_user, as_user
from tests.conftest import ROOT
from tests.desk.conftest import CALLER, NOW, OP1, agent_connect, seed
from tests.web.pages_fixtures import CSRF
from tests.web.pages_fixtures import TestUserMiddleware as UserHeader

ROLES = {"op1": Role.OPERATOR, "op2": Role.OPERATOR, "boss": Role.MANAGER, "view": Role.VIEWER,
         "spec": Role.SPECIALIST}


@pytest.fixture
def page_rt(sqlite_rt: Runtime) -> Runtime:
    return sqlite_rt


@pytest.fixture
def client(page_rt: Runtime) -> Iterator[TestClient]:
    seed(page_rt)
    app = create_app(page_rt)
    app.add_middleware(UserHeader, roles=ROLES)
    with TestClient(app, raise_server_exceptions=True) as c:
        yield c


def get(client: TestClient, url: str, who: str) -> object:
    return client.get(url, headers={"X-Test-User": who})


def post(client: TestClient, url: str, who: str, **data: str) -> object:
    return client.post(url, headers={"X-Test-User": who}, data={"csrf_token": CSRF, **data})


def desk_json(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="desk-state">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def connect(rt: Runtime, call_id: str = "hl-call-1", interface: str = OP1) -> None:
    c = connect_from(agent_connect(call_id, interface))
    assert c is not None
    with db.transaction(rt.sessions) as s:
        store.record_connect(s, c, NOW)


def test_who_may_open_the_desk_and_the_supervisor_view(client: TestClient) -> None:
    for who, desk, sup in (("op1", 200, 403), ("boss", 200, 200), ("view", 403, 403), ("spec", 403, 403)):
        assert get(client, "/desk", who).status_code == desk, who  # type: ignore[attr-defined]
        assert get(client, "/desk/supervisor", who).status_code == sup, who  # type: ignore[attr-defined]
        assert get(client, "/desk/supervisor.json", who).status_code == sup, who  # type: ignore[attr-defined]
    sup = get(client, "/desk/supervisor.json", "boss").json()  # type: ignore[attr-defined]
    assert sup["error"] and [o["login"] for o in sup["operators"]] == ["op1", "op2"]  # no AMI: the DB's part
    assert {o["state"] for o in sup["operators"]} == {"not_in_queue"}
    assert "Рабочее место" in get(client, "/desk", "op1").text  # type: ignore[attr-defined]


def test_the_card_is_on_the_connected_operators_page_only(client: TestClient, page_rt: Runtime) -> None:
    connect(page_rt)
    mine = desk_json(get(client, "/desk", "op1").text)  # type: ignore[attr-defined]
    theirs = desk_json(get(client, "/desk", "op2").text)  # type: ignore[attr-defined]
    call = mine["call"]
    assert isinstance(call, dict) and call["caller"] == CALLER and call["account_typed"] == "300100000001"
    assert theirs["call"] is None and theirs["phone"] != OP1


def test_wrap_up_through_the_form(client: TestClient, page_rt: Runtime) -> None:
    connect(page_rt)
    other = post(client, "/desk/wrapup", "op2", call_id="hl-call-1", topic="Другое")
    assert other.status_code == 400 and "not connected to you" in other.text  # type: ignore[attr-defined]
    bad = post(client, "/desk/wrapup", "op1", call_id="hl-call-1", topic="Другое", task="complaint")
    assert bad.status_code == 400  # type: ignore[attr-defined]
    unknown = post(client, "/desk/wrapup", "op1", call_id="hl-call-1", topic="Другое", task="soon")
    assert unknown.status_code == 400  # type: ignore[attr-defined]
    done = post(client, "/desk/wrapup", "op1", call_id="hl-call-1", topic="Другое", note="спросил про тариф",
                task="visit")
    assert done.status_code == 200 and desk_json(done.text)["call"] is None  # type: ignore[attr-defined]
    with page_rt.sessions() as s:
        row = s.scalar(select(DeskCall).where(DeskCall.call_id == "hl-call-1"))
        assert row is not None and (row.topic, row.note) == ("Другое", "спросил про тариф") and row.task_id


def test_pause_and_callback_need_the_engines_ami_link(client: TestClient, page_rt: Runtime) -> None:
    r = post(client, "/desk/pause", "op1", paused="1", reason="обед")
    assert r.status_code == 503 and "AMI" in r.text  # type: ignore[attr-defined]
    r = post(client, "/desk/callback/1", "op1")
    assert r.status_code == 503  # type: ignore[attr-defined]


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AUTOINFORM_TOKEN_FILE", raising=False)
    monkeypatch.setenv("AUTOINFORM_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("AUTOINFORM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AUTOINFORM_SCENARIOS_DIR", str(ROOT / "scenarios"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def test_users_phone_links_an_operator_to_their_queue_member(cli_env: Path) -> None:
    runner = CliRunner()
    for login, role in (("anna", "operator"), ("boris", "operator"), ("vera", "viewer")):
        assert add_user(runner, cli_app, login, role).exit_code == 0

    def run(*args: str, who: str = "admin") -> tuple[int, str]:
        r = runner.invoke(cli_app, ["users", "phone", *args], env=as_user(who))
        return r.exit_code, r.output
    assert run("anna", "PJSIP/201") == (0, "anna's phone is PJSIP/201\n")
    code, out = run("boris", "PJSIP/201")
    assert code == 1 and "already the phone of anna" in out
    code, out = run("boris", "201")
    assert code == 1 and "not a queue member interface" in out
    code, out = run("vera", "PJSIP/203")
    assert code == 1 and "viewer" in out
    code, out = run("boris", "PJSIP/202", who="anna")
    assert code == 1 and "admin" in out
    assert run("anna", "Local/201@operators/n")[0] == 0
    from autoinform.runtime import open_runtime

    rt = open_runtime()
    try:
        with rt.sessions() as s:
            phones = {u: i for u, i in s.execute(select(User.login, DeskOperator.interface)
                                                 .join(DeskOperator, DeskOperator.user_id == User.id))}
    finally:
        rt.close()
    assert phones == {"anna": "Local/201@operators/n"}
