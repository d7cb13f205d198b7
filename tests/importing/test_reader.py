"""Streaming readers: encoding and delimiter detection, bad records, caps, XLSX (AI-4)."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoinform.errors import ImportFileError
from autoinform.importing.reader import (
    MAX_LINE,
    BadRecord,
    Record,
    cell_text,
    detect_delimiter,
    detect_encoding,
    open_table,
)

_WORDS = ("Иванов", "Пётр", "ул. Ленина", "д. 5", "кв. 12", "ООО «Лотос»", "г. Астрахань", "1 234,56",
          "89271234567", "население", "ёлка", "Щукин", "Эльвира", "Юрьевна", "подъезд", "семья")
_HEADERS = ("Лицевой счёт", "ФИО", "Группа", "Телефон", "Адрес", "Сумма долга", "E-mail", "РОС")
_cells = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1251"]),
       delimiter=st.sampled_from([";", ",", "\t"]),
       width=st.integers(min_value=2, max_value=len(_HEADERS)),
       rows=st.lists(st.lists(_cells, min_size=len(_HEADERS), max_size=len(_HEADERS)), min_size=1,
                     max_size=20))
def test_encoding_and_delimiter_detected_and_rows_round_trip(
        tmp_path: Path, encoding: str, delimiter: str, width: int, rows: list[list[str]]) -> None:
    """Whatever a billing system writes (3 encodings × 3 delimiters, quoted cells), we read it back."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(_HEADERS[:width])
    data = [r[:width] for r in rows]
    w.writerows(data)
    path = tmp_path / f"f-{encoding}-{ord(delimiter)}.csv"
    path.write_bytes(buf.getvalue().encode(encoding))
    with open_table(path) as t:
        assert t.encoding == encoding
        assert t.delimiter == delimiter
        assert t.header == list(_HEADERS[:width])
        got = list(t.records())
    assert [r.cells for r in got if isinstance(r, Record)] == data
    assert [r.number for r in got] == list(range(2, len(data) + 2))


@given(st.binary(min_size=1, max_size=2000))
def test_detect_encoding_decides_or_raises_a_clear_error(sample: bytes) -> None:
    try:
        enc = detect_encoding("x.csv", sample)
    except ImportFileError as exc:
        assert exc.reason
    else:
        assert enc in {"utf-8", "utf-8-sig", "cp1251"}
        sample.decode(enc if enc != "utf-8" else "utf-8", errors="strict" if enc == "cp1251" else "ignore")


@pytest.mark.parametrize(("line", "delimiter"), [
    ("a;b;c", ";"), ("a,b,c", ","), ("a\tb\tc", "\t"), ('"a;b",c,d', ","), ("Сумма, руб.;ФИО;Группа", ";"),
    ("one column", ";"),
])
def test_delimiter_from_the_header_quotes_aside(line: str, delimiter: str) -> None:
    assert detect_delimiter(line) == delimiter


@pytest.mark.parametrize(("name", "reason"), [
    ("empty.csv", "empty file"),
    ("blank_lines.csv", "empty file"),
    ("header_only.csv", "header only"),
    ("koi8r.csv", "neither UTF-8 nor CP1251"),
    ("utf16.csv", "UTF-16"),
    ("binary_junk.bin", "binary data"),
    ("legacy.xls", "legacy .xls"),
])
def test_corpus_files_that_cannot_be_read_give_a_clear_error(corpus: Path, name: str, reason: str) -> None:
    with pytest.raises(ImportFileError, match=reason) as err, open_table(corpus / name):
        pass
    assert err.value.path.endswith(name)


def test_binary_junk_without_nul_bytes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.csv"
    path.write_bytes(bytes(b for b in range(1, 32) if b not in (9, 10, 13)) * 50)
    with pytest.raises(ImportFileError, match="binary data"), open_table(path):
        pass


def test_a_broken_xlsx_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(ImportFileError, match="not a readable XLSX"), open_table(path):
        pass


