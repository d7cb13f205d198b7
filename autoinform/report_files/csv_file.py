"""The report as one CSV file: UTF-8 with a BOM and ';' (Excel on a Russian-locale PC opens it
with its Cyrillic and columns), every cell formula-safe.

A CSV holds one table, a report several: each is a section (a title line, a header, its rows,
a blank line); the customers' results come last, streamed row by row.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable
from typing import IO, Any

from autoinform.report_files.cells import text_cell
from autoinform.reports import RESULT_COLUMNS, Summary, Table

RESULTS_TITLE = "Результаты по клиентам"


def _section(w: Any, title: str, columns: Iterable[str], rows: Iterable[tuple[Any, ...]]) -> int:
    w.writerow([text_cell(title)])
    w.writerow([text_cell(c) for c in columns])
    n = 0
    for r in rows:
        w.writerow([text_cell(v) for v in r])
        n += 1
    w.writerow([])
    return n


def write_csv(out: IO[bytes], summary: Summary, results: Iterable[tuple[Any, ...]] | None) -> int:
    """Write the summary's tables and, when given, the customers' results; returns the results' rows."""
    out.write(codecs.BOM_UTF8)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        w = csv.writer(text, delimiter=";", lineterminator="\r\n")
        w.writerow([text_cell(summary.title)])
        w.writerow([])
        t: Table
        for t in summary.tables:
            _section(w, t.title, t.columns, t.rows)
        n = _section(w, RESULTS_TITLE, RESULT_COLUMNS, results) if results is not None else 0
        text.flush()
    finally:
        text.detach()  # the caller owns `out`
    return n
