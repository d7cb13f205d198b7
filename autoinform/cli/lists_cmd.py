"""`autoinform lists`: import billing exports as contact lists and inspect them (AI-4, AI-11)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from autoinform.cli.common import EXIT_USAGE, acting_user, console, fail, print_json, runtime

if TYPE_CHECKING:
    from autoinform.importing.importer import ImportReport

app = typer.Typer(help="Import and inspect contact lists (AI-4, AI-11).", no_args_is_help=True)

JsonOpt = typer.Option(False, "--json", help="Print the result as JSON (for scripts).")
PROGRESS_FROM = 20_000  # rows: smaller files import before a bar is worth drawing


class SampleFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


class SampleEncoding(StrEnum):
    cp1251 = "cp1251"
    utf8 = "utf-8"


def _print_report(report: ImportReport) -> None:
    console.print(f"list [bold]{report.name}[/] (id {report.list_id}) from {report.source_file}: "
                  f"{report.format}, {report.encoding}"
                  + (f", delimiter {report.delimiter!r}" if report.delimiter else ""), highlight=False)
    if report.replaced_incomplete:
        console.print("replaced an incomplete list of the same name left by an interrupted import")
    console.print(f"customers created {report.customers_created}, updated {report.customers_updated}; "
                  f"contact points in the file: phone {report.contacts['phone']}, sms {report.contacts['sms']}, "
                  f"email {report.contacts['email']}")
    if report.superseded:
        console.print(f"older contacts of these customers that this list replaced (no longer used): "
                      f"{report.superseded}")
    if report.free_variables:
        console.print("free variables: " + ", ".join(report.free_variables), highlight=False)
    if report.ignored_columns:
        console.print("columns without a header, ignored: "
                      + ", ".join(str(i + 1) for i in report.ignored_columns))
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    if report.warnings:
        console.print(f"warnings (row imported, a field left out or a value to check): {report.warnings}")
    if report.no_debt:
        console.print(f"[yellow]rows with a debt of zero or less: {report.no_debt}[/] (a debt scenario "
                      f"skips them, reason no_debt)")
    if report.conflicts:
        console.print(f"[yellow]repeated accounts with different values: {report.conflicts}[/] (the first "
                      f"row of an account stands; both values are in the report)")
    console.print(report.equation(), highlight=False)


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV or XLSX export."),
    name: str = typer.Option(..., "--name", "-n", help="Name of the new list."),
    as_json: bool = JsonOpt,
    reject_report: Path | None = typer.Option(
        None, "--reject-report", help="Write rejected rows and warnings to this CSV (opens in Excel)."),
) -> None:
    """Import a billing export (CSV in UTF-8/CP1251 with ; or , — or XLSX) as a contact list
    (a specialist or a manager; the owner of your API token is recorded as its importer)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from autoinform.db import transaction
    from autoinform.importing.export import export_rejections
    from autoinform.importing.importer import import_list
    from autoinform.importing.reader import estimate_rows
    from autoinform.models import Role
    from autoinform.users import audit

    with runtime() as rt:
        with transaction(rt.sessions) as s:
            created_by = acting_user(s, Role.SPECIALIST, Role.MANAGER).login
        # ImportFileError, ListExistsError, ListInUseError: a clear message and exit code 1 (runtime()).
        total = None if as_json else estimate_rows(file)
        if total is not None and total >= PROGRESS_FROM:
            with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=True) as bar:
                task = bar.add_task("import", total=total)
                report = import_list(rt, file, name, created_by=created_by,
                                     progress=lambda n: bar.update(task, completed=n))
        else:
            report = import_list(rt, file, name, created_by=created_by)
        if reject_report is not None:
            with transaction(rt.sessions) as s:
                written = export_rejections(s, report.list_id, reject_report)
                audit(s, created_by, "lists.rejections.export", "list", report.list_id, rows=written)
            if not as_json:
                console.print(f"rejection report: {written} entries written to {reject_report}")
        if as_json:
            print_json(report.to_dict())
        else:
            _print_report(report)


@app.command("ls")
def ls_cmd(as_json: bool = JsonOpt) -> None:
    """All stored lists with their counts."""
    from rich.table import Table

    from autoinform.importing.queries import all_lists

    with runtime() as rt, rt.sessions() as s:
        lists = all_lists(s)
    if as_json:
        print_json(lists)
        return
    table = Table("id", "name", "file", "read", "imported", "merged", "rejected", "complete")
    for item in lists:
        table.add_row(str(item["id"]), item["name"], item["source_file"], str(item["rows_read"]),
                      str(item["imported"]), str(item["merged"]), str(item["rejected"]),
                      "yes" if item["complete"] else "[red]no[/]")
    console.print(table)


