"""hotline/menu.yaml and hotline/info.yaml: validated on load with file, line and field; prompts
and topics checked before the first call; `autoinform hotline check` and `hotline info`."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.errors import HotlineDataError, ScenarioError
from ivr.hotline.info import load_info, parse_info
from ivr.hotline.menu import check_menu, load_checked, load_menu, parse_menu

ROOT = Path(__file__).resolve().parents[2]
MENU_FILE = ROOT / "hotline" / "menu.yaml"
INFO_FILE = ROOT / "hotline" / "info.yaml"
AUDIO = ROOT / "audio"

GOOD_MENU = """\
menus:
  main:
    prompts: [hotline/menu_info]
    repeat_key: "*"
    items:
      "1": {id: info, menu: info}
      "2": {id: balance, action: balance}
  info:
    prompts: [hotline/info_tariffs]
    back_key: "*"
    items:
      "1": {id: tariffs, info: tariffs}
"""


def errors_of(exc: pytest.ExceptionInfo[ScenarioError]) -> list[tuple[int | None, str | None, str]]:
    return [(e.line, e.field, e.detail) for e in getattr(exc.value, "errors", [exc.value])]


def test_the_shipped_files_pass_every_check() -> None:
    menu, info = load_checked(MENU_FILE, INFO_FILE, AUDIO)
    assert set(menu.spec.menus) == {"main", "info", "feedback"}
    assert set(info.topics) == {"tariffs", "offices", "payment", "readings"}


@pytest.mark.parametrize(("text", "line", "field", "message"), [
    (GOOD_MENU.replace('"2": {id: balance, action: balance}', '"2": {id: balance, action: balanse}'),
     7, "menus.main.items.2.action", "Input should be"),
    (GOOD_MENU.replace('"2": {id: balance, action: balance}', '"0": {id: balance, action: balance}'),
     5, "menus.main.items", "item keys are single digits 1-9"),
    (GOOD_MENU.replace("      \"1\": {id: info, menu: info}\n", "      \"1\": {id: info, menu: infos}\n"),
     6, "menus.main.items.1.menu", "no menu 'infos'"),
    (GOOD_MENU.replace('    back_key: "*"\n', ""), 8, "menus.info", "needs a back_key"),
    (GOOD_MENU.replace('repeat_key: "*"', 'repeat_key: "1"'), 6, "menus.main.items.1", "already the repeat_key"),
    (GOOD_MENU.replace("{id: balance, action: balance}", "{id: balance, action: record}"),
     7, "menus.main.items.2", "`task`"),
    (GOOD_MENU + "  lost:\n    prompts: [a]\n    back_key: '*'\n    items: {'1': {id: x, action: visit}}\n",
     13, "menus.lost", "no item opens this menu"),
    (GOOD_MENU.replace("prompts: [hotline/info_tariffs]", "prompts: [hotline/../x]"),
     9, "menus.info.prompts.0", "bad prompt id"),
    (GOOD_MENU + "colour: blue\n", 13, "colour", "unknown field"),
    (GOOD_MENU.replace("    repeat_key", "    repeat_key: '9'\n    repeat_key"), 5, "menus.main.repeat_key",
     "duplicate key"),
])
def test_menu_errors_name_file_line_and_field(text: str, line: int, field: str, message: str) -> None:
    with pytest.raises(HotlineDataError) as exc:
        parse_menu(text, "menu.yaml")
    assert exc.value.file == "menu.yaml"
    assert any(ln == line and f == field and message in m for ln, f, m in errors_of(exc)), errors_of(exc)


GOOD_INFO = """\
topics:
  tariffs:
    title: Тарифы
    entries:
      - effective: 2026-01-01
        say:
          - {prompt: info/t_old, text: "Старый тариф:"}
          - {money: "5.10"}
      - effective: 2026-07-01
        say:
          - {prompt: info/t_new, text: "Новый тариф:"}
          - {money: 6.1}
