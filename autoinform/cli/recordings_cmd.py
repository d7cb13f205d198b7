"""`autoinform recordings`: callers' messages; every download audited (HL-5, AI-19)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from autoinform.cli.common import console, print_json, runtime

app = typer.Typer(help="Hotline recordings: list, get (audited), purge past retention.", no_args_is_help=True)


@app.command("list")
def list_cmd(limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
             as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The latest recordings with their call, task and expiry."""
    from rich.table import Table

    from autoinform.hotline import recordings
    from autoinform.hotline.cli_support import acting
    from autoinform.models import Role

    with runtime() as rt, rt.sessions() as s:
        acting(s, Role.OPERATOR, Role.MANAGER)
        rows: list[dict[str, Any]] = [
            {"id": r.id, "call_id": r.call_id, "task_id": r.task_id, "created_at": r.created_at.isoformat(),
             "expires_at": r.expires_at.isoformat(), "file": Path(r.path).name}
            for r in recordings.listing(s, limit)]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "call", "task", "created", "expires", "file")
    for r in rows:
        table.add_row(str(r["id"]), r["call_id"], str(r["task_id"] or ""), r["created_at"][:16],
                      r["expires_at"][:10], r["file"])
    console.print(table)


@app.command("get")
def get_cmd(
    recording_id: Annotated[int, typer.Argument(help="Recording id.")],
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="Where to write the copy.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")] = "",
) -> None:
    """Copy a recording out; the download is written to the audit log."""
    from autoinform import db
    from autoinform.hotline import recordings
    from autoinform.hotline.cli_support import acting
    from autoinform.models import Role

    with runtime() as rt, db.transaction(rt.sessions) as s:
        login = acting(s, Role.OPERATOR, Role.MANAGER)
        recordings.copy_out(s, recording_id, out, login, reason)
    console.print(f"recording {recording_id} written to {out}")


@app.command("purge")
def purge_cmd() -> None:
    """Remove recordings past hotline.recording_retention_days (files and rows)."""
    from datetime import UTC, datetime

    from autoinform import db
    from autoinform.hotline import recordings
    from autoinform.hotline.cli_support import acting
    from autoinform.models import Role
    from autoinform.users import audit

    with runtime() as rt:
        with rt.sessions() as s:
            login = acting(s, Role.MANAGER)
        rep = recordings.purge(rt, datetime.now(UTC))
        with db.transaction(rt.sessions) as s:
            audit(s, login, "recordings.purge", "recording", "", rows=rep.rows, orphan_files=rep.orphan_files)
    console.print(f"removed {rep.rows} recordings past retention ({rep.missing_files} files already gone), "
                  f"{rep.orphan_files} orphan files")
