"""`autoinform billing`: the billing system's balance export → balances the hotline speaks (HL-8)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autoinform.cli.common import console, print_json, runtime

app = typer.Typer(help="Import balance exports for the hotline (HL-8).", no_args_is_help=True)


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="CSV (UTF-8/CP1251, ; , or tab) or XLSX: account, balance, date.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="The date every balance is valid for, when "
                                                              "the file has no date column.")] = None,
    reject_report: Annotated[Path | None, typer.Option("--reject-report",
                                                       help="Write rejected rows to this CSV (Excel).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Keep the latest balance per account; an older export never overwrites a newer balance."""
    from autoinform.hotline.billing import export_rejections, import_balances
    from autoinform.hotline.cli_support import acting, parse_day
    from autoinform.models import Role

    day = parse_day(as_of) if as_of else None
    with runtime() as rt:
        with rt.sessions() as s:
            login = acting(s, Role.SPECIALIST, Role.MANAGER)
        report = import_balances(rt, file, actor=login, as_of=day)
        written = None
        if reject_report is not None:
            with rt.sessions() as s:
                written = export_rejections(s, report.import_id, reject_report)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(f"billing import {report.import_id} from {report.source_file}: {report.format}, "
                  f"{report.encoding}", highlight=False)
    console.print(report.equation(), highlight=False)
    for reason, n in sorted(report.reasons.items(), key=lambda kv: -kv[1]):
        console.print(f"  rejected, {reason}: {n}", highlight=False)
    if report.older:
        console.print(f"older than the stored balance (kept the newer): {report.older}")
    if written is not None:
        console.print(f"rejection report: {written} rows written to {reject_report}")


@app.command("list")
def list_cmd(limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
             as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Past balance imports with their accounting (read = stored + older + rejected)."""
    from rich.table import Table
    from sqlalchemy import select

    from autoinform.hotline.cli_support import acting
    from autoinform.models import BillingImport, Role

    with runtime() as rt, rt.sessions() as s:
        acting(s, Role.SPECIALIST, Role.MANAGER)
        rows = [{"id": b.id, "file": b.source_file, "sha256": b.sha256, "by": b.actor,
                 "at": b.created_at.isoformat(), "read": b.rows_read, "stored": b.rows_stored,
                 "older": b.rows_older, "rejected": b.rows_rejected, "complete": b.complete}
                for b in s.scalars(select(BillingImport).order_by(BillingImport.id.desc()).limit(limit))]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "file", "by", "at", "read", "stored", "older", "rejected", "complete")
    for r in rows:
        table.add_row(str(r["id"]), str(r["file"]), str(r["by"]), str(r["at"])[:16], str(r["read"]),
                      str(r["stored"]), str(r["older"]), str(r["rejected"]), "yes" if r["complete"] else "[red]no[/]")
    console.print(table)
