"""Settings: validated at start-up with clear messages, secrets never printed (AI-19)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.config import load_settings
from autoinform.errors import ConfigError

runner = CliRunner()


def test_defaults_are_the_embedded_sqlite_and_astrakhan(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.database_url == "sqlite:///var/autoinform.db"
    assert s.timezone == "Europe/Astrakhan" and str(s.window.start) == "10:00:00"


def test_environment_and_toml_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "autoinform.toml"
    cfg.write_text('timezone = "Europe/Moscow"\n[smtp]\nhost = "mail.example.ru"\nport = 587\n', encoding="utf-8")
    monkeypatch.setenv("AUTOINFORM_CONFIG", str(cfg))
    monkeypatch.setenv("AUTOINFORM_SMTP__PORT", "2525")  # the environment wins over the file
    s = load_settings()
    assert (s.timezone, s.smtp.host, s.smtp.port) == ("Europe/Moscow", "mail.example.ru", 2525)


@pytest.mark.parametrize(("env", "value", "message"), [
    ("AUTOINFORM_TIMEZONE", "Mars/Olympus", "unknown time zone"),
    ("AUTOINFORM_DATABASE_URL", "mysql://x", "only sqlite"),
    ("AUTOINFORM_SMTP__PORT", "70000", "smtp.port"),
    ("AUTOINFORM_WINDOW__START", "21:00", "must be before end"),
    ("AUTOINFORM_NO_SUCH_KEY", "1", None),  # unknown environment variables are not ours to refuse
])
def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch, env: str, value: str, message: str | None) -> None:
    monkeypatch.setenv(env, value)
    if message is None:
        load_settings()
        return
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_unknown_key_in_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text("databse_url = 'sqlite://'\n", encoding="utf-8")
    monkeypatch.setenv("AUTOINFORM_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match="databse_url"):
        load_settings()


def test_secrets_are_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOINFORM_SMTP__PASSWORD", "pa55-smtp-secret")
    monkeypatch.setenv("AUTOINFORM_TWILIO__AUTH_TOKEN", "tw-token-secret")
    s = load_settings()
    assert "pa55-smtp-secret" not in repr(s) and "tw-token-secret" not in repr(s)
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0
    assert "pa55-smtp-secret" not in result.output and "tw-token-secret" not in result.output
    assert "**********" in result.output


def test_config_check_exit_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(app, ["config", "check"]).exit_code == 0
    monkeypatch.setenv("AUTOINFORM_TIMEZONE", "Nowhere/Nothing")
    bad = runner.invoke(app, ["config", "check"])
    assert bad.exit_code == 2 and "timezone" in bad.output


SECRETS = {
    "AUTOINFORM_DATABASE_URL": ("postgresql://u:s3cret-db@db.example.invalid/autoinform", "s3cret-db"),
    "AUTOINFORM_SMTP__PASSWORD": ("pa55-smtp-secret", "pa55-smtp-secret"),
    "AUTOINFORM_TWILIO__AUTH_TOKEN": ("tw-token-secret", "tw-token-secret"),
    "AUTOINFORM_AMI__SECRET": ("ami-s3cret", "ami-s3cret"),
    "AUTOINFORM_TWILIO__API_BASE_URL": ("http://proxyuser:pr0xy-pw@127.0.0.1:9/", "pr0xy-pw"),
}


def test_config_show_masks_every_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 8 item 12 (AI-19): `config show`, repr() and str() of the settings print no URL password
    and no secret; the URLs themselves stay readable so the operator can check them."""
    for env, (value, _) in SECRETS.items():
        monkeypatch.setenv(env, value)
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    s = load_settings()
    for printed in (result.output, repr(s), str(s), repr(s.twilio)):
        for _, secret in SECRETS.values():
            assert secret not in printed
    assert "postgresql://u:***@db.example.invalid/autoinform" in result.output
    assert s.database_url.endswith("u:s3cret-db@db.example.invalid/autoinform")  # the value itself is intact


def test_window_calendar_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 8 item 13 (AI-13): the legal calendar (Saturdays open) is the default; "working days
    only" is a setting; the old working_days_only switch keeps its old meaning, never silently."""
    assert load_settings().window.calendar == "legal"
    monkeypatch.setenv("AUTOINFORM_WINDOW__CALENDAR", "working_days")
    assert load_settings().window.calendar == "working_days"
    monkeypatch.setenv("AUTOINFORM_WINDOW__CALENDAR", "weekdays")
    with pytest.raises(ConfigError, match=r"window\.calendar"):
        load_settings()
    monkeypatch.delenv("AUTOINFORM_WINDOW__CALENDAR")
    monkeypatch.setenv("AUTOINFORM_WINDOW__WORKING_DAYS_ONLY", "true")
    assert load_settings().window.calendar == "working_days"
    monkeypatch.setenv("AUTOINFORM_WINDOW__WORKING_DAYS_ONLY", "false")  # it lifted the calendar
    assert load_settings().window.calendar == "any"