def test_ten_megabyte_field_is_one_bad_record_not_a_crash(big_field_csv: Path) -> None:
    with open_table(big_field_csv) as t:
        got = list(t.records())
    by_row = {r.number: r for r in got}
    assert isinstance(by_row[3], BadRecord) and str(MAX_LINE) in by_row[3].reason
    assert len(by_row[3].raw) <= 200
    assert isinstance(by_row[5], BadRecord | Record)
    assert [r.cells[0] for r in got if isinstance(r, Record) and len(r.cells[1]) < 1000] == ["1", "3", "5"]


def test_quoted_multiline_cell_and_row_numbers_follow_lines(tmp_path: Path) -> None:
    path = tmp_path / "ml.csv"
    path.write_text('Лицевой счёт;ФИО;Группа;Телефон\n1;"Иванов\nИван";1;89271112233\n\n2;Пётр;1;8927\n',
                    encoding="utf-8")
    with open_table(path) as t:
        got = list(t.records())
    assert [(r.number, r.cells[1]) for r in got if isinstance(r, Record)] == [(2, "Иванов\nИван"), (5, "Пётр")]


def test_a_stray_byte_spoils_its_row_only(tmp_path: Path) -> None:
    path = tmp_path / "stray.csv"
    good = "Лицевой счёт;ФИО;Группа;Телефон\r\n1;Иванов;1;89271112233\r\n".encode()
    path.write_bytes(good + b"2;\xff\xfe;1;89271112234\r\n" + "3;Пётр;1;89271112235\r\n".encode())
    with open_table(path) as t:
        assert t.encoding == "utf-8"
        cells = [r.cells[1] for r in t.records() if isinstance(r, Record)]
    assert cells[1].count("\ufffd") == 2 and cells[2] == "Пётр"


def test_bom_is_not_part_of_the_first_header(corpus: Path) -> None:
    with open_table(corpus / "utf8_bom.csv") as t:
        assert t.header[0] == "Лицевой счёт"
        assert not t.header[0].startswith(codecs.BOM_UTF8.decode("utf-8"))


def test_xlsx_reads_numbers_dates_and_skips_empty_rows(corpus: Path) -> None:
    with open_table(corpus / "sample.xlsx") as t:
        assert t.kind == "xlsx"
        rows = [r for r in t.records() if isinstance(r, Record)]
    assert [r.number for r in rows] == [2, 3, 5]
    assert rows[0].cells[4] == "89271112233" and rows[0].cells[6] == "1234.56"
    assert rows[0].cells[7] == "2026-12-05"
    assert rows[1].cells[0] == "200002"


def test_cell_text_of_spreadsheet_values() -> None:
    from datetime import date, datetime, time

    assert cell_text(None) == "" and cell_text(89271112233.0) == "89271112233" and cell_text(12.5) == "12.5"
    assert cell_text(datetime(2026, 12, 5)) == "2026-12-05"
    assert cell_text(datetime(2026, 12, 5, 9, 30)) == "2026-12-05 09:30:00"
    assert cell_text(date(2026, 12, 5)) == "2026-12-05" and cell_text(time(9, 0)) == "09:00:00"
    assert cell_text(True) == "1"


def test_a_quoted_cell_running_over_many_lines_is_cut_off(tmp_path: Path) -> None:
    """Even with csv's own field limit raised by someone else, a record cannot grow without bound."""
    old = csv.field_size_limit(2**31 - 1)
    try:
        path = tmp_path / "runaway.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            f.write("Лицевой счёт;ФИО;Группа;Телефон\n1;Иванов;1;89271112233\n2;\"")
            for _ in range(3000):
                f.write("x" * 999 + "\n")
            f.write("\";1;89271112234\n3;Пётр;1;89271112235\n")
        with open_table(path) as t:
            got = list(t.records())
        bad = [r for r in got if isinstance(r, BadRecord)]
        assert bad and bad[0].number == 3 and "длиннее" in bad[0].reason
        # What follows the cut is read as (rejected later) rows of its own; none is big.
        assert all(len(c) <= MAX_LINE for r in got if isinstance(r, Record) for c in r.cells)
        assert next(r.cells[0] for r in got if isinstance(r, Record)) == "1"
        # The stray closing quote opens a new cell, so row 3004 ends up inside record 3003: a visible
        # (rejected) row with its text, not a silent loss.
        assert isinstance(got[-1], Record) and "3;Пётр" in got[-1].cells[0]
    finally:
        csv.field_size_limit(old)
