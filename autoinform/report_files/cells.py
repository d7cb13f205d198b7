"""How a report's values become cells: text that a spreadsheet never runs as a formula, shares
shown as percentages. One place, so CSV, XLSX and PDF agree."""

from __future__ import annotations

from typing import Any

from autoinform.importing.export import excel_safe
from autoinform.report_files.scope import Share


def percent(value: Share) -> str:
    """'62,5%': Russian-locale Excel reads it as a number."""
    return f"{100 * value:.1f}%".replace(".", ",")


def text_cell(value: Any) -> str:
    """A cell as text for CSV and PDF: formula-safe (excel_safe), shares as percentages."""
    if isinstance(value, Share):
        return percent(value)
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float):
        return str(value)
    return excel_safe(value)
