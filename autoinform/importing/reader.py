"""Streaming readers for list files: CSV (UTF-8, UTF-8 with BOM, CP1251; `;` `,` or tab) and XLSX.

A reader never holds the file: it yields one record at a time. Whole-file problems (empty, binary,
unknown encoding, no data) raise ImportFileError; a single unreadable record is yielded as a
BadRecord so that the importer can report it and carry on.
"""

from __future__ import annotations

import codecs
import csv
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any, Protocol

from autoinform.errors import ImportFileError

SAMPLE_BYTES = 64 * 1024
MAX_LINE = 1024 * 1024  # characters; a longer physical line is one rejected record, never held whole
DELIMITERS = (";", ",", "\t")
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls
_RU_VOWELS = frozenset("аеёиоуыэюяАЕЁИОУЫЭЮЯ")


@dataclass(frozen=True, slots=True)
class Record:
    """One data row; `number` is the row as a spreadsheet or text editor shows it (header = 1).

    `uncached` lists (column index, formula) for XLSX formula cells saved without a computed value
    (files written by scripts): their cells are empty in `cells`, and the normaliser decides.
    """

    number: int
    cells: list[str]
    uncached: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class BadRecord:
    number: int
    reason: str
    raw: str


class TableSource(Protocol):
    path: Path
    kind: str  # csv | xlsx
    encoding: str
    delimiter: str
    header: list[str]

    def records(self) -> Iterator[Record | BadRecord]: ...


# --- detection (pure: bytes in, decisions out) -------------------------------------------------


def detect_encoding(path: str, sample: bytes) -> str:
    """utf-8-sig, utf-8 or cp1251, decided from the first bytes; anything else is an error."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileError(path, "UTF-16 text is not supported: save the file as UTF-8 or CP1251 CSV")
    if b"\x00" in sample:
        raise ImportFileError(path, "binary data (NUL bytes): not a CSV or XLSX file")
    encoding, text = _decode_sample(sample)
    if encoding is None:
        raise ImportFileError(path, "neither UTF-8 nor CP1251 text")
    if encoding == "cp1251" and not _plausible_russian(text):
        raise ImportFileError(path, "neither UTF-8 nor CP1251 text (looks like another Cyrillic "
                                    "encoding such as KOI8-R): save the file as UTF-8 or CP1251")
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\t\r\n")
    if controls > max(2, len(text) // 200):
        raise ImportFileError(path, "binary data (control characters): not a CSV or XLSX file")
    return encoding


def _decode_sample(sample: bytes) -> tuple[str | None, str]:
    # final=False: the sample may end inside a multi-byte character.
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(sample, final=False)
    bad = text.count("\ufffd")
    good = sum(1 for c in text if c > "\x7f") - bad
    # A few stray bytes in a UTF-8 file spoil their rows (rejected later); CP1251 read as UTF-8 is
    # nearly all replacement characters.
    if bad == 0 or good > 10 * bad:
        return "utf-8", text
    try:
        return "cp1251", sample.decode("cp1251")
    except UnicodeDecodeError:
        return None, ""


def _plausible_russian(text: str) -> bool:
    """Russian has ~40% vowels; KOI8-R read as CP1251 turns them into consonants and capitals."""
    letters = [c for c in text if "\u0400" <= c <= "\u04ff"]
    if len(letters) < 20:
        return True
    vowels = sum(1 for c in letters if c in _RU_VOWELS)
    return vowels / len(letters) >= 0.25


def detect_delimiter(header_line: str) -> str:
    """The separator used most in the header line, quotes aside; `;` when there is none."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for c in header_line:
        if c == '"':
            quoted = not quoted
        elif not quoted and c in counts:
            counts[c] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties go to the first: ; before ,
    return best if counts[best] else ";"


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


# --- CSV ---------------------------------------------------------------------------------------


class _LineTooLong(Exception):
    def __init__(self, head: str) -> None:
        super().__init__(head)
        self.head = head


