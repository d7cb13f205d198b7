"""Acting as a user on the command line in tests (issue 12): users are made through the CLI itself
(the first admin bootstraps, the others get a token file from `users add --token-file`), and a
command acts as a user when AUTOINFORM_TOKEN_FILE names that user's token file.

The token directory sits beside AUTOINFORM_VAR_DIR, which the CLI tests' fixtures set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result


def token_dir() -> Path:
    return Path(os.environ["AUTOINFORM_VAR_DIR"]).parent / "tokens"


def as_user(login: str) -> dict[str, str]:
    return {"AUTOINFORM_TOKEN_FILE": str(token_dir() / f"{login}.token")}


def add_user(runner: CliRunner, app: Any, login: str, role: str) -> Result:
    """`users add LOGIN --role ROLE` by the admin (made first if there is none yet)."""
    if not (token_dir() / "admin.token").exists():
        first = runner.invoke(app, ["users", "add", "admin", "--role", "admin"], env=as_user("admin"))
        assert first.exit_code == 0, first.output
    return runner.invoke(app, ["users", "add", login, "--role", role, "--token-file",
                               str(token_dir() / f"{login}.token")], env=as_user("admin"))


def act_as_specialist(monkeypatch: Any, login: str = "spec") -> None:
    """Make a specialist (and the first admin) through the CLI; every command after this, in this
    test, acts as that specialist."""
    from autoinform.cli import app

    runner = CliRunner()
    made = add_user(runner, app, login, "specialist")
    assert made.exit_code == 0, made.output
    monkeypatch.setenv("AUTOINFORM_TOKEN_FILE", as_user(login)["AUTOINFORM_TOKEN_FILE"])


def give_tokens(sessions: Any, *logins: str) -> None:
    """Token files (where as_user looks) for users made directly in the database."""
    from autoinform import db
    from autoinform.tokens import create_token, write_token_file

    with db.transaction(sessions) as s:
        for login in logins:
            write_token_file(token_dir() / f"{login}.token", create_token(s, login, "tests", actor="admin").secret)


def point_cli_at(monkeypatch: Any, tmp_path: Path, *, twilio: bool = False) -> None:
    """The CLI in this process on a fresh SQLite file under tmp_path, the repository's scenarios and
    audio, no config file; with `twilio`, SMS settings a preflight accepts."""
    from tests.conftest import ROOT

    monkeypatch.setenv("AUTOINFORM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AUTOINFORM_SCENARIOS_DIR", str(ROOT / "scenarios"))
    monkeypatch.setenv("AUTOINFORM_AUDIO_DIR", str(ROOT / "audio"))
    monkeypatch.setenv("AUTOINFORM_CONFIG", str(tmp_path / "none.toml"))
    if twilio:
        monkeypatch.setenv("AUTOINFORM_TWILIO__ACCOUNT_SID", "AC" + "0" * 32)
        monkeypatch.setenv("AUTOINFORM_TWILIO__AUTH_TOKEN", "test-token")
        monkeypatch.setenv("AUTOINFORM_TWILIO__FROM_NUMBER", "+78512000001")
