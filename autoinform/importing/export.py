"""Rejection reports as CSV that Excel opens safely (AI-4, AI-19).

UTF-8 with a BOM and `;` so that Excel shows Cyrillic and splits columns on a Russian-locale PC;
cells that Excel would run as formulas (= + - @, tab, CR at the start) get a leading apostrophe.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from autoinform.models import ListRejection

HEADER = ("Строка", "Вид", "Столбец", "Причина", "Исходные данные")
KIND_LABELS = {"rejected": "отклонена", "warning": "предупреждение"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(value: object) -> str:
    """A cell value Excel shows as text, never evaluates (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def rejection_rows(session: Session, list_id: int, *, kind: str | None = None) -> Iterator[ListRejection]:
    stmt = select(ListRejection).where(ListRejection.list_id == list_id)
    if kind:
        stmt = stmt.where(ListRejection.kind == kind)
    stmt = stmt.order_by(ListRejection.row_number, ListRejection.id).execution_options(yield_per=2000)
    yield from session.scalars(stmt)


def write_rejections(out: IO[str], rows: Iterable[ListRejection]) -> int:
    """Write the report to a text stream opened with newline=""; returns the rows written."""
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow(HEADER)
    n = 0
    for r in rows:
        w.writerow([excel_safe(v) for v in (r.row_number, KIND_LABELS.get(r.kind, r.kind), r.column,
                                             r.reason, r.raw)])
        n += 1
    return n


def export_rejections(session: Session, list_id: int, path: Path, *, kind: str | None = None) -> int:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        return write_rejections(f, rejection_rows(session, list_id, kind=kind))
