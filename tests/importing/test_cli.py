"""`autoinform lists …` end to end on a temporary SQLite database (AI-4, AI-11, AI-19)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoinform.cli import app, lists_cmd
from tests.cli_actors import act_as_specialist

runner = CliRunner()


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray autoinform.toml
    monkeypatch.setenv("AUTOINFORM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(tmp_path / "var"))
    act_as_specialist(monkeypatch)  # importing and the rejection report need a specialist (issue 12)


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_sample_import_show_ls_rejections_ai4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lists_cmd, "PROGRESS_FROM", 1)  # draw the progress bar on a small file too
    _ok("lists", "sample", "s.csv", "--rows", "400", "--seed", "3", "--bad-share", "0.1")
    out = _ok("lists", "import", "s.csv", "--name", "ноябрь", "--reject-report", "rej.csv")
    last = out.strip().splitlines()[-1]
    assert last.startswith("read = imported + merged + rejected: 400 = ")
    read, rest = last.split(": ")[1].split(" = ")
    assert int(read) == sum(int(x) for x in rest.split(" + "))
    assert (tmp_path / "rej.csv").read_bytes().startswith(b"\xef\xbb\xbf")

    shown = json.loads(_ok("lists", "show", "ноябрь", "--json"))
    assert shown["complete"] and shown["rows_read"] == 400
    assert shown["rows_read"] == shown["imported"] + shown["merged"] + shown["rejected"]
    assert {cp["channel"] for cp in shown["contact_points"]} == {"phone", "sms", "email"}
    assert json.loads(_ok("lists", "show", str(shown["id"]), "--json"))["name"] == "ноябрь"
    listed = json.loads(_ok("lists", "ls", "--json"))
    assert [x["name"] for x in listed] == ["ноябрь"]
    assert "ноябрь" in _ok("lists", "ls")
    assert "Группа" in _ok("lists", "rejections", "ноябрь", "--kind", "rejected") or shown["rejected"] == 0
    _ok("lists", "rejections", "ноябрь", "--export", "all.csv")
    lines = (tmp_path / "all.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "Строка;Вид;Столбец;Причина;Исходные данные" and len(lines) > 1


def test_import_json_for_scripts(corpus: Path) -> None:
    data = json.loads(_ok("lists", "import", str(corpus / "cp1251.csv"), "--name", "j", "--json"))
    assert (data["rows_read"], data["imported"], data["merged"], data["rejected"]) == (8, 4, 1, 3)
    assert data["balanced"] and data["complete"] and data["encoding"] == "cp1251"


@pytest.mark.parametrize(("name", "message"), [
    ("missing_required_column.csv", "missing required column"),
    ("koi8r.csv", "neither UTF-8 nor CP1251"),
    ("binary_junk.bin", "binary data"),
])
def test_bad_files_exit_1_with_a_clear_message(corpus: Path, name: str, message: str) -> None:
    result = runner.invoke(app, ["lists", "import", str(corpus / name), "--name", "x"])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())


def test_second_import_under_a_taken_name_is_refused(corpus: Path) -> None:
    _ok("lists", "import", str(corpus / "cp1251.csv"), "--name", "taken")
    result = runner.invoke(app, ["lists", "import", str(corpus / "cp1251.csv"), "--name", "taken"])
    assert result.exit_code == 1 and "already exists" in result.output


def test_unknown_list_and_bad_kind() -> None:
    result = runner.invoke(app, ["lists", "show", "nope"])
    assert result.exit_code == 1 and "not found" in result.output
    result = runner.invoke(app, ["lists", "rejections", "nope", "--kind", "maybe"])
    assert result.exit_code == 2


def test_sample_xlsx_and_utf8(tmp_path: Path) -> None:
    _ok("lists", "sample", "s.xlsx", "--rows", "50", "--format", "xlsx")
    _ok("lists", "sample", "u.csv", "--rows", "50", "--encoding", "utf-8")
    assert (tmp_path / "s.xlsx").read_bytes().startswith(b"PK")
    (tmp_path / "u.csv").read_text(encoding="utf-8")
    data = json.loads(_ok("lists", "import", "s.xlsx", "--name", "x", "--json"))
    assert data["format"] == "xlsx" and data["rows_read"] == 50
