"""`autoinform readings`: meter readings taken by phone and SMS, exported for billing (HL-7)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from autoinform.cli.common import err_console, runtime

app = typer.Typer(help="Meter readings from the hotline and SMS (HL-7).", no_args_is_help=True)


@app.command("export")
def export_cmd(
    since: Annotated[str, typer.Option("--since", help="From this date or date-time (local time).")],
    until: Annotated[str | None, typer.Option("--until", help="Up to (not including) this instant.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write here (UTF-8 with BOM) instead of stdout.")] = None,
) -> None:
    """CSV for the billing system: account; zone; reading; date and time; source (formula-safe)."""
    from autoinform import db
    from autoinform.hotline.cli_support import acting, parse_instant
    from autoinform.hotline.readings import readings_since, write_export
    from autoinform.models import Role
    from autoinform.users import audit

    with runtime() as rt:
        tz = rt.settings.tz
        start = parse_instant(since, tz)
        end = parse_instant(until, tz) if until else None
        with db.transaction(rt.sessions) as s:
            login = acting(s, Role.SPECIALIST, Role.MANAGER)
            if out is None:
                n = write_export(sys.stdout, readings_since(s, start, end), tz)
            else:
                with out.open("w", encoding="utf-8-sig", newline="") as f:
                    n = write_export(f, readings_since(s, start, end), tz)
            audit(s, login, "readings.export", "meter_readings", "", since=start.isoformat(),
                  until=end.isoformat() if end else None, rows=n, out=str(out) if out else "stdout")
    if out is not None:
        err_console.print(f"{n} readings written to {out}")
