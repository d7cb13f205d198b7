"""`autoinform report`: a campaign's or a period's report as CSV, XLSX or PDF (AI-5, 6.2.4, AI-19)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from autoinform.cli.common import EXIT_USAGE, console, fail, runtime

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from autoinform.models import User

app = typer.Typer(help="Reports with charts: per campaign and per period, as CSV, XLSX or PDF.", no_args_is_help=True)

Fmt = Annotated[str, typer.Option("--format", help="csv, xlsx or pdf")]
Out = Annotated[Path | None, typer.Option("--out", help="The file to write (default: a name in the current folder).")]
Masked = Annotated[bool, typer.Option("--masked", help="Mask names and contacts even for a manager.")]


def _reader(session: Session) -> User:
    """Who the report is for: the owner of the caller's API token; viewers (e.g. the central
    office gathering divisions' statistics, 6.2.4) read it masked."""
    from autoinform.cli.common import acting_user
    from autoinform.models import Role

    return acting_user(session, Role.SPECIALIST, Role.MANAGER, Role.VIEWER)


def _export(fmt: str, out: Path | None, masked: bool, *, campaign_id: int | None = None,
            since: date | None = None, until: date | None = None) -> None:
    from autoinform.db import transaction
    from autoinform.report_files.render import FORMATS, filename, write_report
    from autoinform.report_files.scope import ReportSpec, ReportSpecError
    from autoinform.users import PERSONAL_DATA_ROLES

    if fmt not in FORMATS:
        fail(f"--format must be one of: {', '.join(FORMATS)}", EXIT_USAGE)
    with runtime() as rt:
        part: Path | None = None
        try:
            with transaction(rt.sessions) as s:
                user = _reader(s)
                # Names and contacts in clear for the roles that need them, masked for others (AI-19).
                personal = user.role in PERSONAL_DATA_ROLES and not masked
                try:
                    spec = ReportSpec(campaign_id=campaign_id, since=since, until=until, actor=user.login,
                                      personal=personal, timezone=rt.settings.timezone,
                                      answer_target_s=rt.settings.hotline.operator_wait_limit_s)
                except ReportSpecError as exc:
                    fail(str(exc), EXIT_USAGE)
                path = out or Path(filename(spec, fmt))
                part = path.with_name(path.name + ".part")
                with part.open("wb") as f:
                    rows = write_report(s, spec, fmt, f)
            # Under its name only once the audit entry is committed: no report without its entry.
            part.replace(path)
        except BaseException:
            if part is not None:
                part.unlink(missing_ok=True)
            raise
    what = f"{rows} customers' results, " if fmt != "pdf" else ""
    console.print(f"report written to {path} ({what}{'in clear' if personal else 'names and contacts masked'})",
                  highlight=False, markup=False, soft_wrap=True)


@app.command("campaign")
def campaign(campaign_id: int, fmt: Fmt = "xlsx", out: Out = None, masked: Masked = False) -> None:
    """One campaign: every customer's result with reason and attempts, the summary with charts."""
    _export(fmt, out, masked, campaign_id=campaign_id)


@app.command("period")
def period(
    since: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (local).")],
    until: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (local), included.")],
    fmt: Fmt = "xlsx", out: Out = None, masked: Masked = False,
) -> None:
    """Every campaign's results that ended in a period, with the roll-ups and quality indicators."""
    try:
        first, last = date.fromisoformat(since), date.fromisoformat(until)
    except ValueError as exc:
        fail(f"--from/--to: {exc} (use YYYY-MM-DD)", EXIT_USAGE)
    _export(fmt, out, masked, since=first, until=last)