"""


def test_the_entry_in_force_is_spoken() -> None:
    info = parse_info(GOOD_INFO, "info.yaml")
    assert info.entry("tariffs", date(2025, 12, 31)) is None
    old = info.speech("tariffs", date(2026, 6, 30))
    new = info.speech("tariffs", date(2026, 7, 1))
    assert old is not None and old.text == "Старый тариф: пять рублей десять копеек"
    assert new is not None and new.text == "Новый тариф: шесть рублей десять копеек"
    assert info.prompt_texts() == {"info/t_old": "Старый тариф:", "info/t_new": "Новый тариф:"}


@pytest.mark.parametrize(("text", "line", "field", "message"), [
    (GOOD_INFO.replace('{money: "5.10"}', '{money: "5.105"}'), 8, "topics.tariffs.entries.0.say.1",
     "more than two decimals"),
    (GOOD_INFO.replace('{money: "5.10"}', '{money: "5.10", number: 3}'), 8, "topics.tariffs.entries.0.say.1",
     "exactly one of"),
    (GOOD_INFO.replace("2026-07-01", "2026-01-01"), 9, "topics.tariffs.entries.1.effective", "two entries"),
    (GOOD_INFO.replace("info/t_new, text: \"Новый тариф:\"", "info/t_old, text: \"Другой:\""),
     11, "topics.tariffs.entries.1.say.0.text", "another text"),
    (GOOD_INFO.replace('{money: "5.10"}', "{phone: 'abc'}"), 8, "topics.tariffs.entries.0.say.1",
     "unexpected characters"),
    (GOOD_INFO.replace("effective: 2026-01-01", "effective: someday"), 5, "topics.tariffs.entries.0.effective",
     "date"),
])
def test_info_errors_name_file_line_and_field(text: str, line: int, field: str, message: str) -> None:
    with pytest.raises(HotlineDataError) as exc:
        parse_info(text, "info.yaml")
    assert any(ln == line and f == field and message in m for ln, f, m in errors_of(exc)), errors_of(exc)


def test_check_finds_missing_prompts_topics_and_audio(tmp_path: Path) -> None:
    menu = parse_menu(GOOD_MENU.replace("info: tariffs", "info: prices")
                      .replace("prompts: [hotline/menu_info]", "prompts: [hotline/no_such]"), "m.yaml")
    info = parse_info(GOOD_INFO, "i.yaml")
    found = [(e.file, e.line, e.field, e.detail) for e in check_menu(menu, info, None)]
    assert ("m.yaml", 3, "menus.main.prompts.0",
            "prompt 'hotline/no_such' is not in the catalogue (ivr/phrases.py, info base)") in found
    assert ("m.yaml", 12, "menus.info.items.1.info", "no topic 'prices' in i.yaml") in found
    # the info base's own prompts have no audio in an empty folder
    audio = [e.detail for e in check_menu(menu, info, tmp_path)]
    assert any("'info/t_new' audio is missing" in d for d in audio)


def test_cli_check_ok_and_failing(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["hotline", "check", "--menu", str(MENU_FILE), "--info", str(INFO_FILE),
                             "--audio-dir", str(AUDIO)])
    assert ok.exit_code == 0, ok.output
    assert "3 menus, 12 items" in ok.output and ok.output.strip().endswith("ok")
    bad = tmp_path / "menu.yaml"
    bad.write_text(MENU_FILE.read_text(encoding="utf-8").replace("info: tariffs", "info: tarifs"), encoding="utf-8")
    failed = runner.invoke(app, ["hotline", "check", "--menu", str(bad), "--info", str(INFO_FILE), "--no-audio"])
    assert failed.exit_code == 1
    assert f"{bad}:30: menus.info.items.1.info: no topic 'tarifs'" in failed.output


def test_cli_check_reports_audio_built_from_an_old_text(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    shutil.copytree(AUDIO, audio)
    info = tmp_path / "info.yaml"
    info.write_text(INFO_FILE.read_text(encoding="utf-8").replace("в пятницу:", "по пятницам:"), encoding="utf-8")
    result = CliRunner().invoke(app, ["hotline", "check", "--menu", str(MENU_FILE), "--info", str(info),
                                      "--audio-dir", str(audio), "--json"])
    assert result.exit_code == 1
    assert "prompt 'info/offices_friday' audio is changed" in result.output


def test_cli_info_speaks_the_entry_in_force() -> None:
    result = CliRunner().invoke(app, ["hotline", "info", "tariffs", "--on", "2026-12-02", "--info", str(INFO_FILE)])
    assert result.exit_code == 0, result.output
    assert "шесть рублей двенадцать копеек" in result.output and "(since 2026-07-01)" in result.output
    assert load_info(INFO_FILE).entry("tariffs", date(2026, 6, 1)) is None


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(HotlineDataError, match="file not found") as exc:
        load_menu(tmp_path / "nope.yaml")
    assert exc.value.file == str(tmp_path / "nope.yaml")


def test_audio_build_and_check_know_the_information_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The information base's prompts are part of the catalogue `autoinform audio` builds and checks."""
    audio = tmp_path / "audio"
    shutil.copytree(AUDIO, audio)
    info = tmp_path / "info.yaml"
    info.write_text(INFO_FILE.read_text(encoding="utf-8").replace("в пятницу:", "по пятницам:"), encoding="utf-8")
    monkeypatch.setenv("AUTOINFORM_HOTLINE__INFO_FILE", str(info))
    runner = CliRunner()
    args = ["--audio-dir", str(audio), "--scenarios-dir", str(ROOT / "scenarios")]
    checked = runner.invoke(app, ["audio", "check", *args])
    assert checked.exit_code == 1 and "info/offices_friday: text changed" in checked.output
    built = runner.invoke(app, ["audio", "build", "--engine", "espeak", *args])
    assert built.exit_code == 0, built.output
    assert "built info/offices_friday (changed)" in built.output
    assert runner.invoke(app, ["audio", "check", *args]).exit_code == 0
