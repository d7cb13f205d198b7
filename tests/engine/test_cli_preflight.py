"""The preflight and failure reasons through the command line (issue 9 items 1, 2; AI-5, AI-7, AI-15).

`campaigns create`, `approve` and `start` refuse a campaign that cannot work, saying why; `approve`
and `show` print the warnings the approver accepts; `show`, `report` and `results history` say in
words why deliveries failed.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.config import load_settings
from autoinform.dispatch import Dispatcher
from autoinform.models import Channel, Customer, Delivery
from autoinform.rendering import StoredScenarioRenderer
from autoinform.runtime import open_runtime
from tests.cli_actors import add_user, as_user, point_cli_at
from tests.engine.test_dispatch import Clock, ScriptedChannel, all_done, drive

runner = CliRunner()
AST = ZoneInfo("Europe/Astrakhan")
HOTLINE = '{"hotline_phone": "+78512000000"}'


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    point_cli_at(monkeypatch, tmp_path, twilio=True)
    monkeypatch.setenv("AUTOINFORM_SCENARIO_CONSTANTS", HOTLINE)
    sample = tmp_path / "s.csv"
    ok("lists", "sample", str(sample), "--rows", "40", "--bad-share", "0")
    ok("users", "add", "ivanova", "--role", "specialist")
    ok("users", "add", "petrov", "--role", "manager")
    ok("lists", "import", str(sample), "--name", "Должники", as_="ivanova")
    return tmp_path


def ok(*args: str, as_: str | None = None) -> str:
    """Run a command (acting as the user `as_`, by their API token file) and expect exit 0."""
    if args[:2] == ("users", "add"):
        result = add_user(runner, app, args[2], args[4])
    else:
        result = runner.invoke(app, list(args), env=as_user(as_) if as_ else None)
    assert result.exit_code == 0, result.output
    return result.output


def create(channels: str = "email,sms") -> str:
    return str(json.loads(ok("campaigns", "create", "--name", "Долг", "--scenario", "debt_reminder", "--list",
                             "Должники", "--channels", channels, "--start", "2026-12-07T10:00", "--end",
                             "2026-12-11T20:00", "--json", as_="ivanova"))["id"])


def test_create_is_refused_with_the_reason(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9 item 1: hotline_phone neither in the list nor in scenario_constants refuses `create`,
    naming the variable and where to set it; nothing is created."""
    monkeypatch.delenv("AUTOINFORM_SCENARIO_CONSTANTS")
    r = runner.invoke(app, ["campaigns", "create", "--name", "Долг", "--scenario", "debt_reminder", "--list",
                            "Должники", "--channels", "email", "--start", "2026-12-07T10:00", "--end",
                            "2026-12-11T20:00"], env=as_user("ivanova"))
    assert r.exit_code == 1
    assert "cannot be created" in r.output and "required variable hotline_phone is missing everywhere" in r.output
    assert "scenario_constants.hotline_phone" in r.output
    assert json.loads(ok("campaigns", "ls", "--json")) == []
    refused = runner.invoke(app, ["campaigns", "create", "--name", "Долг", "--scenario", "debt_reminder", "--list",
                                  "Должники", "--channels", "email", "--start", "2026-12-07T10:00", "--end",
                                  "2026-12-11T20:00", "--json"], env=as_user("ivanova"))
    data = json.loads(refused.stdout)
    assert refused.exit_code == 1 and data["refused"] == "create"
    assert [e["code"] for e in data["preflight"]["errors"]] == ["variable_missing_everywhere"]


def test_approve_shows_the_warnings_and_show_lists_them(env: Path) -> None:
    """Issue 9 item 1, AI-15: the approver sees the warnings in `show` before approving and in the
    output of `approve`; they are kept with the campaign."""
    cid = create()
    shown = ok("campaigns", "show", cid)
    assert "preflight (create" in shown and "warning:" in shown and "no consented contact" in shown
    assert "reachable with consent: email" in shown
    approved = ok("campaigns", "approve", cid, as_="petrov")
    assert "preflight (approve" in approved and "no consented contact" in approved
    data = json.loads(ok("campaigns", "show", cid, "--json"))
    assert data["preflight"]["step"] == "approve"
    assert "rows_unreachable" in [w["code"] for w in data["preflight"]["warnings"]]


def test_approve_and_start_refuse_what_became_impossible(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9 item 1: settings changed after `create` (Twilio gone, then the hotline): `approve`
    and `start` refuse saying why, and the campaign stays where it was."""
    cid = create()
    monkeypatch.delenv("AUTOINFORM_TWILIO__AUTH_TOKEN")
    r = runner.invoke(app, ["campaigns", "approve", cid], env=as_user("petrov"))
    assert r.exit_code == 1 and "cannot be approved" in r.output and "sms not configured" in r.output
    assert json.loads(ok("campaigns", "show", cid, "--json"))["state"] == "draft"
    monkeypatch.setenv("AUTOINFORM_TWILIO__AUTH_TOKEN", "test-token")
    ok("campaigns", "approve", cid, as_="petrov")
    monkeypatch.setenv("AUTOINFORM_SCENARIO_CONSTANTS", "{}")
    r = runner.invoke(app, ["campaigns", "start", cid], env=as_user("ivanova"))
    assert r.exit_code == 1 and "cannot start" in r.output and "hotline_phone" in r.output
    assert json.loads(ok("campaigns", "show", cid, "--json"))["total"] == 0
    check = runner.invoke(app, ["campaigns", "check", cid])
    assert check.exit_code == 1 and "hotline_phone" in check.output


def test_start_names_an_smtp_relay_that_does_not_answer(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9 item 1: `start` asks the relay; one that does not answer is a warning (its messages
    wait), not a refusal."""
    import socket

    cid = create("email")
    ok("campaigns", "approve", cid, as_="petrov")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("AUTOINFORM_SMTP__PORT", str(sock.getsockname()[1]))
        started = ok("campaigns", "start", cid, as_="ivanova")
    assert "does not answer now" in started and "preflight (start" in started


async def test_show_report_and_history_say_why_deliveries_failed(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9 item 2: an engine without the hotline constant fails every delivery; `campaigns show`,
    `campaigns report` and `results history` say "missing variable hotline_phone"."""
    cid = create()
    ok("campaigns", "approve", cid, as_="petrov")
    ok("campaigns", "start", cid, as_="ivanova")
    monday = datetime(2026, 12, 7, 12, 0, tzinfo=AST)
    rt = open_runtime(load_settings())
    try:
        renderer = StoredScenarioRenderer(rt.sessions, AST, constants={}, clock=lambda: monday)
        senders = {Channel.EMAIL: ScriptedChannel(Channel.EMAIL), Channel.SMS: ScriptedChannel(Channel.SMS)}
        d = Dispatcher(rt, senders, renderer, worker="w1", clock=Clock(monday))
        await drive(d, all_done(rt, int(cid)))
        with rt.sessions() as s:
            account = s.scalar(select(Customer.account).join(Delivery, Delivery.customer_id == Customer.id)
                               .where(Delivery.reason == "missing_variable").limit(1))
    finally:
        rt.close()
    assert account is not None
    assert "missing variable hotline_phone" in ok("campaigns", "show", cid)
    report = ok("campaigns", "report", cid)
    assert "missing_variable" in report and "missing variable hotline_phone" in report
    history = json.loads(ok("results", "history", account, as_="petrov"))
    assert history[-1]["final_reason_text"] == "missing variable hotline_phone"
    assert history[-1]["reason_text"] == "missing variable hotline_phone"
