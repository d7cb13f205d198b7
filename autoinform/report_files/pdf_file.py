"""The report as a PDF: the charts (PNGs from charts.py, embedded as images) and the summary
tables, A4 pages drawn with matplotlib's PdfPages. No customers' lines: the PDF is the summary a
manager reads; the per-customer results are in the CSV and XLSX files."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import IO, Any

from autoinform.report_files.cells import text_cell
from autoinform.report_files.charts import DRAWING, FONT, Chart
from autoinform.reports import Summary, Table

A4 = (8.27, 11.69)
ROWS_FIRST = 22  # table rows under a chart
ROWS_PAGE = 48  # table rows on a page of its own
CELL_CHARS = 60


def _cell(value: Any) -> str:
    s = text_cell(value)
    if s.startswith("'"):
        s = s[1:]  # the formula guard is for spreadsheets; a PDF shows the text as it is
    return s if len(s) <= CELL_CHARS else s[: CELL_CHARS - 1] + "…"


def _draw_table(fig: Any, rect: Sequence[float], t: Table, rows: Sequence[tuple[Any, ...]],
                capacity: int = ROWS_PAGE) -> None:
    """`rows` as a table at the top of `rect`, each row 1/(capacity+1) of its height."""
    ax = fig.add_axes(rect)
    ax.axis("off")
    if not rows:
        ax.text(0.0, 1.0, "нет данных", va="top", color="grey")
        return
    table = ax.table(cellText=[[_cell(v) for v in r] for r in rows], colLabels=list(t.columns),
                     loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    table.auto_set_column_width(list(range(len(t.columns))))
    for (row, _col), cell in table.get_celld().items():
        cell.set_height(1 / (max(capacity, len(rows)) + 1))
        if row == 0:
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("#eeeeee")


def _page(pdf: Any, title: str) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4)
    fig.text(0.05, 0.965, title, fontsize=12, fontweight="bold", va="top")
    return fig


def _image(fig: Any, png: bytes, rect: Sequence[float]) -> None:
    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png), format="png")[..., :3]  # RGB: no soft mask beside each image
    ax = fig.add_axes(rect)
    ax.imshow(pixels, interpolation="none")
    ax.axis("off")


def _table_pages(pdf: Any, t: Table, rows: Sequence[tuple[Any, ...]], first: Any = None) -> None:
    """`rows` of `t` on continuation pages (after `first`, a page already holding the start)."""
    for i in range(0, len(rows), ROWS_PAGE):
        fig = _page(pdf, f"{t.title} (продолжение)" if first is not None or i else t.title)
        _draw_table(fig, (0.05, 0.05, 0.9, 0.88), t, rows[i: i + ROWS_PAGE])
        pdf.savefig(fig)
    if not rows and first is None:
        fig = _page(pdf, t.title)
        _draw_table(fig, (0.05, 0.05, 0.9, 0.88), t, rows)
        pdf.savefig(fig)


def write_pdf(out: IO[bytes], summary: Summary, charts: Sequence[Chart]) -> int:
    """Write the PDF; returns its page count."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_pdf import PdfPages

    pages = 0
    with DRAWING, rc_context(FONT), PdfPages(out, metadata={"Title": summary.title, "Creator": "autoinform"}) as pdf:
        fig = _page(pdf, summary.title)
        overview, indicators = summary.table("overview"), summary.table("indicators")
        _draw_table(fig, (0.05, 0.55, 0.9, 0.38), overview, overview.rows, capacity=ROWS_FIRST)
        fig.text(0.05, 0.5, indicators.title, fontsize=10, fontweight="bold")
        _draw_table(fig, (0.05, 0.1, 0.9, 0.38), indicators, indicators.rows, capacity=ROWS_FIRST)
        pdf.savefig(fig)
        charted = set()
        for chart in charts:
            t = summary.table(chart.key)
            charted.add(chart.key)
            fig = _page(pdf, chart.title)
            _image(fig, chart.png, (0.05, 0.5, 0.9, 0.44))
            _draw_table(fig, (0.05, 0.03, 0.9, 0.45), t, t.rows[:ROWS_FIRST], capacity=ROWS_FIRST)
            pdf.savefig(fig)
            _table_pages(pdf, t, t.rows[ROWS_FIRST:], first=fig)
        for t in summary.tables:
            if t.key not in charted and t.key not in ("overview", "indicators"):
                _table_pages(pdf, t, t.rows)
        pages = pdf.get_pagecount()
    return pages
