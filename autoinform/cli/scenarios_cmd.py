"""`autoinform scenarios`: list, check and render notification scenarios (AI-3, AI-17)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from autoinform.cli.common import EXIT_USAGE, console, err_console, fail, print_json
from autoinform.errors import AutoinformError

if TYPE_CHECKING:
    from autoinform.config import Settings
    from autoinform.content import Content
    from autoinform.scenarios import Scenario
    from autoinform.scenarios.check import ScenarioReport

app = typer.Typer(help="Check and render notification scenarios (AI-3).", no_args_is_help=True)


class ChannelOpt(StrEnum):
    """The channels, as autoinform.models.Channel, without importing the database models."""

    phone = "phone"
    sms = "sms"
    email = "email"

DirOpt = typer.Option(None, "--dir", help="Scenarios folder. Default: the scenarios_dir setting.")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")


def _settings() -> Settings:
    from autoinform.config import load_settings

    try:
        return load_settings()
    except AutoinformError as exc:
        fail(str(exc))


def _load(directory: Path | None) -> list[Scenario]:
    from autoinform.scenarios import load_all

    folder = directory or _settings().scenarios_dir
    try:
        return load_all(folder)
    except AutoinformError as exc:
        fail(f"invalid scenarios:\n{exc}")


@app.command("list")
def list_(directory: Path | None = DirOpt, as_json: bool = JsonOpt) -> None:
    """List the scenarios with their kind and channels."""
    from rich.table import Table

    scenarios = _load(directory)
    if as_json:
        print_json([{"name": s.name, "title": s.title, "kind": str(s.kind), "file": s.file,
                     "channels": [str(c) for c in s.channels], "sha256": s.sha256} for s in scenarios])
        return
    table = Table("name", "kind", "title", "channels")
    for s in scenarios:
        table.add_row(s.name, str(s.kind), s.title, ", ".join(str(c) for c in s.channels))
    console.print(table)


def _sms_cell(info: Any, limit: int | None) -> str:
    if info is None:
        return "-"
    return f"{info.encoding}, {info.segments} part(s), {info.length_units} units" + (
        f" (max {limit})" if limit else "")


def _print_report(report: ScenarioReport) -> None:
    from rich.table import Table

    status = "[green]ok[/]" if report.ok else "[bold red]FAILED[/]"
    console.print(f"\n[bold]{report.name}[/] — {report.title} ({report.kind}) {status}", highlight=False)
    console.print(f"  file: {report.file}   channels: {', '.join(report.channels)}", highlight=False)
    if report.variables:
        table = Table("variable", "type", "required", "detail", "description", box=None, padding=(0, 1))
        for v in report.variables:
            table.add_row(v.name, v.type, "yes" if v.required else "no", v.detail, v.description)
        console.print(table)
    if report.sms_sample is not None:
        console.print(f"  SMS sample: {_sms_cell(report.sms_sample, report.sms_max_segments)}; "
                      f"worst case: {_sms_cell(report.sms_worst, None)}", highlight=False)
    if report.prompts:
        console.print(f"  phone prompts: {report.prompts}", highlight=False)
    for warning in report.warnings:
        console.print(f"  [yellow]warning:[/] {warning}", highlight=False)
    for error in report.errors:
        console.print(f"  [bold red]error:[/] {error}", highlight=False)


def _report_json(report: ScenarioReport) -> dict[str, Any]:
    data = dataclasses.asdict(report) | {"ok": report.ok}
    for key in ("sms_sample", "sms_worst"):
        info = getattr(report, key)
        data[key] = info._asdict() if info is not None else None
    return data


@app.command()
def check(directory: Path | None = DirOpt,
          audio_dir: Path | None = typer.Option(None, "--audio-dir",
                                                help="Default: the audio_dir setting."),
          no_audio: bool = typer.Option(False, "--no-audio", help="Skip the check of prompt audio."),
          as_json: bool = JsonOpt) -> None:
    """Validate every scenario, render it with sample values for every customer group, count SMS
    parts (sample and worst case) and check that every prompt it plays has audio."""
    from autoinform.scenarios.check import check_all

    settings = _settings()
    scenarios = _load(directory or settings.scenarios_dir)
    audio = None if no_audio else (audio_dir or settings.audio_dir)
    reports = check_all(scenarios, audio)
    if as_json:
        print_json([_report_json(r) for r in reports])
    else:
        for report in reports:
            _print_report(report)
        failed = sum(not r.ok for r in reports)
        console.print(f"\n{len(reports)} scenario(s) checked, {failed} with errors", highlight=False)
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


def _parse_vars(pairs: list[str]) -> dict[str, object]:
    variables: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--var {pair!r}: expected NAME=VALUE", EXIT_USAGE)
        variables[key.strip()] = value
    return variables


def _content_json(content: Content) -> dict[str, Any]:
    from autoinform.content import PhoneContent

    data = dataclasses.asdict(content)
    if isinstance(content, PhoneContent):
        data["text"] = content.text
    return data


def _print_content(content: Content) -> None:
    from rich.table import Table

    from autoinform.content import PhoneContent, SmsContent

    if isinstance(content, SmsContent):
        console.print(content.text, highlight=False, markup=False)
        console.print(f"[dim]{content.encoding}, {content.segments} part(s)[/]")
    elif isinstance(content, PhoneContent):
        table = Table("step", "required", "prompts", "text")
        for step in content.steps:
            table.add_row(step.id, "yes" if step.required else "", " ".join(step.prompts) or "(TTS)",
                          step.text)
        console.print(table)
        keys = {"confirm": content.confirm_key, "operator": content.operator_key,
                "repeat": content.repeat_key}
        console.print("keys: " + ", ".join(f"{k}={v}" for k, v in keys.items() if v), highlight=False)
    else:
        console.print(f"Subject: {content.subject}\n", highlight=False, markup=False)
        console.print(content.text, highlight=False, markup=False)
        if content.html is not None:
            console.print("--- html ---", style="dim")
            console.print(content.html, highlight=False, markup=False)


@app.command("render")
def render_(
    name: str = typer.Argument(..., help="Scenario name (its file name without .yaml)."),
    channel: ChannelOpt = typer.Option(..., "--channel", help="sms, email or phone."),
    var: list[str] = typer.Option([], "--var", help="NAME=VALUE; repeat for each variable."),
    customer_name: str | None = typer.Option(None, "--name", help="Customer name. Default: a sample customer's."),
    account: str | None = typer.Option(None, "--account", help="Account number. Default: a sample customer's."),
    group: int | None = typer.Option(None, "--group", min=1, max=4, help="Customer group 1-4."),
    division: str | None = typer.Option(None, "--division"),
    address: str | None = typer.Option(None, "--address"),
    send_date: str | None = typer.Option(None, "--send-date",
                                         help="YYYY-MM-DD. Default: today in the configured time zone."),
    sample: bool = typer.Option(False, "--sample", help="Fill the variables not given with sample values too."),
    directory: Path | None = DirOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Render one scenario for one recipient; a missing variable is an error, never a blank.

    Customer fields not given (name, account, division, address) come from a sample customer, so
    `render debt_reminder --channel sms --var debt=1234,56 --var hotline_phone=+7…` works as typed;
    the scenario's variables must be given with --var unless --sample fills them."""
    from autoinform.content import Recipient
    from autoinform.models import Channel
    from autoinform.scenarios import render, samples

    settings = _settings()
    by_name = {s.name: s for s in _load(directory or settings.scenarios_dir)}
    scenario = by_name.get(name)
    if scenario is None:
        fail(f"no scenario {name!r}; known: {', '.join(sorted(by_name))}")
    try:
        sent = date.fromisoformat(send_date) if send_date else None
    except ValueError:
        fail(f"--send-date {send_date!r}: expected YYYY-MM-DD", EXIT_USAGE)
    base = samples.sample(scenario.spec, group=group or 1).recipient
    given = {"name": customer_name, "account": account, "division": division, "address": address}
    if not sample and not as_json and any(v is None for v in given.values()):
        sampled = ", ".join(k for k, v in given.items() if v is None)
        err_console.print(f"[dim]sample customer for: {sampled} (give --name, --account, … for another)[/]",
                          highlight=False)
    recipient = Recipient(
        account=account if account is not None else base.account,
        name=customer_name if customer_name is not None else base.name,
        group=group or base.group,
        division=division if division is not None else base.division,
        address=address if address is not None else base.address,
        variables={**(base.variables if sample else {}), **_parse_vars(var)},
    )
    if sent is None:
        sent = samples.SEND_DATE if sample else _today(settings)
    try:
        content = render(scenario, Channel(channel.value), recipient, send_date=sent,
                         constants=settings.scenario_constants)
    except AutoinformError as exc:
        fail(str(exc))
    if as_json:
        print_json({"scenario": scenario.name, "channel": channel.value, "content": _content_json(content)})
    else:
        _print_content(content)


def _today(settings: Settings) -> date:
    return datetime.now(settings.tz).date()