class _CappedLines:
    """Physical lines of a text file for csv.reader, with memory bounded whatever the input.

    A line longer than `cap` characters is skipped in chunks; a record whose quoted cells run over
    lines past `cap` characters in all is cut off. Either is reported by raising _LineTooLong once,
    after which iteration continues. csv.field_size_limit() is process-wide, so it is left alone.
    """

    def __init__(self, f: IO[str], cap: int) -> None:
        self.f = f
        self.cap = cap
        self.count = 0
        self.record_chars = 0  # reset by the reader at the start of each record
        self.last = ""

    def __iter__(self) -> _CappedLines:
        return self

    def __next__(self) -> str:
        line = self.f.readline(self.cap + 1)
        if not line:
            raise StopIteration
        self.count += 1
        self.record_chars += len(line)
        if len(line) > self.cap and not line.endswith("\n"):
            head = line[:200]
            while line and not line.endswith("\n"):
                line = self.f.readline(self.cap)
            self.last = head
            raise _LineTooLong(head)
        if self.record_chars > self.cap:
            self.last = line
            raise _LineTooLong(line[:200])
        self.last = line
        return line


class CsvSource:
    kind = "csv"

    def __init__(self, path: Path, f: IO[str], encoding: str, delimiter: str) -> None:
        self.path = path
        self.encoding = encoding
        self.delimiter = delimiter
        self._lines = _CappedLines(f, MAX_LINE)
        self._reader = self._new_reader()
        self.header: list[str] = []
        first = next(self._iter(), None)
        if first is None:
            raise ImportFileError(str(path), "empty file")
        if isinstance(first, BadRecord):
            raise ImportFileError(str(path), f"unreadable header: {first.reason}")
        self.header = first.cells
        self._peeked = next(self._iter(), None)
        if self._peeked is None:
            raise ImportFileError(str(path), "no data rows: the file has a header only")

    def _new_reader(self) -> Iterator[list[str]]:
        return csv.reader(self._lines, delimiter=self.delimiter, strict=False)

    def _iter(self) -> Iterator[Record | BadRecord]:
        while True:
            start = self._lines.count + 1
            self._lines.record_chars = 0
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except _LineTooLong as exc:
                self._reader = self._new_reader()  # a fresh parser: the broken record is gone
                yield BadRecord(start, f"строка или запись длиннее {MAX_LINE} знаков", exc.head)
                continue
            except csv.Error as exc:
                self._reader = self._new_reader()
                yield BadRecord(start, f"испорченная строка CSV ({exc})", self._lines.last[:200])
                continue
            if any(c.strip() for c in cells):  # blank lines are not rows
                yield Record(start, cells)

    def records(self) -> Iterator[Record | BadRecord]:
        if self._peeked is not None:
            yield self._peeked
            self._peeked = None
        yield from self._iter()


# --- XLSX --------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """An XLSX cell as the text a CSV export would have held."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers and accounts typed as numbers
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


class UncachedFormula(str):
    """A formula cell with no cached value: the text is the formula, e.g. '=100+23.45'."""

    __slots__ = ()


def _uncached_parser() -> type:
    """openpyxl's sheet parser in data_only mode, except that a formula cell without a cached
    value yields UncachedFormula instead of None (which would read as an empty cell)."""
    from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

    class Parser(WorkSheetParser):
        def parse_cell(self, element: Any) -> dict[str, Any]:
            cell: dict[str, Any] = super().parse_cell(element)
            if cell["value"] is None:  # the usual cell has a value: one dict lookup, no XML search
                f = element.find(FORMULA_TAG)
                if f is not None:
                    text = f.text or ("(shared formula)" if f.get("t") == "shared" else "")
                    cell["value"] = UncachedFormula("=" + text)
            return cell

    return Parser


def _sheet_rows(wb: Any, ws: Any) -> Iterator[tuple[int, list[Any], tuple[tuple[int, str], ...]]]:
    """(row number, values by column from 1, uncached formulas) of a read-only sheet, streaming.

    Mirrors ReadOnlyWorksheet._cells_by_row (openpyxl 3.1) with the parser above; rows the sheet
    does not store are simply absent (the caller skips empty rows anyway).
    """
    with ws._get_source() as src:
        parser = _uncached_parser()(src, ws._shared_strings, data_only=True, epoch=wb.epoch,
                                     date_formats=wb._date_formats, timedelta_formats=wb._timedelta_formats)
        for number, row in parser.parse():
            if not row:
                continue
            values: list[Any] = [None] * row[-1]["column"]
            uncached: list[tuple[int, str]] = []
            for cell in row:
                value = cell["value"]
                if type(value) is UncachedFormula:
                    uncached.append((cell["column"] - 1, str(value)))
                    value = None
                values[cell["column"] - 1] = value
            yield number, values, tuple(uncached)


