"""`autoinform callbacks`: hotline tasks worked by operators (HL-2, HL-9, HL-10; QI-2 overdue)."""

from __future__ import annotations

from typing import Annotated

import typer

from autoinform.cli.common import EXIT_USAGE, console, fail, print_json, runtime
from autoinform.hotline.states import TaskOutcome

app = typer.Typer(help="Callbacks and other hotline tasks: list, take, done (HL-2, QI-2).", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print as JSON.")]


@app.command("list")
def list_cmd(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only tasks past their deadline, not done.")] = False,
    state: Annotated[str | None, typer.Option("--state", help="open, taken or done (default: not done).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 200,
    as_json: JsonOpt = False,
) -> None:
    """Tasks by deadline, the earliest first; callers' numbers masked."""
    from datetime import UTC, datetime

    from rich.table import Table

    from autoinform.hotline import tasks
    from autoinform.hotline.cli_support import acting
    from autoinform.models import Role

    if state not in (None, "open", "taken", "done"):
        fail("--state is open, taken or done", EXIT_USAGE)
    now = datetime.now(UTC)
    with runtime() as rt, rt.sessions() as s:
        acting(s, Role.OPERATOR, Role.MANAGER)
        rows = [tasks.as_dict(r, now) for r in tasks.listing(s, now=now, overdue=overdue, state=state, limit=limit)]
        tz = rt.settings.tz
    if as_json:
        print_json(rows)
        return
    table = Table("id", "kind", "state", "caller", "account", "deadline", "taken by", "note")
    for r in rows:
        deadline = datetime.fromisoformat(r["deadline"]).astimezone(tz)
        mark = "[red]overdue[/] " if r["overdue"] else ""
        table.add_row(str(r["id"]), r["kind"], r["state"], r["caller"], r["account"] or "",
                      f"{mark}{deadline:%d.%m %H:%M}", r["taken_by"] or "", r["note"])
    console.print(table)


@app.command("take")
def take_cmd(task_id: Annotated[int, typer.Argument(help="Task id.")]) -> None:
    """Take a task: it is yours to call back (another operator may take it over)."""
    from datetime import UTC, datetime

    from autoinform import db
    from autoinform.hotline import tasks
    from autoinform.hotline.cli_support import acting
    from autoinform.models import Role

    with runtime() as rt, db.transaction(rt.sessions) as s:
        login = acting(s, Role.OPERATOR, Role.MANAGER)
        row = tasks.take(s, task_id, login, datetime.now(UTC))
        caller = row.caller  # the operator needs the number to call back
    console.print(f"task {task_id} taken by {login}: call {caller}", highlight=False)


@app.command("done")
def done_cmd(
    task_id: Annotated[int, typer.Argument(help="Task id.")],
    outcome: Annotated[TaskOutcome | None, typer.Option("--outcome", help="How it ended (required).")] = None,
    note: Annotated[str, typer.Option("--note", help="What was said or done.")] = "",
) -> None:
    """Close a task with its outcome."""
    from datetime import UTC, datetime

    from autoinform import db
    from autoinform.hotline import tasks
    from autoinform.hotline.cli_support import acting
    from autoinform.models import Role

    if outcome is None:
        fail("--outcome is required: " + ", ".join(o.value for o in TaskOutcome), EXIT_USAGE)
    with runtime() as rt, db.transaction(rt.sessions) as s:
        login = acting(s, Role.OPERATOR, Role.MANAGER)
        now = datetime.now(UTC)
        row = tasks.done(s, task_id, login, outcome, now, note)
        late = now > row.deadline
    console.print(f"task {task_id} done: {outcome.value}" + (" [red](after its deadline)[/]" if late else ""))


@app.command("report")
def report_cmd(
    since: Annotated[str | None, typer.Option("--since", help="Tasks created from this date (local).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """QI-2 "Исполнительность" for hotline tasks: done on time, done late, overdue now."""
    from datetime import UTC, datetime

    from autoinform.hotline import tasks
    from autoinform.hotline.cli_support import acting, parse_instant
    from autoinform.models import Role

    with runtime() as rt, rt.sessions() as s:
        acting(s, Role.OPERATOR, Role.MANAGER)
        start = parse_instant(since, rt.settings.tz) if since else None
        rep = tasks.overdue_report(s, datetime.now(UTC), start)
    data = {"done_on_time": rep.done_on_time, "done_late": rep.done_late, "open_overdue": rep.open_overdue,
            "open_in_time": rep.open_in_time, "overdue_by_kind": rep.by_kind, "on_time_share": rep.on_time_share}
    if as_json:
        print_json(data)
        return
    share = "—" if rep.on_time_share is None else f"{rep.on_time_share:.0%}"
    console.print(f"done on time {rep.done_on_time}, done late {rep.done_late}, overdue now "
                  f"{rep.open_overdue}, open within the deadline {rep.open_in_time}; on time: {share}",
                  highlight=False)
    for kind, n in sorted(rep.by_kind.items()):
        console.print(f"  overdue {kind}: {n}", highlight=False)
