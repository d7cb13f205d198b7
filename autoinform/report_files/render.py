"""One report, one file: what the CLI's `autoinform report` and the web app's download call.

Every export is written to the audit log with who, what and how many customers' lines (AI-19);
the entry is added to the caller's session, which commits it with the rest (a failed export
rolls back and leaves no entry for a file nobody got).
"""

from __future__ import annotations

import io
from typing import IO

from sqlalchemy.orm import Session

from autoinform.report_files.scope import ReportSpec, ReportSpecError
from autoinform.users import audit

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "pdf": "application/pdf"}


def filename(spec: ReportSpec, fmt: str) -> str:
    return f"{spec.slug}.{fmt}"


def write_report(session: Session, spec: ReportSpec, fmt: str, out: IO[bytes]) -> int:
    """Write the report as `fmt` (csv, xlsx, pdf) to `out`; returns the customers' lines written
    (0 for a PDF, which holds the summary only). Rows are streamed from the database."""
    from autoinform.reports import build_summary, result_rows

    if fmt not in FORMATS:
        raise ReportSpecError(f"unknown report format {fmt!r}; one of: {', '.join(FORMATS)}")
    if not spec.actor:
        raise ReportSpecError("a report export needs the user it is made for (audit log, AI-19)")
    summary = build_summary(session, spec)
    if fmt == "pdf":
        from autoinform.report_files.charts import draw
        from autoinform.report_files.pdf_file import write_pdf

        write_pdf(out, summary, draw(summary))
        rows = 0
    elif fmt == "xlsx":
        from autoinform.report_files.xlsx_file import write_xlsx

        rows = write_xlsx(out, summary, result_rows(session, spec))
    else:
        from autoinform.report_files.csv_file import write_csv

        rows = write_csv(out, summary, result_rows(session, spec))
    entity, key = ("campaign", spec.campaign_id) if spec.campaign_id is not None else (
        "period", f"{spec.since}..{spec.until}")
    audit(session, spec.actor, "report.export", entity, key, format=fmt, rows=rows, personal=spec.personal)
    return rows


def render_report(session: Session, spec: ReportSpec, fmt: str) -> tuple[bytes, str, str]:
    """(file contents, file name, media type) for a download. The file is built in memory: for a
    very large campaign prefer write_report to a temporary file and stream that."""
    buf = io.BytesIO()
    write_report(session, spec, fmt, buf)
    return buf.getvalue(), filename(spec, fmt), FORMATS[fmt]
