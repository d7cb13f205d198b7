"""Clear answers where a new user met a traceback or a puzzle (issue 9 item 4, AI-3, AI-4, AI-10)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.errors import ScenarioError
from autoinform.scenarios import load_scenario
from autoinform.scenarios.samples import BUILTIN_SAMPLES
from tests.cli_actors import act_as_specialist

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray autoinform.toml
    monkeypatch.setenv("AUTOINFORM_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("AUTOINFORM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AUTOINFORM_SCENARIOS_DIR", str(ROOT / "scenarios"))
    monkeypatch.setenv("AUTOINFORM_AUDIO_DIR", str(ROOT / "audio"))
    monkeypatch.setenv("COLUMNS", "200")
    act_as_specialist(monkeypatch)  # importing needs a specialist (issue 12)


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_item4_render_without_a_customer_uses_a_sample_customer() -> None:
    """Issue 9 item 4 (AI-3): the README's `scenarios render debt_reminder --channel sms --var …`
    failed with `name: the customer has no name`; customer fields not given come from a sample
    customer now, while a scenario variable not given is still an error, never a blank."""
    code, out = invoke("scenarios", "render", "debt_reminder", "--channel", "sms", "--var", "debt=1 234,56",
                       "--var", "hotline_phone=+78512000000", "--json")
    assert code == 0, out
    text = json.loads(out)["content"]["text"]
    assert text.startswith(f"{BUILTIN_SAMPLES['name']}, задолженность по л/с {BUILTIN_SAMPLES['account']}: "
                           "1 234 руб. 56 коп.")
    code, out = invoke("scenarios", "render", "debt_reminder", "--channel", "sms",
                       "--var", "hotline_phone=+78512000000")
    assert code == 1 and "debt: missing required variable" in out
    code, out = invoke("scenarios", "render", "debt_reminder", "--channel", "sms", "--var", "debt=5",
                       "--var", "hotline_phone=+78512000000", "--name", "Сидоров С. С.", "--account", "42")
    assert code == 0 and "Сидоров С. С., задолженность по л/с 42: 5 руб." in out


def test_item4_an_xlsx_named_csv_is_read_as_the_workbook_it_is(tmp_path: Path) -> None:
    """Issue 9 item 4 (AI-4): an XLSX renamed `.csv` ended in a Python traceback (openpyxl refuses a
    path by its extension). The file's content decides now; a file that is neither says so."""
    code, out = invoke("lists", "sample", "book.xlsx", "--rows", "30", "--format", "xlsx")
    assert code == 0, out
    shutil.copy(tmp_path / "book.xlsx", tmp_path / "export.csv")
    code, out = invoke("lists", "import", "export.csv", "--name", "renamed")
    assert code == 0, out
    assert "xlsx" in out and "read = imported + merged + rejected: 30 = " in out
    (tmp_path / "broken.csv").write_bytes(b"PK\x03\x04 not really a workbook")
    code, out = invoke("lists", "import", "broken.csv", "--name", "broken")
    assert code == 1 and "not a readable XLSX workbook" in out


def test_item4_an_unknown_scenario_lists_the_valid_names(tmp_path: Path) -> None:
    """Issue 9 item 4 (AI-3): `campaigns create --scenario NAME` with a wrong name said `cannot read:
    No such file or directory`; it names the scenarios there are."""
    code, out = invoke("campaigns", "create", "--name", "x", "--scenario", "debt_remindr", "--list", "none",
                       "--channels", "email", "--start", "2026-12-07T10:00", "--end", "2026-12-08T10:00")
    assert code == 1
    assert "no scenario 'debt_remindr'" in out and "debt_reminder" in out and "planned_outage" in out
    with pytest.raises(ScenarioError, match=r"no scenario 'nope'; known: .*tariff_change"):
        load_scenario(ROOT / "scenarios" / "nope.yaml")


@pytest.mark.parametrize(("args", "text"), [
    (["money", "-5"], "минус пять рублей"),
    (["money", "-1 234,56", "--json"], "минус одна тысяча двести тридцать четыре рубля"),
    (["money", "--", "-5"], "минус пять рублей"),
    (["number", "-21", "--gender", "f"], "минус двадцать одна"),
    (["kwh", "-3"], "минус три киловатт-часа"),
])
def test_item4_say_takes_negative_amounts_as_values(args: list[str], text: str) -> None:
    """Issue 9 item 4 (AI-10): `say money -5` was taken for an unknown option `-5`."""
    code, out = invoke("say", *args)
    assert code == 0, out
    assert text in out


def test_item4_say_still_refuses_a_mistyped_option() -> None:
    code, out = invoke("say", "money", "5", "--jsno")
    assert code == 2 and "--jsno" in out
    code, out = invoke("say", "money", "-x")
    assert code == 2 and "not an amount in roubles" in out