@app.command("show")
def show_cmd(key: str = typer.Argument(..., help="List name or id."), as_json: bool = JsonOpt) -> None:
    """One list: counts, customer groups, reachable contact points, report entries."""
    from rich.table import Table

    from autoinform.importing.queries import find_list, list_summary

    with runtime() as rt, rt.sessions() as s:
        summary = list_summary(s, find_list(s, key))
        tz = rt.settings.tz
    if as_json:
        print_json(summary)
        return
    from datetime import datetime

    created = datetime.fromisoformat(summary["created_at"]).astimezone(tz)
    console.print(f"[bold]{summary['name']}[/] (id {summary['id']}) from {summary['source_file']}, "
                  f"imported {created:%Y-%m-%d %H:%M} ({tz.key})"
                  + ("" if summary["complete"] else " [red]INCOMPLETE[/]"), highlight=False)
    console.print(f"read = imported + merged + rejected: {summary['rows_read']} = {summary['imported']} + "
                  f"{summary['merged']} + {summary['rejected']}", highlight=False)
    entries = summary["report_entries"]
    console.print(f"rejected rows: {summary['rejected']} ({entries['rejected']} reasons); rows with warnings: "
                  f"{summary['rows_with_warnings']} ({entries['warning']} warnings)"
                  + (f"; see `autoinform lists rejections {summary['id']}`"
                     if entries["rejected"] or entries["warning"] else ""), highlight=False)
    console.print("rows by customer group: " + ", ".join(f"{g}: {n}" for g, n in summary["by_group"].items()))
    console.print("customers reachable (own current contact, consent): "
                  + ", ".join(f"{ch} {n}" for ch, n in summary["reachable"].items()), highlight=False)
    table = Table("channel", "line type", "contact points")
    for cp in summary["contact_points"]:
        table.add_row(cp["channel"], cp["line_type"], str(cp["count"]))
    console.print(table)
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


@app.command("rejections")
def rejections_cmd(
    key: str = typer.Argument(..., help="List name or id."),
    export: Path | None = typer.Option(None, "--export", help="Write the report as CSV for Excel."),
    kind: str | None = typer.Option(None, "--kind", help="Only 'rejected' or only 'warning' entries."),
    limit: int = typer.Option(50, "--limit", min=1, help="Rows to show on screen."),
) -> None:
    """The rejection report of a list: row, column, reason, original data (personal data: a
    specialist or a manager; an export is in the audit log, AI-19)."""
    from rich.table import Table

    from autoinform.db import transaction
    from autoinform.importing.export import export_rejections, rejection_rows
    from autoinform.importing.queries import find_list
    from autoinform.models import Role
    from autoinform.users import audit

    if kind not in (None, "rejected", "warning"):
        fail("--kind is 'rejected' or 'warning'", EXIT_USAGE)
    with runtime() as rt, transaction(rt.sessions) as s:
        actor = acting_user(s, Role.SPECIALIST, Role.MANAGER).login
        lst = find_list(s, key)
        if export is not None:
            n = export_rejections(s, lst.id, export, kind=kind)
            audit(s, actor, "lists.rejections.export", "list", lst.id, rows=n, kind=kind)
            console.print(f"{n} entries written to {export}")
            return
        table = Table("row", "kind", "column", "reason", "data")
        more = False
        for shown, r in enumerate(rejection_rows(s, lst.id, kind=kind)):
            if shown == limit:
                more = True
                break
            table.add_row(str(r.row_number), r.kind, r.column, r.reason, r.raw[:80])
    console.print(table)
    if more:
        console.print(f"more entries: use --export PATH for the whole report ({lst.rows_rejected} "
                      f"rejected rows)")


@app.command("sample")
def sample_cmd(
    path: Path = typer.Argument(..., dir_okay=False, help="File to write."),
    rows: int = typer.Option(1000, "--rows", min=1, help="Data rows."),
    fmt: SampleFormat = typer.Option(SampleFormat.csv, "--format", help="csv or xlsx."),
    encoding: SampleEncoding = typer.Option(SampleEncoding.cp1251, "--encoding", help="CSV encoding."),
    bad_share: float = typer.Option(0.05, "--bad-share", min=0.0, max=1.0, help="Share of bad rows."),
    duplicate_share: float = typer.Option(0.01, "--duplicate-share", min=0.0, max=1.0,
                                          help="Share of rows repeating an earlier account."),
    seed: int = typer.Option(1, "--seed", help="Same seed, same file."),
) -> None:
    """Write a synthetic billing export (fake people, reserved e-mail domains) for demos and tests."""
    from autoinform.sample import SampleSpec, write_sample

    spec = SampleSpec(rows=rows, seed=seed, bad_share=bad_share, duplicate_share=duplicate_share)
    n = write_sample(path, spec, fmt=fmt.value, encoding=encoding.value)
    console.print(f"{n} rows written to {path}", highlight=False)