class XlsxSource:
    kind = "xlsx"
    encoding = "xlsx"
    delimiter = ""

    def __init__(self, path: Path) -> None:
        from openpyxl import load_workbook

        self.path = path
        # Opened here and given as a file: openpyxl refuses a path by its extension, and a
        # workbook saved or renamed as .csv is still a workbook (issue 9 item 4).
        self._file = path.open("rb")
        try:
            self._wb = load_workbook(self._file, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises zipfile, KeyError, XML errors… for a broken file
            self._file.close()
            raise ImportFileError(str(path), f"not a readable XLSX workbook ({type(exc).__name__}: {exc})"
                                  ) from exc
        try:
            self._start()
        except ImportFileError:
            self.close()
            raise

    def _start(self) -> None:
        path = self.path
        ws = self._wb.worksheets[0] if self._wb.worksheets else None
        if ws is None:
            raise ImportFileError(str(path), "the workbook has no sheets")
        self._rows = _sheet_rows(self._wb, ws)
        self.header = []
        for _n, row, _ in self._rows:
            cells = [cell_text(v) for v in row]
            if any(c.strip() for c in cells):
                self.header = _trim(cells)
                break
        if not self.header:
            raise ImportFileError(str(path), "empty file (the first sheet has no rows)")
        self._peeked = next(self._iter(), None)
        if self._peeked is None:
            raise ImportFileError(str(path), "no data rows: the sheet has a header only")

    def _iter(self) -> Iterator[Record]:
        for n, row, uncached in self._rows:
            cells = [cell_text(v) for v in row]
            if any(c.strip() for c in cells) or uncached:
                cells = _trim(cells, keep=len(self.header))
                cells.extend([""] * (len(self.header) - len(cells)))  # short rows: empty trailing cells
                yield Record(n, cells, uncached)

    def records(self) -> Iterator[Record | BadRecord]:
        if self._peeked is not None:
            yield self._peeked
            self._peeked = None
        yield from self._iter()

    def close(self) -> None:
        self._wb.close()
        self._file.close()


def _trim(cells: list[str], keep: int = 0) -> list[str]:
    """Drop empty cells past the last used one (sheets report their full width)."""
    end = len(cells)
    while end > keep and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


# --- opening -----------------------------------------------------------------------------------


def _read_sample(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(SAMPLE_BYTES)
    except OSError as exc:
        raise ImportFileError(str(path), f"cannot read: {exc.strerror}") from exc


@contextmanager
def _open(path: Path) -> Iterator[TableSource]:
    sample = _read_sample(path)
    if not sample.strip(b" \t\r\n" + codecs.BOM_UTF8):
        raise ImportFileError(str(path), "empty file")
    if sample.startswith(_XLSX_MAGIC):
        xlsx = XlsxSource(path)
        try:
            yield xlsx
        finally:
            xlsx.close()
        return
    if sample.startswith(_OLE_MAGIC):
        raise ImportFileError(str(path), "legacy .xls workbooks are not supported: save as .xlsx or CSV")
    encoding = detect_encoding(str(path), sample)
    text = sample.decode(encoding, errors="ignore")
    delimiter = detect_delimiter(_first_line(text))
    # errors="replace": a stray undecodable byte spoils one row (rejected), not the whole import.
    with path.open(encoding=encoding, errors="replace", newline="") as f:
        yield CsvSource(path, f, encoding, delimiter)


def open_table(path: Path) -> AbstractContextManager[TableSource]:
    """Open a list file for streaming; the header is read and at least one data row exists."""
    return _open(path)


def estimate_rows(path: Path) -> int | None:
    """Roughly how many data rows a file holds, for a progress bar (one fast pass over the bytes)."""
    try:
        with path.open("rb") as f:
            head = f.read(len(_XLSX_MAGIC))
            if head == _XLSX_MAGIC:
                from openpyxl import load_workbook

                f.seek(0)
                wb = load_workbook(f, read_only=True)  # a file: whatever the name's extension
                try:
                    rows = wb.worksheets[0].max_row if wb.worksheets else None
                finally:
                    wb.close()
                return rows - 1 if rows else None
            f.seek(0)
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            return max(lines - 1, 0)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # only an estimate: no total then
        return None
