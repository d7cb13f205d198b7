"""XLSX formula cells without a cached value (issue 8 item 9, AI-4): rejected or warned at import."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import select

from autoinform.importing.importer import import_list
from autoinform.importing.reader import Record, open_table
from autoinform.models import Customer, ListRejection, ListRow
from autoinform.runtime import Runtime

HEADER = ["Лицевой счёт", "ФИО", "Группа", "Телефон", "E-mail", "Сумма долга", "", "Примечание"]


def _write(path: Path, *, cached: bool = False) -> Path:
    """Row 2 is plain; row 3 has a formula debt, row 4 formulas in the e-mail column and in a column
    without a header, row 5 in a free variable's column. openpyxl stores formulas without computing them."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER)
    ws.append(["500001", "Иванов Иван", 1, "89271112233", "", 100.5, "", ""])
    ws.append(["500002", "Петров Пётр", 1, "89271112234", "", "=100+23.45", "", ""])
    ws.append(["500003", "Сидоров Сидор", 1, "89271112235", '=LOWER("A@EXAMPLE.COM")', 10, "=1+1", ""])
    ws.append(["500004", "Смирнов Семён", 1, "89271112236", "", 5, "", '=CONCAT("a","b")'])
    wb.save(path)
    if cached:  # what Excel or LibreOffice would have saved: the formula and its value
        _add_cached_values(path, {"F3": "123.45", "E4": "a@example.com", "G4": "2", "H5": "ab"})
    return path


def _add_cached_values(path: Path, values: dict[str, str]) -> None:
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    sheet = members["xl/worksheets/sheet1.xml"].decode()
    for ref, value in values.items():
        pattern = re.compile(rf'<c r="{ref}"([^>]*)><f>(.*?)</f><v\s*/?>(?:</v>)?</c>')
        kind = ' t="str"' if not value.replace(".", "").isdigit() else ""
        sheet, n = pattern.subn(lambda m, r=ref, v=value, k=kind: f'<c r="{r}"{m.group(1)}{k}><f>{m.group(2)}'
                                f"</f><v>{v}</v></c>", sheet)
        assert n == 1, (ref, sheet)
    members["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_reader_marks_formulas_without_a_cached_value(tmp_path: Path) -> None:
    """Issue 8 item 9: the reader tells an uncomputed formula from an empty cell."""
    with open_table(_write(tmp_path / "f.xlsx")) as t:
        records = [r for r in t.records() if isinstance(r, Record)]
    by_row = {r.number: r for r in records}
    assert by_row[3].uncached == ((5, "=100+23.45"),) and by_row[3].cells[5] == ""
    assert by_row[4].uncached == ((4, '=LOWER("A@EXAMPLE.COM")'), (6, "=1+1"))
    assert by_row[5].uncached == ((7, '=CONCAT("a","b")'),)
    assert by_row[2].uncached == () and by_row[2].cells[5] == "100.5"


def test_formula_debt_without_value_rejects_its_row_naming_column_and_formula(rt: Runtime,
                                                                               tmp_path: Path) -> None:
    """Issue 8 item 9, AI-4: a debt `=100+23.45` saved without a value rejects the row at import, so
    does one in a free variable (scenarios read them); one in a contact column or an unread column
    only warns and the row stands on its other data."""
    report = import_list(rt, _write(tmp_path / "f.xlsx"), "formulas")
    assert (report.rows_read, report.imported, report.rejected) == (4, 2, 2)
    with rt.sessions() as s:
        entries = s.execute(select(ListRejection.row_number, ListRejection.kind, ListRejection.column,
                                   ListRejection.reason, ListRejection.raw)
                            .where(ListRejection.list_id == report.list_id)
                            .order_by(ListRejection.row_number, ListRejection.id)).all()
        imported = set(s.scalars(select(Customer.account).join(ListRow, ListRow.customer_id == Customer.id)
                                 .where(ListRow.list_id == report.list_id)))
    assert imported == {"500001", "500003"}
    rejected = [e for e in entries if e.kind == "rejected"]
    assert [(e.row_number, e.column) for e in rejected] == [(3, "Сумма долга"), (5, "Примечание")]
    assert "=100+23.45" in rejected[0].reason and "без сохранённого значения" in rejected[0].reason
    assert "=100+23.45" in rejected[0].raw
    warned = [(e.row_number, e.column) for e in entries if e.kind == "warning" and e.row_number > 1]
    assert warned == [(4, "E-mail"), (4, "#7")]


def test_formulas_with_cached_values_import_normally(rt: Runtime, tmp_path: Path) -> None:
    """Issue 8 item 9: a file saved by a spreadsheet (formula and value) imports as before."""
    report = import_list(rt, _write(tmp_path / "f.xlsx", cached=True), "cached")
    assert (report.rows_read, report.imported, report.rejected, report.warnings) == (4, 4, 0, 0)
    with rt.sessions() as s:
        variables = dict(s.execute(select(Customer.account, ListRow.variables)
                                   .join(ListRow, ListRow.customer_id == Customer.id)
                                   .where(ListRow.list_id == report.list_id)).all())  # type: ignore[arg-type]
    assert variables["500002"]["debt"] == 12345
    assert variables["500004"]["примечание"] == "ab"
