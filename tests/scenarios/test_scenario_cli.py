"""`autoinform scenarios list|check|render` (AI-3, AI-17)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.scenarios import load_all
from ivr import prompts
from tests.scenarios.builders import MINIMAL

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTOINFORM_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("AUTOINFORM_SCENARIOS_DIR", str(ROOT / "scenarios"))
    monkeypatch.setenv("AUTOINFORM_AUDIO_DIR", str(tmp_path / "audio"))
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COLUMNS", "200")


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["scenarios", *args])
    return result.exit_code, result.output


def test_list_shows_every_shipped_scenario() -> None:
    code, out = run("list", "--json")
    assert code == 0
    names = {row["name"] for row in json.loads(out)}
    assert {"debt_reminder", "restriction_warning", "planned_outage"} <= names


def test_ai17_check_without_audio_shows_variables_and_sms_parts() -> None:
    code, out = run("check", "--no-audio")
    assert code == 0, out
    assert "debt_reminder" in out and "UCS-2, 2 part(s)" in out and "hotline_phone" in out
    code, out = run("check", "--no-audio", "--json")
    reports = {r["name"]: r for r in json.loads(out)}
    debt = reports["debt_reminder"]
    assert debt["ok"]
    assert debt["sms_sample"] == {"encoding": "UCS-2", "segments": 2, "length_units": 118}
    assert debt["sms_worst"]["segments"] == 3 and debt["sms_max_segments"] == 3


def test_check_reports_prompts_without_audio_as_errors(tmp_path: Path) -> None:
    code, out = run("check", "--json", "--audio-dir", str(tmp_path / "empty"))
    assert code == 1
    errors = [e for r in json.loads(out) for e in r["errors"]]
    assert any("'common/greeting' has no audio" in e for e in errors)


def test_check_passes_when_every_prompt_has_audio(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "test_scenario.yaml").write_text(MINIMAL.format(name="test_scenario"), encoding="utf-8")
    scenario = load_all(scenarios)[0]
    for pid in scenario.prompt_ids():
        path = prompts.path_for(audio, pid)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
    code, out = run("check", "--dir", str(scenarios), "--audio-dir", str(audio))
    # The manifest does not know the files: the fixed phrase is reported as unrecorded.
    assert code == 1 and "'test/intro' audio is unrecorded" in out
    entries = {"test/intro": prompts.ManifestEntry("Здравствуйте!", "test", "test",
                                                   prompts.sha256_file(prompts.path_for(audio, "test/intro")),
                                                   8000, 1)}
    prompts.save_manifest(audio, entries)
    code, out = run("check", "--dir", str(scenarios), "--audio-dir", str(audio))
    assert code == 0, out


def test_check_fails_with_file_and_line_on_a_broken_scenario(tmp_path: Path) -> None:
    shutil.copy(ROOT / "scenarios" / "debt_reminder.yaml", tmp_path / "debt_reminder.yaml")
    broken = MINIMAL.format(name="broken").replace("{debt}", "{debts}", 1)
    (tmp_path / "broken.yaml").write_text(broken, encoding="utf-8")
    line = next(i for i, text in enumerate(broken.splitlines(), start=1) if "{debts}" in text)
    code, out = run("check", "--no-audio", "--dir", str(tmp_path))
    assert code == 1
    assert f"broken.yaml:{line}: sms.text: unknown variable {{debts}}" in out


def test_ai16_render_sms_with_vars() -> None:
    code, out = run("render", "debt_reminder", "--channel", "sms", "--var", "debt=1234,56",
                    "--var", "hotline_phone=88005550000", "--name", "Сидоров С. С.",
                    "--account", "300000001", "--json")
    assert code == 0, out
    content = json.loads(out)["content"]
    assert content["text"] == ("Сидоров С. С., задолженность по л/с 300000001: 1 234 руб. 56 коп. "
                               "Просим оплатить. Справки: 8 (800) 555-00-00")
    assert (content["encoding"], content["segments"]) == ("UCS-2", 2)


def test_render_missing_variable_is_an_error_not_a_blank() -> None:
    code, out = run("render", "debt_reminder", "--channel", "sms", "--name", "Сидоров",
                    "--account", "1", "--var", "hotline_phone=88005550000")
    assert code == 1
    assert "debt: missing required variable" in out


def test_ai18_render_phone_restriction_for_group_3() -> None:
    code, out = run("render", "restriction_warning", "--channel", "phone", "--sample", "--group", "3",
                    "--json")
    assert code == 0, out
    steps = {s["id"]: s for s in json.loads(out)["content"]["steps"]}
    assert steps["restriction_date"]["text"] == "второе декабря две тысячи двадцать шестого года"
    assert steps["restriction_date"]["required"] is True
    assert steps["greeting"]["prompts"] == ["common/greeting"]


def test_render_email_and_phone_as_text() -> None:
    code, out = run("render", "planned_outage", "--channel", "email", "--sample")
    assert code == 0 and "Subject: Плановое отключение электроэнергии 08.12.2026 с 09:00 до 17:00" in out
    code, out = run("render", "planned_outage", "--channel", "phone", "--sample")
    assert code == 0 and "planned_outage/announce" in out and "keys: confirm=1, operator=0, repeat=*" in out


def test_render_usage_errors() -> None:
    code, out = run("render", "nope", "--channel", "sms")
    assert code == 1 and "no scenario 'nope'" in out
    code, out = run("render", "debt_reminder", "--channel", "sms", "--var", "debt")
    assert code == 2 and "expected NAME=VALUE" in out
    code, out = run("render", "debt_reminder", "--channel", "fax")
    assert code == 2
