"""AI-10: `autoinform say …` and `autoinform audio …` through typer's CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.cli.say_cmd import parse_money
from ivr import prompts

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _say(*args: str) -> list[str]:
    result = runner.invoke(app, ["say", *args])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@pytest.mark.parametrize(("args", "text"), [
    (["money", "1 234,56"], "одна тысяча двести тридцать четыре рубля пятьдесят шесть копеек"),
    (["money", "1234.56"], "одна тысяча двести тридцать четыре рубля пятьдесят шесть копеек"),
    (["money", "1234"], "одна тысяча двести тридцать четыре рубля"),
    (["money", "1234", "--zero-kopecks"], "одна тысяча двести тридцать четыре рубля ноль копеек"),
    (["money", "0,5"], "пятьдесят копеек"),
    (["money", "--", "-21,01"], "минус двадцать один рубль одна копейка"),
    (["number", "21000"], "двадцать одна тысяча"),
    (["number", "2", "--gender", "f"], "две"),
    (["number", "1", "--gender", "n"], "одно"),
    (["kwh", "23"], "двадцать три киловатт-часа"),
    (["quantity", "5", "--unit", "workday"], "пять рабочих дней"),
    (["date", "2026-12-05"], "пятое декабря две тысячи двадцать шестого года"),
    (["date", "05.12.2026", "--no-year"], "пятое декабря"),
    (["time", "10:00"], "десять часов ноль минут"),
    (["time", "20:05"], "двадцать часов пять минут"),
    (["time", "22:00", "--no-zero-minutes"], "двадцать два часа"),
    (["digits", "0123"], "ноль один два три"),
    (["phone", "+7 800 123-45-67"], "восемь восемьсот сто двадцать три сорок пять шестьдесят семь"),
])
def test_say_prints_text_then_prompts_ai10(args: list[str], text: str) -> None:
    lines = _say(*args)
    assert lines[0] == text
    catalogue = prompts.catalogue()
    assert " ".join(catalogue[p] for p in lines[1].split()) == text


def test_say_json_ai10() -> None:
    result = runner.invoke(app, ["say", "money", "2,02", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "text": "два рубля две копейки",
        "prompts": ["num/2", "unit/ruble_2", "num/2f", "unit/kopeck_2"],
    }


@pytest.mark.parametrize(("args", "message"), [
    (["money", "12,345"], "not an amount"),
    (["money", "abc"], "not an amount"),
    (["number", "1e3"], "not a whole number"),
    (["number", "1000000000000"], "out of range"),
    (["date", "2026-02-30"], "not a date"),
    (["time", "24:00"], "not a time"),
    (["digits", "12a"], "unexpected characters"),
    (["phone", "8 800 CALL"], "unexpected characters"),
    (["quantity", "1", "--unit", "parsec"], "unknown unit"),
])
def test_say_bad_input_exits_2_with_reason_ai10(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["say", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_parse_money_forms_ai10() -> None:
    assert parse_money("1\u00a0234,5") == 123450
    assert parse_money("0") == 0
    assert parse_money("-0,01") == -1


def test_audio_check_passes_on_committed_audio_ai10(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audio", "check", "--audio-dir", str(ROOT / "audio"),
                                 "--scenarios-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "all present" in result.stdout


def test_audio_check_lists_problems_and_fails_ai10(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    shutil.copytree(ROOT / "audio", audio)
    prompts.path_for(audio, "unit/kwh_2").unlink()
    result = runner.invoke(app, ["audio", "check", "--audio-dir", str(audio), "--scenarios-dir", str(tmp_path),
                                 "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problems"] == {"unit/kwh_2": "no audio file"}


@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")),
                    reason="espeak-ng and sox not installed (apt install espeak-ng sox)")
def test_audio_build_rebuilds_only_what_is_missing_ai10(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    shutil.copytree(ROOT / "audio", audio)
    prompts.path_for(audio, "month/12gen").unlink()
    result = runner.invoke(app, ["audio", "build", "--engine", "espeak", "--audio-dir", str(audio),
                                 "--scenarios-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "built month/12gen (missing) with espeak-ng" in result.stdout
    assert "1 built (1 by espeak-ng)" in result.stdout
    assert prompts.check(audio).ok


def test_committed_audio_covers_shipped_scenarios_ai10() -> None:
    """Every fixed phrase of the shipped scenarios has current audio: Asterisk would play a missing
    one as silence. After editing a scenario's text run `autoinform audio build` and commit audio/."""
    scenarios = ROOT / "scenarios"
    if not any(scenarios.glob("*.yaml")):
        pytest.skip("no scenarios in the repository yet")
    from autoinform.startup import scenario_prompts

    extra = scenario_prompts(scenarios)
    assert extra, "the shipped scenarios have fixed-phrase prompts"
    report = prompts.check(ROOT / "audio", extra)
    assert report.ok, report.problems()
    result = runner.invoke(app, ["audio", "check", "--audio-dir", str(ROOT / "audio"),
                                 "--scenarios-dir", str(scenarios)])
    assert result.exit_code == 0, result.output


def test_audio_adopt_cli_ai10(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    shutil.copytree(ROOT / "audio", audio)
    args = ["--audio-dir", str(audio), "--scenarios-dir", str(tmp_path)]
    result = runner.invoke(app, ["audio", "adopt", "num/5", "no/such", *args])
    assert result.exit_code == 1 and "no/such" in result.stderr
    result = runner.invoke(app, ["audio", "adopt", "num/5", "--source", "studio", *args])
    assert result.exit_code == 0, result.output
    assert "1 prompt(s) recorded as made by studio: num/5" in result.stdout
    assert prompts.load_manifest(audio)["num/5"].engine == "studio"
