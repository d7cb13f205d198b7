"""Rejection report export: Excel opens it with Cyrillic intact and never runs a formula (AI-4, AI-19)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from autoinform.importing.export import HEADER, excel_safe, export_rejections, write_rejections
from autoinform.importing.importer import import_list
from autoinform.models import ListRejection
from autoinform.runtime import Runtime


@pytest.mark.parametrize(("value", "safe"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+7 930", "'+7 930"), ("-1", "'-1"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("Иванов", "Иванов"), ("", ""),
    (17, "17"), (None, ""),
])
def test_formula_starts_get_an_apostrophe(value: object, safe: str) -> None:
    assert excel_safe(value) == safe


def test_write_rejections_semicolon_quoted() -> None:
    row = ListRejection(row_number=5, kind="rejected", column="Сумма", reason="bad; really",
                        raw='=1+1;"x"')
    out = io.StringIO()
    assert write_rejections(out, [row]) == 1
    parsed = list(csv.reader(io.StringIO(out.getvalue()), delimiter=";"))
    assert parsed == [list(HEADER), ["5", "отклонена", "Сумма", "bad; really", "'=1+1;\"x\""]]


def test_export_file_is_utf8_with_bom_and_safe(sqlite_rt: Runtime, corpus: Path, tmp_path: Path) -> None:
    report = import_list(sqlite_rt, corpus / "cp1251.csv", "exp")
    out = tmp_path / "rej.csv"
    with sqlite_rt.sessions() as s:
        n = export_rejections(s, report.list_id, out)
        total = len(list(s.scalars(select(ListRejection.id).where(ListRejection.list_id == report.list_id))))
    assert n == total
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == list(HEADER)
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
    assert any("=HYPERLINK" in cell for r in rows for cell in r)  # the formula is there, defused
    with sqlite_rt.sessions() as s:
        warnings_only = export_rejections(s, report.list_id, tmp_path / "w.csv", kind="warning")
    assert warnings_only == 3
