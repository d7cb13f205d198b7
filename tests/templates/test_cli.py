"""`autoinform templates create|list|show|pause|resume|history` (issue 14 item 4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.runtime import open_runtime
from autoinform.templates.forming import tick
from tests.cli_actors import add_user, as_user, point_cli_at

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    point_cli_at(monkeypatch, tmp_path)
    for login, role in (("spec", "specialist"), ("boss", "manager"), ("watch", "viewer")):
        made = add_user(runner, app, login, role)
        assert made.exit_code == 0, made.output
    return tmp_path


def run(*args: str, as_: str = "spec") -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=as_user(as_))
    return result.exit_code, result.output


CREATE = ("templates", "create", "--name", "debts", "--scenario", "debt_reminder", "--channels", "email,sms",
          "--source", "drop:debt_*.csv", "--days", "10-15", "--hours", "10:00-19:00", "--approver", "role:manager",
          "--approver", "boss", "--notify", "boss@example.ru", "--json")


def test_create_show_list_pause_resume_history(env: Path) -> None:
    code, out = run(*CREATE)
    assert code == 0, out
    made = json.loads(out)
    assert (made["days"], made["hours"], made["period"], made["channels"]) == ("10-15", "10:00-19:00", "monthly",
                                                                               ["email", "sms"])
    assert made["approvers"] == ["role:manager", "boss"] and made["next_due_at"]
    code, out = run("templates", "list", "--json", as_="watch")
    assert code == 0 and [t["name"] for t in json.loads(out)] == ["debts"]
    code, out = run("templates", "pause", "debts", "--json", as_="boss")
    assert code == 0 and json.loads(out)["paused"] is True and json.loads(out)["next_due_at"] is None
    code, out = run("templates", "pause", "debts")
    assert code == 1 and "already paused" in out
    code, out = run("templates", "resume", "debts")
    assert code == 0, out
    code, out = run("templates", "show", "debts")
    assert code == 0 and "drop:debt_*.csv" in out and "no period yet" in out
    # A period with no export: the history says so.
    rt = open_runtime()
    try:
        tick(rt, datetime(2027, 3, 9, 12, tzinfo=UTC))
        tick(rt, datetime(2027, 3, 10, 12, tzinfo=UTC))
    finally:
        rt.close()
    code, out = run("templates", "history", "debts", "--json", as_="watch")
    assert code == 0 and [(h["period"], h["state"]) for h in json.loads(out)] == [("2027-03", "no_list")]
    code, out = run("templates", "drops", "--json", as_="watch")
    assert code == 0 and json.loads(out) == []


def test_refusals(env: Path) -> None:
    code, out = run(*CREATE, as_="watch")
    assert code == 1 and "viewer" in out  # a viewer forms nothing
    bad_approver = list(CREATE)
    bad_approver[bad_approver.index("boss")] = "spec"
    code, out = run(*bad_approver)
    assert code == 1 and "only managers" in out
    for option, value, message in (("--days", "15-10", "first <= last"), ("--hours", "10-19", "hours must"),
                                   ("--source", "debt_*.csv", "drop:GLOB"), ("--channels", "phone,fax", "channels")):
        args = list(CREATE)
        args[args.index(option) + 1] = value
        code, out = run(*args)
        assert code != 0 and message in out, (option, out)
    assert run(*CREATE)[0] == 0
    code, out = run(*CREATE)
    assert code == 1 and "already exists" in out
    code, out = run("templates", "show", "nope")
    assert code == 1 and "not found" in out
