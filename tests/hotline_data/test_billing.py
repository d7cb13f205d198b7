"""`autoinform billing import` (HL-8): the list import's file rules, the latest balance per account,
every row accounted for (read = stored + older + rejected)."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.config import Settings
from autoinform.errors import ImportFileError
from autoinform.hotline.backend import DbHotlineBackend
from autoinform.hotline.billing import import_balances
from autoinform.models import AccountBalance, AuditEntry, BillingRejection
from autoinform.runtime import Runtime
from tests.cli_actors import as_user
from tests.hotline_data.conftest import WED_10, AddCustomer

runner = CliRunner()
TODAY = date(2026, 12, 2)


def _csv(tmp_path: Path, name: str, text: str, encoding: str = "cp1251") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return path


def _balances(rt: Runtime) -> dict[str, tuple[int, date]]:
    with rt.sessions() as s:
        return {b.account: (b.amount_kopecks, b.as_of) for b in s.scalars(select(AccountBalance))}


def test_cp1251_csv_with_debts_and_overpayments(rt: Runtime, add_customer: AddCustomer, tmp_path: Path) -> None:
    for a in ("100001", "100002", "100003"):
        add_customer(a)
    path = _csv(tmp_path, "saldo.csv", "Лицевой счёт;Сальдо;На дату\n100001;1 234,56;01.12.2026\n"
                                      "100002;-10,05;01.12.2026\n100003;0;2026-12-01\n")
    report = import_balances(rt, path, actor="spec", today=TODAY)
    assert (report.rows_read, report.stored, report.older, report.rejected) == (3, 3, 0, 0)
    assert report.encoding == "cp1251" and report.balanced
    assert _balances(rt) == {"100001": (123456, date(2026, 12, 1)), "100002": (-1005, date(2026, 12, 1)),
                             "100003": (0, date(2026, 12, 1))}


def test_an_older_export_never_overwrites_a_newer_balance(rt: Runtime, add_customer: AddCustomer,
                                                          tmp_path: Path) -> None:
    add_customer("100001")
    add_customer("100002")
    new = _csv(tmp_path, "new.csv", "л/с;Задолженность;Дата\n100001;500,00;01.12.2026\n100002;1,00;01.12.2026\n")
    old = _csv(tmp_path, "old.csv", "л/с;Задолженность;Дата\n100001;900,00;01.11.2026\n100002;2,00;02.12.2026\n")
    import_balances(rt, new, today=TODAY)
    report = import_balances(rt, old, today=TODAY)
    assert (report.stored, report.older, report.rejected) == (1, 1, 0)
    assert _balances(rt) == {"100001": (50000, date(2026, 12, 1)), "100002": (200, date(2026, 12, 2))}


def test_rejected_rows_are_counted_with_their_reason(rt: Runtime, add_customer: AddCustomer, tmp_path: Path) -> None:
    add_customer("100001")
    add_customer("100002")
    text = ("Лицевой счёт;Сальдо;Дата\n"
            "100001;12,50;01.12.2026\n"
            "999999;1,00;01.12.2026\n"  # no such customer
            "100002;много;01.12.2026\n"  # not an amount
            "100002;1,00;31.02.2026\n"  # no such date
            "100002;1,00;01.01.2027\n"  # in the future
            "-12;1,00;01.12.2026\n"  # not an account
            "100001;13,50;01.12.2026\n"  # the same date, another amount
            "100001;12,50;30.11.2026\n")  # an earlier date in the same file
    report = import_balances(rt, _csv(tmp_path, "bad.csv", text, "utf-8"), today=TODAY)
    assert (report.rows_read, report.stored, report.older, report.rejected) == (8, 1, 1, 6)
    assert report.balanced
    with rt.sessions() as s:
        rows = {r.row_number: r.reason for r in s.scalars(select(BillingRejection))}
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "billing.import")) == 1
    assert sorted(rows) == [3, 4, 5, 6, 7, 8]
    assert "не найден" in rows[3] and "не сумма" in rows[4] and "нет такой даты" in rows[5]
    assert "в будущем" in rows[6] and "лицевой счёт" in rows[7] and "ту же дату" in rows[8]


def test_xlsx_and_a_date_for_the_whole_file(rt: Runtime, add_customer: AddCustomer, tmp_path: Path) -> None:
    add_customer("300000123")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Лицевой счет", "Сумма долга"])
    ws.append([300000123, 1500.5])
    path = tmp_path / "saldo.xlsx"
    wb.save(path)
    with pytest.raises(ImportFileError, match="--as-of"):
        import_balances(rt, path, today=TODAY)
    report = import_balances(rt, path, as_of=date(2026, 11, 30), today=TODAY)
    assert report.format == "xlsx" and report.stored == 1
    assert _balances(rt) == {"300000123": (150050, date(2026, 11, 30))}


def test_file_level_errors_store_nothing(rt: Runtime, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no balance column"):
        import_balances(rt, _csv(tmp_path, "x.csv", "Лицевой счёт;ФИО\n1;Иванов\n"), today=TODAY)
    with pytest.raises(ImportFileError, match="KOI8-R"):
        import_balances(rt, _csv(tmp_path, "k.csv", "Лицевой счёт;Сальдо;Дата\n" + "1;1;01.12.2026;Иванов Иван "
                                 "Петрович, улица Ленина, дом\n" * 5, "koi8-r"), today=TODAY)


def test_backend_speaks_the_stored_balance_in_kopecks(rt: Runtime, add_customer: AddCustomer,
                                                      tmp_path: Path) -> None:
    add_customer("100001")
    import_balances(rt, _csv(tmp_path, "s.csv", "ЛС;Сальдо;Дата\n100001;1 234,05;01.12.2026\n"), today=TODAY)
    backend = DbHotlineBackend(rt, clock=lambda: WED_10)
    balance = asyncio.run(backend.balance("100001"))
    assert balance is not None and balance.amount == Decimal("1234.05") and balance.as_of == date(2026, 12, 1)
    assert asyncio.run(backend.balance("100002")) is None


def test_cli_import_with_reject_report(cli_env: Settings, rt: Runtime, add_customer: AddCustomer, users: None,
                                       tmp_path: Path) -> None:
    add_customer("100001")
    path = _csv(tmp_path, "s.csv", "ЛС;Сальдо;Дата\n100001;10,00;01.12.2026\n=1+2;10,00;01.12.2026\n")
    report = tmp_path / "rejects.csv"
    result = runner.invoke(app, ["billing", "import", str(path)], env=as_user("op"))
    assert result.exit_code == 1 and "specialist" in result.output  # an operator may not import
    result = runner.invoke(app, ["billing", "import", str(path), "--reject-report", str(report)], env=as_user("spec"))
    assert result.exit_code == 0, result.output
    assert "2 = 1 + 0 + 1" in result.output
    rows = list(csv.reader(report.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert rows[1][0] == "3" and rows[1][3].startswith("'=1+2")  # formula-safe
    listed = runner.invoke(app, ["billing", "list", "--json"], env=as_user("mgr"))
    assert listed.exit_code == 0, listed.output
    (entry,) = json.loads(listed.stdout)
    assert (entry["read"], entry["stored"], entry["older"], entry["rejected"], entry["by"]) == (2, 1, 0, 1, "spec")
    assert entry["complete"] and len(entry["sha256"]) == 64
