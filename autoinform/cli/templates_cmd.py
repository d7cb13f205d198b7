"""`autoinform templates`: recurring campaign templates (issue 14; AI-3, AI-4, AI-7, AI-15)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from autoinform.cli.common import acting_user, console, fail, print_json, runtime

app = typer.Typer(help="Recurring campaign templates: formed every period, approved every time (AI-15).",
                  no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
Key = Annotated[str, typer.Argument(help="Template name or id.")]


@app.command("create")
def create_cmd(
    name: Annotated[str, typer.Option(help="Template name.")],
    scenario: Annotated[str, typer.Option(help="Scenario name (file scenarios/NAME.yaml).")],
    channels: Annotated[str, typer.Option(help="Fallback chain, e.g. phone,sms.")],
    source: Annotated[str, typer.Option(help="List source: drop:GLOB (a drop-folder file, e.g. "
                                             "drop:debt_*.csv) or list:GLOB (a list imported by hand).")],
    days: Annotated[str, typer.Option(help="Days of the period, e.g. 10-15 (monthly: days of the month; "
                                           "weekly: ISO weekdays, 1 = Monday).")],
    hours: Annotated[str, typer.Option(help="Local hours, e.g. 10:00-19:00: the campaign starts on the first "
                                            "day at the first time and ends on the last day at the second.")],
    approver: Annotated[list[str], typer.Option(help="A manager's login, or role:manager; repeatable.")],
    period: Annotated[str, typer.Option(help="monthly or weekly.")] = "monthly",
    form_days_before: Annotated[int, typer.Option(help="Form each draft this many days before its start.")] = 2,
    notify: Annotated[list[str] | None, typer.Option(help="E-mail address told of each draft; repeatable.")] = None,
    as_json: Json = False,
) -> None:
    """Describe a routine campaign once (a specialist or manager). Every period its campaign is formed as a
    draft from the newest import of the source, and runs only if a manager approves it before its start."""
    from autoinform.cli.campaigns_cmd import parse_channels
    from autoinform.db import transaction
    from autoinform.errors import AutoinformError
    from autoinform.models import Role
    from autoinform.scenarios import load_scenario
    from autoinform.templates import service
    from autoinform.templates.periods import schedule_from_text

    with runtime() as rt:
        try:
            schedule = schedule_from_text(period, days, hours, form_days_before)
        except AutoinformError as exc:
            fail(str(exc), 2)
        chain = parse_channels(channels)
        sc = load_scenario(rt.settings.scenarios_dir / f"{scenario}.yaml")
        with transaction(rt.sessions) as s:
            t = service.create(s, name=name, scenario=scenario, channels=chain, source=source, schedule=schedule,
                               approvers=approver, notify_emails=notify or [],
                               actor=acting_user(s, Role.SPECIALIST, Role.MANAGER).login,
                               system_login=rt.settings.templates.system_login, scenario_channels=list(sc.channels))
            key = t.id
        _show(rt, key, as_json)


def _show(rt: Any, key: str | int, as_json: bool) -> None:
    from autoinform.templates import service

    with rt.sessions() as s:
        data = service.show(s, key, rt.settings.tz)
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]{data['name']}[/] (id {data['id']}){'  [yellow]paused[/]' if data['paused'] else ''}",
                  highlight=False)
    for label, value in (("scenario", data["scenario"]), ("channels", ",".join(data["channels"])),
                         ("source", data["source"]), ("when", f"{data['period']}: {data['when']}"),
                         ("approvers", ", ".join(data["approvers"])),
                         ("notify", ", ".join(data["notify_emails"]) or "-"),
                         ("next due", data["next_due_at"] or "-")):
        console.print(f"  {label}: {value}", highlight=False, markup=False)
    _history_table(data["history"])


def _history_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    if not rows:
        console.print("  no period yet")
        return
    table = Table("period", "state", "campaign", "list", "detail")
    for r in rows:
        table.add_row(r["period"], r["state"], str(r["campaign_id"] or "-"), str(r["list_id"] or "-"), r["detail"])
    console.print(table)


@app.command("list")
def list_cmd(as_json: Json = False) -> None:
    """Every template with its last period."""
    from rich.table import Table

    from autoinform.templates import service

    with runtime() as rt, rt.sessions() as s:
        acting_user(s)
        data = service.all_templates(s)
    if as_json:
        print_json(data)
        return
    table = Table("id", "name", "scenario", "source", "when", "paused", "last period")
    for t in data:
        last = t["last"]
        table.add_row(str(t["id"]), t["name"], t["scenario"], t["source"], f"{t['period']}: {t['when']}",
                      "yes" if t["paused"] else "", f"{last['period']} {last['state']}" if last else "-")
    console.print(table)


@app.command("show")
def show_cmd(key: Key, as_json: Json = False) -> None:
    """One template, its next due moment and its last periods."""
    with runtime() as rt:
        with rt.sessions() as s:
            acting_user(s)
        _show(rt, key, as_json)


@app.command("history")
def history_cmd(key: Key, as_json: Json = False) -> None:
    """Every period of a template: what was formed, approved, started, and why not when it was not."""
    from autoinform.templates import service

    with runtime() as rt, rt.sessions() as s:
        acting_user(s)
        rows = service.history(s, key)
    if as_json:
        print_json(rows)
        return
    _history_table(rows)


def _toggle(key: str, paused: bool, as_json: bool) -> None:
    from autoinform.db import transaction
    from autoinform.models import Role
    from autoinform.templates import service

    with runtime() as rt:
        with transaction(rt.sessions) as s:
            actor = acting_user(s, Role.SPECIALIST, Role.MANAGER).login
            t = (service.pause if paused else service.resume)(s, key, actor)
            tid = t.id
        _show(rt, tid, as_json)


@app.command("pause")
def pause_cmd(key: Key, as_json: Json = False) -> None:
    """Form no more campaigns from the template (one already formed goes on as it is)."""
    _toggle(key, True, as_json)


@app.command("resume")
def resume_cmd(key: Key, as_json: Json = False) -> None:
    """Form campaigns from the template again (a period not yet started included)."""
    _toggle(key, False, as_json)


@app.command("drops")
def drops_cmd(limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50, as_json: Json = False) -> None:
    """The files taken from the billing drop folder: imported, duplicate or failed, and where they went."""
    from rich.table import Table

    from autoinform.templates.drop import drop_files

    with runtime() as rt:
        with rt.sessions() as s:
            acting_user(s)
        rows = drop_files(rt, limit)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "file", "state", "list", "taken", "detail")
    for r in rows:
        table.add_row(str(r["id"]), str(r["name"]), str(r["state"]), str(r["list_id"] or "-"),
                      str(r["received_at"])[:16], str(r["detail"]))
    console.print(table)
