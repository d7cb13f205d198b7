"""`autoinform results`: a customer's notice history and the paid-accounts stop list (AI-2, AI-19)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from autoinform.cli.common import EXIT_USAGE, acting_user, console, err_console, fail, print_json, runtime

app = typer.Typer(help="Notice history per account and the stop list.", no_args_is_help=True)


@app.command("history")
def history(
    account: str,
    fmt: Annotated[str, typer.Option("--format", help="json or csv")] = "json",
    output: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export every attempt made for ACCOUNT, with what was sent and how it ended (a manager or an
    admin: the export is in the audit log, AI-19)."""
    from autoinform.db import transaction
    from autoinform.models import Role
    from autoinform.results import account_history, to_csv
    from autoinform.users import audit

    if fmt not in ("json", "csv"):
        fail("--format must be json or csv", 2)
    with runtime() as rt, transaction(rt.sessions) as s:
        actor = acting_user(s, Role.MANAGER).login
        rows = account_history(s, account)
        audit(s, actor, "results.export", "account", account, rows=len(rows), format=fmt)
    if fmt == "json" and output is None:
        print_json(rows)
        return
    text = to_csv(rows) if fmt == "csv" else None
    if output is not None:
        if text is None:
            import json
            text = json.dumps(rows, ensure_ascii=False, indent=2, default=str)
        output.write_text(text, encoding="utf-8")
        console.print(f"{len(rows)} attempts written to {output}")
    else:
        typer.echo(text, nl=False)


@app.command("stop")
def stop(
    file: Annotated[Path, typer.Argument(help="Accounts, one per line, or a CSV with an account column "
                                              "(named by a header such as 'Лицевой счёт' or the first).")],
    reason: Annotated[str, typer.Option(help="Why these accounts are stopped, stored on each entry: "
                                             "paid, moved_out, … (pending notices end with it).")] = "paid",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Put accounts on the stop list: their pending notices end negative with REASON.

    Lines that are not accounts are listed with their line numbers; the rest are still added."""
    from autoinform.db import transaction
    from autoinform.models import Role
    from autoinform.results import add_stops, read_stop_file, stop_reason, unknown_accounts

    try:
        reason = stop_reason(reason)
    except ValueError as exc:
        fail(f"--reason: {exc}", EXIT_USAGE)
    with runtime() as rt:
        read = read_stop_file(file)
        with transaction(rt.sessions) as s:
            actor = acting_user(s, Role.SPECIALIST, Role.MANAGER).login
            unknown = unknown_accounts(s, read.accounts)
            known = [a for a in read.accounts if a not in set(unknown)]
            n = add_stops(s, known, reason=reason, source=file.name, actor=actor,
                          rejected=len(read.rejected) + len(unknown))
    if as_json:
        print_json({"added": n, "reason": reason, "header": read.header, "duplicates": read.duplicates,
                    "rejected": [asdict(b) for b in read.rejected], "unknown_accounts": unknown})
        return
    console.print(f"{n} accounts added to the stop list (reason: {reason})"
                  + (f"; {read.duplicates} repeated lines counted once" if read.duplicates else ""),
                  highlight=False)
    if unknown:
        shown = ", ".join(unknown[:10]) + (f", … ({len(unknown) - 10} more)" if len(unknown) > 10 else "")
        err_console.print(f"{len(unknown)} accounts not in the customer base (not added): {shown}",
                          highlight=False, markup=False)
    if read.rejected:
        err_console.print(f"{len(read.rejected)} lines rejected (not added):", highlight=False)
        for b in read.rejected:
            err_console.print(f"  line {b.line}: {b.reason}: {b.text!r}", highlight=False, markup=False)


@app.command("stops")
def stops(
    account: Annotated[str | None, typer.Option(help="Only this account's entries.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 1000,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List stop-list entries, newest first, with the reason each was stored with."""
    from autoinform.db import transaction
    from autoinform.models import Role
    from autoinform.results import list_stops

    with runtime() as rt, transaction(rt.sessions) as s:
        acting_user(s, Role.SPECIALIST, Role.MANAGER)
        rows = list_stops(s, account=account, limit=limit)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        console.print(f"{r['created_at']}  {r['account']:<20} {r['reason']:<16} {r['source']}",
                      highlight=False, markup=False)
    console.print(f"{len(rows)} entries", highlight=False)
