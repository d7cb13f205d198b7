"""The list format, documented and forgiving (issue 9 item 3, AI-4, AI-11).

The wordings billing systems use are accepted, bad data is warned about in Russian naming the
file's own columns, and `lists show` counts rows, shows local time and who can be reached.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.importing.importer import import_list
from autoinform.models import Customer, ListRejection, ListRow
from autoinform.runtime import Runtime
from tests.cli_actors import act_as_specialist

runner = CliRunner()
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


def _write(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _entries(rt: Runtime, list_id: int) -> list[ListRejection]:
    with rt.sessions() as s:
        return list(s.scalars(select(ListRejection).where(ListRejection.list_id == list_id)
                              .order_by(ListRejection.row_number, ListRejection.id)))


def test_billing_wordings_of_groups_and_headers_import(rt: Runtime, tmp_path: Path) -> None:
    """Issue 9 item 3, AI-4: `Физическое лицо`, `Юр. лицо`, `население`, `бюджет`… under the header
    aliases of a billing export import as groups 1–4 of clause 3."""
    path = _write(tmp_path / "g.csv", "Лиц. счёт;Ф.И.О.;Категория потребителя;Сотовый;Долг, руб.",
                  "1;Иванов;Физическое лицо;89271110001;10,00",
                  "2;Петров;физ. лицо;89271110002;10,00",
                  "3;Сидоров;население;89271110003;10,00",
                  "4;УК «Дом»;Исполнитель коммунальных услуг;89271110004;10,00",
                  "5;ООО «Лотос»;Юр. лицо;89271110005;10,00",
                  "6;ИП Орлов;юридическое лицо;89271110006;10,00",
                  "7;Школа № 5;бюджет;89271110007;10,00",
                  "8;Больница;бюджетная организация;89271110008;10,00")
    report = import_list(rt, path, "groups")
    assert (report.imported, report.rejected) == (8, 0)
    with rt.sessions() as s:
        groups = dict(s.execute(select(Customer.account, Customer.group)).all())
    assert groups == {"1": 1, "2": 1, "3": 1, "4": 2, "5": 3, "6": 3, "7": 4, "8": 4}


def test_reasons_are_russian_and_name_the_files_columns(rt: Runtime, tmp_path: Path) -> None:
    """Issue 9 item 3: a bad group is reported under `Группа потребителей` (the file's word), and every
    reason of the report is Russian."""
    path = _write(tmp_path / "r.csv", "Л/С;ФИО;Группа потребителей;Телефон;Мобильный;E-mail;Сумма долга;Дата оплаты",
                  "1;Иванов;физ;89271110001;;;10,00;05.12.2026",
                  "2;;1;123;88512000000;bad@;сто;31.02.2026",
                  "3;Петров;1;89271110003;;;10,00;",
                  "4;Сидоров;1;;89271110004;;;",
                  "4;Сидоров;1;;89271110005;;;")
    report = import_list(rt, path, "reasons")
    entries = _entries(rt, report.list_id)
    assert ("Группа потребителей", "rejected") in {(e.column, e.kind) for e in entries if e.row_number == 2}
    bad_group = next(e for e in entries if e.column == "Группа потребителей")
    assert "не группа потребителей 1–4" in bad_group.reason
    for e in entries:
        assert CYRILLIC.search(e.reason), e.reason
        assert not re.search(r"\b(not|empty|longer|duplicate|missing)\b", e.reason), e.reason
    row3 = {e.column for e in entries if e.row_number == 3}
    assert {"ФИО", "Телефон", "Мобильный", "E-mail", "Сумма долга", "Дата оплаты",
            "Телефон, Мобильный, E-mail"} <= row3


def test_zero_and_negative_debts_are_warned_per_row_and_counted(rt: Runtime, tmp_path: Path) -> None:
    """Issue 9 item 3, AI-16: `0,00`, `0` and `-150,00` import with one warning entry each (naming the
    debt column and no_debt); a positive debt and an empty one do not."""
    path = _write(tmp_path / "d.csv", "Л/С;ФИО;Группа;Мобильный;Задолженность",
                  "1;Иванов;1;89271110001;0,00", "2;Петров;1;89271110002;-150,00",
                  "3;Сидоров;1;89271110003;12,50", "4;Орлов;1;89271110004;", "5;Козлов;1;89271110005;0")
    report = import_list(rt, path, "debts")
    assert (report.imported, report.no_debt, report.warnings) == (5, 3, 3)
    warned = {e.row_number: e for e in _entries(rt, report.list_id) if e.kind == "warning"}
    assert set(warned) == {2, 3, 6}
    assert all(e.column == "Задолженность" and "no_debt" in e.reason for e in warned.values())
    assert "нулевой долг 0,00" in warned[2].reason and "переплата) -150,00" in warned[3].reason


def test_conflicting_duplicates_report_both_values_and_the_rule(rt: Runtime, tmp_path: Path) -> None:
    """Issue 9 item 3, AI-4: a second row of an account with another debt is a warning naming the
    column, both values and which row won and why; a repeat with the same values is a plain one."""
    path = _write(tmp_path / "c.csv", "Л/С;ФИО;Группа;Мобильный;Сумма долга",
                  "1;Иванов;1;89271110001;1 234,56", "2;Петров;1;89271110002;10,00",
                  "1;Иванов;1;89271110009;100,00", "2;Петров;1;89271110008;10,00")
    report = import_list(rt, path, "dups", batch_size=2)  # the first rows sit in an earlier batch
    assert (report.imported, report.merged, report.conflicts) == (2, 2, 1)
    warned = {e.row_number: e for e in _entries(rt, report.list_id) if e.kind == "warning"}
    conflict, plain = warned[4], warned[5]
    assert conflict.column == "Л/С" and conflict.raw == "1"
    assert "«Сумма долга»: в строке 2 — 1 234,56, в этой строке — 100,00" in conflict.reason
    assert "Принята строка 2: действует первая строка счёта в файле" in conflict.reason
    assert "расходятся" not in plain.reason and "первая строка 3" in plain.reason
    with rt.sessions() as s:
        debt = s.scalars(select(ListRow.variables).join(Customer).where(Customer.account == "1")).one()
    assert debt == {"debt": 123456}


def test_duplicates_in_one_batch_are_compared_too(rt: Runtime, tmp_path: Path) -> None:
    """Issue 9 item 3: the first row and its repeat in the same batch: the conflict is still found."""
    path = _write(tmp_path / "c1.csv", "Л/С;ФИО;Группа;Мобильный;Сумма долга",
                  "1;Иванов;1;89271110001;1 234,56", "1;Иванов;3;89271110009;")
    report = import_list(rt, path, "dups1")
    (entry,) = [e for e in _entries(rt, report.list_id) if e.kind == "warning"]
    assert "«Группа»: в строке 2 — 1, в этой строке — 3" in entry.reason
    assert "Сумма долга" not in entry.reason  # an empty cell states nothing


def test_a_plain_phone_column_is_noted_at_import(rt: Runtime, tmp_path: Path) -> None:
    """Issue 9 item 3, AI-11: `Телефон` alone is the contract phone: the report says no SMS contacts."""
    path = _write(tmp_path / "p.csv", "Л/С;ФИО;Группа;Телефон", "1;Иванов;1;89271110001")
    report = import_list(rt, path, "phones")
    assert len(report.notes) == 1 and "SMS-контактов в этом списке нет" in report.notes[0]
    (note,) = _entries(rt, report.list_id)
    assert (note.row_number, note.kind, note.column) == (1, "warning", "Телефон")
    assert report.warnings == 0  # a note about the file, not a row's warning


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOINFORM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AUTOINFORM_TIMEZONE", "Asia/Vladivostok")
    act_as_specialist(monkeypatch)  # importing needs a specialist (issue 12)
    return tmp_path


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.split()) if args[1] != "show" or "--json" not in args else result.stdout


def test_lists_show_counts_rows_local_time_and_reachable_customers(cli_env: Path) -> None:
    """Issue 9 item 3: 5 rejected rows with 6 reasons show as 5 rows; the import time is local
    (settings.tz); per channel the customers a campaign can reach; the file note is shown."""
    _write(cli_env / "l.csv", "Л/С;ФИО;Группа;Телефон;E-mail",
           "1;Иванов;1;89271110001;i@example.ru", "2;Петров;1;89271110002;",
           "3;;1;;", "4;;1;;", "5;;1;;", "6;;1;;", "7;;x;123;")
    imported = _ok("lists", "import", "l.csv", "--name", "show")
    assert "note:" in imported and "SMS-контактов в этом списке нет" in imported
    shown = json.loads(_ok("lists", "show", "show", "--json"))
    assert shown["rejected"] == 5 and shown["report_entries"]["rejected"] > 5
    assert shown["reachable"] == {"phone": 2, "sms": 0, "email": 1}
    out = _ok("lists", "show", "show")
    assert f"rejected rows: 5 ({shown['report_entries']['rejected']} reasons)" in out
    assert "customers reachable (own current contact, consent): phone 2, sms 0, email 1" in out
    assert "(Asia/Vladivostok)" in out and "+00:00" not in out
    from datetime import datetime
    from zoneinfo import ZoneInfo

    local = datetime.fromisoformat(shown["created_at"]).astimezone(ZoneInfo("Asia/Vladivostok"))
    assert f"imported {local:%Y-%m-%d %H:%M}" in out
    assert "SMS-контактов в этом списке нет" in out


def test_docs_lists_names_every_alias_and_group_wording() -> None:
    """Issue 9 item 3: docs/lists.md lists every header alias and group wording the code accepts,
    and the README links it."""
    from autoinform.importing.headers import ALIASES, LABELS, VARIABLE_ALIASES
    from autoinform.importing.values import GROUP_ALIASES

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "lists.md").read_text(encoding="utf-8").lower()
    words = [*LABELS.values(), *(a for names in ALIASES.values() for a in names), *VARIABLE_ALIASES,
             *(a for names in VARIABLE_ALIASES.values() for a in names),
             *(a for names in GROUP_ALIASES.values() for a in names)]
    missing = [w for w in words if w.lower() not in doc]
    assert not missing, f"docs/lists.md does not name: {missing}"
    assert "(docs/lists.md)" in (root / "README.md").read_text(encoding="utf-8")
