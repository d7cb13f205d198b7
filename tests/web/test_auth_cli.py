"""Issue 12 item 2 (AI-15): the command line acts as the owner of the caller's API token file, never as
whoever `--as NAME` named; the first admin bootstraps; the token file is refused when others may
read it; the four-eyes rule holds on the command line as on the web (tests/web/test_api.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner, Result

from autoinform.cli import app
from autoinform.models import ApiToken, User
from autoinform.runtime import open_runtime
from tests.cli_actors import add_user, as_user, token_dir
from tests.conftest import ROOT

runner = CliRunner()


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # ~/.config/autoinform/token lives here
    monkeypatch.delenv("AUTOINFORM_TOKEN_FILE", raising=False)
    monkeypatch.setenv("AUTOINFORM_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("AUTOINFORM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AUTOINFORM_SCENARIOS_DIR", str(ROOT / "scenarios"))
    monkeypatch.setenv("AUTOINFORM_SCENARIO_CONSTANTS", '{"hotline_phone": "+78512000000"}')
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def run(*args: str, as_: str | None = None, stdin: str | None = None) -> Result:
    return runner.invoke(app, list(args), env=as_user(as_) if as_ else None, input=stdin)


def test_the_first_admin_bootstraps_into_the_default_token_file(env: Path) -> None:
    first = run("users", "add", "ivanova", "--role", "specialist")
    assert first.exit_code == 1 and "the first one is an admin" in first.output
    made = run("users", "add", "root", "--role", "admin")
    assert made.exit_code == 0, made.output
    token = env / "home" / ".config" / "autoinform" / "token"
    assert token.stat().st_mode & 0o777 == 0o600 and (token.parent.stat().st_mode & 0o777) == 0o700
    assert json.loads(run("users", "whoami", "--json").output) == {"login": "root", "role": "admin"}
    # a second bootstrap is an ordinary `users add`: by an admin only
    assert run("users", "add", "spec", "--role", "specialist", "--token-file", "spec.token").exit_code == 0
    denied = runner.invoke(app, ["users", "add", "x", "--role", "admin"],
                           env={"AUTOINFORM_TOKEN_FILE": str(env / "spec.token")})
    assert denied.exit_code == 1 and "spec is specialist; this needs admin" in denied.output


def test_a_token_file_others_can_read_is_refused(env: Path) -> None:
    assert add_user(runner, app, "spec", "specialist").exit_code == 0
    path = token_dir() / "spec.token"
    path.chmod(0o640)
    refused = run("users", "whoami", as_="spec")
    assert refused.exit_code == 1 and "mode 0640: others may read it" in refused.output
    assert "aif_" not in refused.output  # the token itself is never printed
    path.chmod(0o600)
    assert run("users", "whoami", as_="spec").output.strip() == "spec (specialist)"
    missing = run("users", "whoami", as_="nobody")
    assert missing.exit_code == 1 and "no API token at" in missing.output
    path.write_text("aif_forged\n")
    assert "unknown or revoked" in run("users", "whoami", as_="spec").output


def test_as_is_gone_and_the_four_eyes_rule_holds_on_the_command_line(env: Path) -> None:
    for login, role in (("spec", "specialist"), ("petrov", "manager")):
        assert add_user(runner, app, login, role).exit_code == 0
    sample = env / "s.csv"
    assert run("lists", "sample", str(sample), "--rows", "12", "--bad-share", "0").exit_code == 0
    assert run("lists", "import", str(sample), "--name", "L", as_="spec").exit_code == 0
    form = ("campaigns", "create", "--name", "C", "--scenario", "debt_reminder", "--list", "L", "--channels",
            "email", "--start", "2026-12-07T10:00", "--end", "2026-12-11T20:00", "--json")
    by_admin = run(*form, as_="admin")
    assert by_admin.exit_code == 0, by_admin.output
    own = str(json.loads(by_admin.output)["id"])
    # before: `--as petrov` let anyone approve as the manager
    old_way = run("campaigns", "approve", own, "--as", "petrov", as_="admin")
    assert old_way.exit_code == 2 and "--as" in old_way.output
    refused = run("campaigns", "approve", own, as_="admin")
    assert refused.exit_code == 1 and "author of a campaign cannot approve it" in refused.output
    by_spec = str(json.loads(run(*form, as_="spec").output)["id"])
    assert "this needs manager" in run("campaigns", "approve", by_spec, as_="spec").output
    approved = run("campaigns", "approve", by_spec, "--json", as_="petrov")
    assert approved.exit_code == 0 and json.loads(approved.output)["approved_by"] == "petrov"
    history = run("results", "history", "300100000002", as_="spec")
    assert history.exit_code == 1 and "this needs manager" in history.output


def test_users_commands_are_for_admins_and_secrets_stay_out_of_the_database(env: Path) -> None:
    for login, role in (("spec", "specialist"), ("boss", "manager")):
        assert add_user(runner, app, login, role).exit_code == 0
    for args in (("users", "role", "boss", "admin"), ("users", "disable", "boss"),
                 ("users", "passwd", "boss", "--password-stdin"), ("users", "token", "list", "--all"),
                 ("users", "token", "create", "x", "--user", "boss")):
        r = run(*args, as_="spec", stdin="a long enough password\n")
        assert r.exit_code == 1 and ("admin" in r.output), (args, r.output)
    assert run("users", "passwd", "spec", "--password-stdin", as_="spec",
               stdin="my own long password\n").exit_code == 0  # one's own password: yes
    short = run("users", "passwd", "spec", "--password-stdin", as_="spec", stdin="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    assert run("users", "role", "boss", "viewer", as_="admin").output.strip() == "boss is now viewer"
    made = run("users", "token", "create", "laptop", as_="spec")
    secret = made.stdout.strip()
    assert made.exit_code == 0 and secret.startswith("aif_")
    listed = run("users", "token", "list", "--json", as_="spec")
    assert secret not in listed.output and [t["name"] for t in json.loads(listed.output)] == ["cli", "laptop"]
    laptop = next(t["id"] for t in json.loads(listed.output) if t["name"] == "laptop")
    assert run("users", "token", "revoke", str(laptop), as_="spec").exit_code == 0
    assert run("users", "disable", "spec", as_="admin").exit_code == 0
    assert "user spec is disabled" in run("users", "whoami", as_="spec").output
    last = run("users", "disable", "admin", as_="admin")
    assert last.exit_code == 1 and "last enabled admin" in last.output

    rt = open_runtime()
    try:
        with rt.sessions() as s:
            dump = "\n".join(repr(tuple(r)) for t in ("users", "api_tokens", "audit_log")
                             for r in s.execute(text(f"SELECT * FROM {t}")))
            spec = s.scalar(select(User).where(User.login == "spec"))
            revoked = s.get(ApiToken, laptop)
        assert spec is not None and spec.password_hash and spec.password_hash.startswith("$argon2id$")
        assert revoked is not None and revoked.revoked_at is not None
        files = [p.read_text().strip() for p in token_dir().glob("*.token")]
        for clear in ("my own long password", secret, *files):
            assert clear not in dump
    finally:
        rt.close()
