"""The report as an XLSX workbook: a sheet per table, the customers' results streamed into the last.

openpyxl's write-only mode writes rows as they come (a 100k-row sheet never sits in memory as
cells). Text from data goes through excel_safe, so no cell starts a formula (a customer named
"=HYPERLINK(…)" stays text); numbers stay numbers and shares are percentages Excel can sum.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

from autoinform.importing.export import excel_safe
from autoinform.report_files.scope import Share
from autoinform.reports import RESULT_COLUMNS, Summary

SHEETS = {"overview": "Сводка", "by_campaign": "Кампании", "by_channel": "Каналы", "by_division": "Подразделения",
          "by_group": "Группы", "by_division_group": "Подразделения и группы", "by_hour": "Часы",
          "by_day": "Дни", "by_reason": "Причины", "indicators": "Показатели качества"}
RESULTS_SHEET = "Клиенты"


def _cells(ws: Any, values: Iterable[Any], *, bold: bool = False) -> list[Any]:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    out = []
    for v in values:
        if isinstance(v, Share):
            c = WriteOnlyCell(ws, value=float(v))
            c.number_format = "0.0%"
        elif isinstance(v, int | float) and not isinstance(v, bool):
            c = WriteOnlyCell(ws, value=v)
        else:
            # Control characters are not allowed in XLSX at all (openpyxl refuses the cell): dropped.
            c = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", excel_safe(v)) if v is not None else None)
            if c.value is not None:
                c.data_type = "s"  # text, whatever it looks like
        if bold:
            c.font = Font(bold=True)
        out.append(c)
    return out


def write_xlsx(out: IO[bytes], summary: Summary, results: Iterable[tuple[Any, ...]] | None) -> int:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    for t in summary.tables:
        ws = wb.create_sheet(SHEETS.get(t.key, t.key)[:31])
        ws.append(_cells(ws, [t.title], bold=True))
        ws.append(_cells(ws, t.columns, bold=True))
        for r in t.rows:
            ws.append(_cells(ws, r))
    n = 0
    if results is not None:
        ws = wb.create_sheet(RESULTS_SHEET)
        ws.append(_cells(ws, RESULT_COLUMNS, bold=True))
        for r in results:
            ws.append(_cells(ws, r))
            n += 1
    wb.save(out)
    return n
