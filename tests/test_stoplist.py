"""The stop list: one account syntax with the list import, headers by their text, bad lines reported,
the reason stored and shown (issue 8 item 5, AI-2, AI-19)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from autoinform.accounts import parse_account
from autoinform.cli import app
from autoinform.errors import ImportFileError
from autoinform.importing.importer import import_list
from autoinform.models import Customer, StopEntry
from autoinform.results import read_stop_file
from autoinform.runtime import Runtime
from tests.cli_actors import add_user, as_user, point_cli_at

runner = CliRunner()


def _file(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "stop.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_an_account_with_letters_on_the_first_line_is_an_account_not_a_header(tmp_path: Path) -> None:
    """Issue 8 item 5: without a header, the first line is data even when it has letters."""
    read = read_stop_file(_file(tmp_path, "АБ-1002\n300000123\n"))
    assert read.accounts == ["АБ-1002", "300000123"] and not read.header and not read.rejected


@pytest.mark.parametrize("header", ["Лицевой счёт", "ЛС", "account", "Номер лицевого счета", "л/с"])
def test_a_header_is_known_by_its_text(tmp_path: Path, header: str) -> None:
    """Issue 8 item 5: Russian and English account headers are recognised and skipped."""
    read = read_stop_file(_file(tmp_path, f"{header}\n12/345\n"))
    assert read.header and read.accounts == ["12/345"] and not read.rejected


def test_accounts_the_list_import_accepts_are_accepted(rt: Runtime, tmp_path: Path) -> None:
    """Issue 8 item 5, AI-4: `12/345` and other accounts the importer takes go on the stop list too,
    and what the importer refuses is refused here as well (one syntax, autoinform.accounts)."""
    good = ["12/345", "АБ-1002", "00123", "A.B_7-9", "Я" * 32]
    bad = ["-12", "12 345", "Я" * 33, "№12"]
    lines = ["Лицевой счёт;ФИО;Группа;Телефон"]
    lines += [f"{a};Иванов Иван;1;8927111{i:04d}" for i, a in enumerate(good + bad)]
    report = import_list(rt, _file(tmp_path, "\n".join(lines) + "\n", name="list.csv"), "accounts")
    with rt.sessions() as s:
        imported = set(s.scalars(select(Customer.account)))
    assert imported == set(good) and report.rejected == len(bad)
    read = read_stop_file(_file(tmp_path, "\n".join(good + bad) + "\n"))
    assert read.accounts == good
    assert [b.text for b in read.rejected] == bad
    for a in bad:
        with pytest.raises(ValueError):
            parse_account(a)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
@pytest.mark.parametrize("delimiter", [";", ","])
def test_csv_with_a_header_in_either_encoding_and_separator(tmp_path: Path, encoding: str,
                                                           delimiter: str) -> None:
    """Issue 8 item 5: CP1251 and UTF-8, `;` and `,`; the account column is found by its header."""
    text = "\r\n".join(delimiter.join(cells) for cells in (
        ["ФИО", "Лицевой счёт", "Сумма"], ["Иванов Иван Иванович", "АБ-1002", "100"],
        ["Петрова Мария Сергеевна", "12/345", "200"], ["", "", ""], ["Сидоров Пётр", "300000123", "0"])) + "\r\n"
    read = read_stop_file(_file(tmp_path, text, encoding))
    assert read.header and read.accounts == ["АБ-1002", "12/345", "300000123"] and not read.rejected


def test_a_bad_line_in_the_middle_is_reported_with_its_number_and_the_rest_read(tmp_path: Path) -> None:
    """Issue 8 item 5: a rejected line is never silently dropped, and it stops nothing else."""
    read = read_stop_file(_file(tmp_path, "Лицевой счёт\n100\n\n12 345\n101\n100\n-x\n102\n"))
    assert read.accounts == ["100", "101", "102"] and read.duplicates == 1
    assert [(b.line, b.text) for b in read.rejected] == [(4, "12 345"), (7, "-x")]
    assert all("not an account number" in b.reason for b in read.rejected)


def test_a_header_without_an_account_column_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no account column"):
        read_stop_file(_file(tmp_path, "ФИО;Телефон\nИванов;89271112233\n"))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    point_cli_at(monkeypatch, tmp_path)
    return tmp_path


def _customers(*accounts: str) -> None:
    from autoinform.db import transaction
    from autoinform.runtime import open_runtime

    rt = open_runtime()
    try:
        with transaction(rt.sessions) as s:
            s.add_all([Customer(account=a, name=f"Клиент {a}", group=1) for a in accounts])
    finally:
        rt.close()


def test_cli_stores_the_reason_and_shows_it_and_the_rejected_lines(env: Path) -> None:
    """Issue 8 item 5: `--reason moved_out` is stored on each entry and shown; bad lines are listed.
    Issue 9: an account no customer has is reported and not added (it would stop nothing)."""
    assert add_user(runner, app, "spec", "specialist").exit_code == 0
    _customers("12/345", "АБ-1002")
    path = _file(env, "ЛС\n12/345\nоплатили!\nАБ-1002\n999999\n", "cp1251")
    r = runner.invoke(app, ["results", "stop", str(path), "--reason", "moved_out"], env=as_user("spec"))
    assert r.exit_code == 0, r.output
    assert "2 accounts added to the stop list (reason: moved_out)" in r.output
    assert "line 3" in r.output and "оплатили!" in r.output
    assert "1 accounts not in the customer base (not added): 999999" in r.output
    listed = runner.invoke(app, ["results", "stops", "--json"], env=as_user("spec"))
    assert listed.exit_code == 0, listed.output
    assert sorted((e["account"], e["reason"]) for e in json.loads(listed.output)) == [
        ("12/345", "moved_out"), ("АБ-1002", "moved_out")]
    shown = runner.invoke(app, ["results", "stops", "--account", "12/345"], env=as_user("spec"))
    assert "moved_out" in shown.output and "АБ-1002" not in shown.output
    bad = runner.invoke(app, ["results", "stop", str(path), "--reason", "Moved out!"], env=as_user("spec"))
    assert bad.exit_code == 2 and "reason" in bad.output


def test_add_stops_keeps_the_reason_on_each_entry(rt: Runtime) -> None:
    """Issue 8 item 5: the reason is the entry's own, on both backends."""
    from autoinform.results import add_stops

    with rt.sessions.begin() as s:
        add_stops(s, ["12/345"], reason="moved_out", source="f.csv", actor="spec")
        add_stops(s, ["12/345"], reason="paid", source="g.csv", actor="spec")
    with rt.sessions() as s:
        assert sorted(s.execute(select(StopEntry.reason, StopEntry.source)).all()) == [
            ("moved_out", "f.csv"), ("paid", "g.csv")]
