"""`autoinform results`: a customer's notice history and the paid-accounts stop list (AI-2, AI-19)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autoinform.cli.common import console, fail, print_json, runtime
from autoinform.db import transaction
from autoinform.models import Role
from autoinform.results import account_history, add_stops, read_accounts, to_csv
from autoinform.users import audit, require_role

app = typer.Typer(help="Notice history per account and the stop list.", no_args_is_help=True)


@app.command("history")
def history(
    account: str,
    actor: Annotated[str, typer.Option("--as", help="Manager or admin login: exports are controlled (AI-19).")],
    fmt: Annotated[str, typer.Option("--format", help="json or csv")] = "json",
    output: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export every attempt made for ACCOUNT, with what was sent and how it ended."""
    if fmt not in ("json", "csv"):
        fail("--format must be json or csv", 2)
    with runtime() as rt, transaction(rt.sessions) as s:
        require_role(s, actor, Role.MANAGER)
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
    file: Annotated[Path, typer.Argument(help="Accounts, one per line (or first CSV column).")],
    actor: Annotated[str, typer.Option("--as")],
    reason: Annotated[str, typer.Option(help="Why these accounts are stopped.")] = "paid",
) -> None:
    """Upload accounts that have paid: their pending notices end negative with this reason."""
    accounts = read_accounts(file)
    with runtime() as rt, transaction(rt.sessions) as s:
        require_role(s, actor, Role.SPECIALIST, Role.MANAGER)
        n = add_stops(s, accounts, reason=reason, source=file.name, actor=actor)
    console.print(f"{n} accounts added to the stop list ({reason})")
