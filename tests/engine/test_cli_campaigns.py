"""The campaign CLI end to end on a temporary SQLite database (AI-7, AI-15, AI-19)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from autoinform.cli import app
from tests.cli_actors import add_user, as_user, point_cli_at

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    point_cli_at(monkeypatch, tmp_path, twilio=True)
    # debt_reminder names the hotline; without it the preflight refuses the campaign (issue 9 item 1).
    monkeypatch.setenv("AUTOINFORM_SCENARIO_CONSTANTS", '{"hotline_phone": "+78512000000"}')
    return tmp_path


def ok(*args: str, as_: str | None = None) -> str:
    """Run a command (acting as the user `as_`, by their API token file) and expect exit 0."""
    if args[:2] == ("users", "add"):
        result = add_user(runner, app, args[2], args[4])
    else:
        result = runner.invoke(app, list(args), env=as_user(as_) if as_ else None)
    assert result.exit_code == 0, result.output
    return result.output


def _draft(env: Path, rows: int, channels: str) -> dict[str, Any]:
    """A sample list imported, a specialist and a manager, and a draft campaign on the list."""
    sample = env / "s.csv"
    ok("lists", "sample", str(sample), "--rows", str(rows), "--bad-share", "0")
    ok("users", "add", "ivanova", "--role", "specialist")
    ok("users", "add", "petrov", "--role", "manager")
    ok("lists", "import", str(sample), "--name", "Должники", as_="ivanova")
    created: dict[str, Any] = json.loads(ok(
        "campaigns", "create", "--name", "Долг", "--scenario", "debt_reminder", "--list", "Должники",
        "--channels", channels, "--start", "2026-12-07T10:00", "--end", "2026-12-11T20:00",
        "--json", as_="ivanova"))
    return created


def test_form_approve_start_report(env: Path) -> None:
    created = _draft(env, 40, "email,sms")
    cid = str(created["id"])
    assert created["state"] == "draft" and created["start_at"] == "2026-12-07T06:00:00+00:00"  # local → UTC

    own = runner.invoke(app, ["campaigns", "approve", cid], env=as_user("ivanova"))
    assert own.exit_code == 1 and "specialist" in own.output
    early = runner.invoke(app, ["campaigns", "start", cid], env=as_user("ivanova"))
    assert early.exit_code == 1 and "cannot schedule while draft" in early.output

    ok("campaigns", "approve", cid, as_="petrov")
    started = json.loads(ok("campaigns", "start", cid, "--json", as_="ivanova"))
    assert started["total"] == 40 and started["approved_by"] == "petrov"
    assert started["state"] in ("scheduled", "running")
    report = json.loads(ok("campaigns", "report", cid, "--json"))
    assert report["deliveries"] == {"pending": 40}
    assert "Долг" in ok("campaigns", "ls")

    cancelled = json.loads(ok("campaigns", "cancel", cid, "--json", as_="petrov"))
    assert cancelled["state"] == "cancelled"
    assert cancelled["results"] == [{"outcome": "negative", "reason": "cancelled", "count": 40,
                                     "text": "the campaign was cancelled"}]
    final = json.loads(ok("campaigns", "report", cid, "--json"))  # AI-5, rolled up (6.2.4)
    assert sum(g["done"] for g in final["by_group"]) == 40 == sum(d["done"] for d in final["by_division"])
    assert final["positive_rate"] == 0.0 and {g["key"] for g in final["by_group"]} <= {1, 2, 3, 4}


def test_bad_usage_exits_two(env: Path) -> None:
    r = runner.invoke(app, ["campaigns", "create", "--name", "x", "--scenario", "debt_reminder", "--list", "x",
                            "--channels", "fax", "--start", "2026-12-07T10:00", "--end", "2026-12-08T10:00",
                            ])
    assert r.exit_code == 2 and "channels" in r.output


def test_history_export_needs_a_manager_and_is_formula_safe(env: Path) -> None:
    sample = env / "s.csv"
    ok("lists", "sample", str(sample), "--rows", "5", "--bad-share", "0")
    ok("users", "add", "spec", "--role", "specialist")
    ok("users", "add", "boss", "--role", "manager")
    ok("lists", "import", str(sample), "--name", "L", as_="spec")
    account = sample.read_bytes().decode("cp1251").splitlines()[1].split(";")[0].strip('"')
    denied = runner.invoke(app, ["results", "history", account], env=as_user("spec"))
    assert denied.exit_code == 1 and "manager" in denied.output
    assert json.loads(ok("results", "history", account, as_="boss")) == []
    stop = env / "paid.txt"
    stop.write_text(f"account\n{account}\n", encoding="utf-8")
    assert "1 accounts" in ok("results", "stop", str(stop), as_="spec")


def test_a_chain_the_installation_cannot_send_on_is_refused_at_start(env: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 8 item 3 (AI-7, AI-14): without Twilio settings an SMS campaign is refused at start with
    what is missing, instead of ending every delivery negative "channel not configured"."""
    cid = str(_draft(env, 5, "sms,email")["id"])
    ok("campaigns", "approve", cid, as_="petrov")
    monkeypatch.delenv("AUTOINFORM_TWILIO__AUTH_TOKEN")
    refused = runner.invoke(app, ["campaigns", "start", cid], env=as_user("ivanova"))
    assert refused.exit_code == 1
    assert "cannot start" in refused.output and "twilio.auth_token" in refused.output
    assert json.loads(ok("campaigns", "report", cid, "--json"))["state"] == "approved"  # nothing formed
    monkeypatch.setenv("AUTOINFORM_TWILIO__AUTH_TOKEN", "test-token")
    assert json.loads(ok("campaigns", "start", cid, "--json", as_="ivanova"))["total"] == 5
