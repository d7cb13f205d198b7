"""A fast command line (issue 9 item 5): commands import only what they use.

Timings are left to `./dev bench cli`; these tests check the cause instead: which heavy libraries
a fresh process has imported after running a command.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoinform import logs

HEAVY = ("sqlalchemy", "alembic", "fastapi", "uvicorn", "twilio", "aiosmtplib", "openpyxl", "holidays",
         "apscheduler", "yaml", "phonenumbers", "autoinform.models", "autoinform.runtime")

PROBE = """
import json, sys
out, argv, entry = sys.argv[1], sys.argv[2:], {entry!r}
sys.argv = [entry, *argv]
try:
    if entry == "autoinform":
        from autoinform.cli import main
        main()
    else:
        from ivr.classic_agi import main
        sys.exit(main())
except SystemExit as exc:
    code = exc.code
else:
    code = 0
with open(out, "w") as f:
    json.dump({{"code": code, "modules": sorted(sys.modules)}}, f)
"""


def _imported(tmp_path: Path, entry: str, *argv: str, stdin: bytes = b"") -> tuple[int, set[str]]:
    out = tmp_path / "probe.json"
    code = PROBE.format(entry=entry)
    env = {**os.environ, "AUTOINFORM_CONFIG": str(tmp_path / "absent.toml"), "AUTOINFORM_VAR_DIR": str(tmp_path),
           "AUTOINFORM_LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-c", code, str(out), *argv], input=stdin, capture_output=True, env=env,
                   check=True, timeout=60)
    result = json.loads(out.read_text())
    return result["code"], set(HEAVY) & set(result["modules"])


@pytest.mark.parametrize("argv", [["--help"], ["say", "money", "1234,56"], ["say", "--help"],
                                  ["campaigns", "--help"], ["lists", "import", "--help"]])
def test_item5_help_and_say_import_no_heavy_library(tmp_path: Path, argv: list[str]) -> None:
    """Issue 9 item 5: `--help` and `say` used to import the database layer, the web stack and every
    channel (0.64 s of imports); now only the command's own module is loaded."""
    code, heavy = _imported(tmp_path, "autoinform", *argv)
    assert code in (0, None)
    assert heavy == set()


def test_item5_a_command_still_imports_what_it_uses(tmp_path: Path) -> None:
    """The lazy groups still reach the real command: `scenarios list` loads the scenarios."""
    code, heavy = _imported(tmp_path, "autoinform", "scenarios", "list", "--json")
    assert code in (0, None)
    assert "yaml" in heavy


def test_item5_classic_agi_starts_without_the_calendar_or_database(tmp_path: Path) -> None:
    """Issue 9 item 5: `ivr-agi` starts once per call; the settings no longer pull in `holidays`
    (the informing-window calendar) nor does the entry point load the database layer."""
    env = b"agi_request: selftest\nagi_channel: SIP/test-00000001\nagi_arg_1: selftest\n\n"
    code, heavy = _imported(tmp_path, "ivr-agi", "selftest", stdin=env)
    assert code == 0
    assert heavy == set()


@pytest.fixture
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    chatty = {name: logging.getLogger(name).level for name in logs.CHATTY_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in chatty.items():
        logging.getLogger(name).setLevel(old)


@pytest.mark.usefixtures("_restore_logging")
def test_item5_apscheduler_quiet_at_info_but_not_at_debug() -> None:
    """Issue 9 items 2 and 5: `autoinform run` logged an APScheduler line for every job run (every
    5 s) at INFO, and twilio-python a block of lines per SMS request. Their INFO lines are now
    dropped unless log_level is DEBUG; warnings still show."""
    job_logger = logging.getLogger("apscheduler.executors.default")
    logs.configure("INFO")
    assert not job_logger.isEnabledFor(logging.INFO)
    assert not logging.getLogger("autoinform.channels.sms.http").isEnabledFor(logging.INFO)
    assert job_logger.isEnabledFor(logging.WARNING)
    assert logging.getLogger("autoinform.engine").isEnabledFor(logging.INFO)
    logs.configure("DEBUG")
    assert job_logger.isEnabledFor(logging.DEBUG)


def test_item5_lazy_groups_look_as_before() -> None:
    """The lazily loaded groups are built as app.add_typer built them: listed in the top-level help
    with their help text, without the root's completion options, and a typo still gets a hint."""
    from typer.testing import CliRunner

    from autoinform.cli import GROUPS, app

    runner = CliRunner()
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert top.exit_code == 0
    for name, _module in GROUPS:
        assert f" {name} " in top.output
    assert "Russian speech of numbers" in top.output
    sub = runner.invoke(app, ["say", "--help"], env={"COLUMNS": "200"})
    assert sub.exit_code == 0 and "money" in sub.output and "--install-completion" not in sub.output
    typo = runner.invoke(app, ["campaing", "ls"], env={"COLUMNS": "200"})
    assert typo.exit_code == 2 and "campaigns" in typo.output
