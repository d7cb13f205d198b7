"""The PDF's layout without a database: long tables continue on further pages, empty ones say so,
and the charts are always all four (an empty chart says "нет данных")."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from autoinform.report_files.charts import draw
from autoinform.report_files.pdf_file import ROWS_FIRST, ROWS_PAGE, write_pdf
from autoinform.report_files.scope import ReportSpec, Share
from autoinform.reports import Summary, Table

COLS5 = ("a", "b", "c", "d", "e", "f")


def summary(divisions: int) -> Summary:
    rows = [(f"Подразделение {i}", f"d{i}", 3, 2, 1, Share(2 / 3)) for i in range(divisions)]
    tables = [Table("overview", "Сводка", ("Показатель", "Значение"), [("Клиентов", 3 * divisions)]),
              Table("by_channel", "Каналы", ("Канал", "Попыток", "x", "Завершено", "Положительных", "Отрицательных",
                                             "Доля"), []),
              Table("by_division", "По подразделениям", COLS5, rows),
              Table("by_hour", "Часы", COLS5, []), Table("by_day", "Дни", COLS5[:5], []),
              Table("by_reason", "Причины", ("Итог", "Причина", "Пояснение", "Клиентов"), []),
              Table("indicators", "Показатели", ("Код", "Требование", "Показатель", "Значение", "Пояснение"), [])]
    return Summary(ReportSpec(campaign_id=1, actor="boss"), "Отчёт", datetime(2026, 12, 7, tzinfo=UTC), tables)


def pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", data))


def test_long_tables_continue_and_empty_ones_still_get_their_page() -> None:
    short, long = summary(3), summary(ROWS_FIRST + ROWS_PAGE + 1)
    outs = []
    for s in (short, long):
        buf = io.BytesIO()
        n = write_pdf(buf, s, draw(s))
        outs.append((n, buf.getvalue()))
    # first page, four chart pages, the reasons' page (empty: "нет данных")
    assert outs[0][0] == pages(outs[0][1]) == 6
    # the divisions' rows beyond the chart page take two more pages
    assert outs[1][0] == pages(outs[1][1]) == 8
    assert all(len(re.findall(rb"/Subtype\s*/Image", data)) == 4 for _, data in outs)
