"""`autoinform campaigns`: create, approve, start, pause, resume, cancel, show (AI-7, AI-15)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from autoinform.cli.common import acting_user, console, err_console, fail, print_json, runtime
from autoinform.errors import AutoinformError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from autoinform.models import Channel

app = typer.Typer(help="Create, approve and run campaigns (AI-7, AI-15).", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def parse_instant(text: str, tz: Any) -> datetime:
    """ISO 8601; without an offset the time is local (the configured time zone)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"not a date-time: {text!r} (use ISO 8601, e.g. 2026-12-07T10:00)", 2)
    return value if value.tzinfo else value.replace(tzinfo=tz)


def parse_channels(text: str) -> list[Channel]:
    from autoinform.models import Channel

    try:
        return [Channel(c.strip()) for c in text.split(",") if c.strip()]
    except ValueError:
        fail(f"channels must be a comma-separated chain of phone, sms, email: {text!r}", 2)


@app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Campaign name.")],
    scenario: Annotated[str, typer.Option(help="Scenario name (file scenarios/NAME.yaml).")],
    list_name: Annotated[str, typer.Option("--list", help="Imported contact list name.")],
    channels: Annotated[str, typer.Option(help="Fallback chain, e.g. email,sms.")],
    start: Annotated[str, typer.Option(help="Start, ISO 8601 (local time if no offset).")],
    end: Annotated[str, typer.Option(help="End, ISO 8601 (local time if no offset).")],
    as_json: Json = False,
) -> None:
    """Form a campaign (a specialist); it stays a draft until a manager approves it.
    Acts as the owner of your API token, as every command that changes something does."""
    from sqlalchemy import select

    from autoinform import campaigns
    from autoinform.db import transaction
    from autoinform.models import ContactList
    from autoinform.scenarios import load_scenario
    from autoinform.scenarios.store import snapshot

    with runtime() as rt:
        tz = rt.settings.tz
        chain = parse_channels(channels)
        sc = load_scenario(rt.settings.scenarios_dir / f"{scenario}.yaml")
        with transaction(rt.sessions) as s:
            lst = s.scalar(select(ContactList).where(ContactList.name == list_name))
            if lst is None:
                fail(f"no list named {list_name!r}")
            version = snapshot(s, sc)
            with _refusal(as_json):
                c = campaigns.create(s, name=name, scenario=version, contact_list=lst, channels=chain,
                                     start_at=parse_instant(start, tz), end_at=parse_instant(end, tz),
                                     actor=acting_user(s).login, supported=list(sc.channels), groups=sc.spec.groups,
                                     settings=rt.settings)
            cid = c.id
        _show(rt, cid, as_json)


@contextmanager
def _refusal(as_json: bool) -> Iterator[None]:
    """A step the preflight refuses: every error and warning, then exit 1 (issue 9 item 1)."""
    from autoinform.preflight import PreflightError

    try:
        yield
    except PreflightError as exc:
        if as_json:
            print_json({"refused": exc.result.step, "preflight": exc.result.to_json()})
            raise typer.Exit(1) from None
        verb = {"create": "be created", "approve": "be approved"}.get(exc.result.step, exc.result.step)
        err_console.print(f"[bold red]error:[/] the campaign cannot {verb}: it cannot work as formed",
                          highlight=False)
        for f in exc.result.errors:
            err_console.print(f"  ✗ {f.message}", highlight=False, markup=False, soft_wrap=True)
        for f in exc.result.warnings:
            err_console.print(f"  ! warning: {f.message}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _act(operation: Callable[[Session, int, str], object], campaign_id: int, as_json: bool) -> None:
    from autoinform.db import transaction

    with runtime() as rt:
        with transaction(rt.sessions) as s:
            operation(s, campaign_id, acting_user(s).login)
        _show(rt, campaign_id, as_json)


@app.command("approve")
def approve(campaign_id: int, as_json: Json = False) -> None:
    """Approve a draft (a manager other than its author). The preflight runs again: a campaign that
    cannot work is refused; its warnings are printed (and shown by `campaigns show` beforehand)."""
    from autoinform import campaigns
    from autoinform.db import transaction

    with runtime() as rt:
        with transaction(rt.sessions) as s, _refusal(as_json):
            campaigns.approve(s, campaign_id, acting_user(s).login, settings=rt.settings)
        _show(rt, campaign_id, as_json)


@app.command("start")
def start(campaign_id: int, as_json: Json = False) -> None:
    """Schedule an approved campaign: deliveries are created; it runs from its start time.
    Refused when it cannot work (the preflight: a channel of its chain that cannot be sent on with
    these settings, nobody reachable, a variable missing everywhere); the SMTP relay is asked too."""
    from autoinform import campaigns
    from autoinform.db import transaction
    from autoinform.models import Channel
    from autoinform.preflight import probe_channels

    with runtime() as rt:
        with rt.sessions() as s:
            chain = [Channel(c) for c in campaigns.get(s, campaign_id).channels]
        probes = probe_channels(rt.settings, chain)  # outside the transaction: it may wait seconds
        with transaction(rt.sessions) as s, _refusal(as_json):
            campaigns.start(s, campaign_id, acting_user(s).login, settings=rt.settings, probes=probes)
        _show(rt, campaign_id, as_json)


@app.command("check")
def check(campaign_id: int, network: Annotated[bool, typer.Option(
        help="Also ask the SMTP relay whether it answers now.")] = False, as_json: Json = False) -> None:
    """Run the preflight now, without changing anything: who can be reached on each channel, rows
    lacking values, channels, when the first message can leave. Exit 1 if it finds an error."""
    from autoinform import campaigns
    from autoinform.models import Channel
    from autoinform.preflight import preflight, probe_channels

    with runtime() as rt, rt.sessions() as s:
        c = campaigns.get(s, campaign_id)
        probes = probe_channels(rt.settings, [Channel(x) for x in c.channels]) if network else None
        result = preflight(s, c, rt.settings, probes=probes)
        if as_json:
            print_json(result.to_json())
        else:
            _print_preflight(rt, result.to_json())
    if not result.ok:
        raise typer.Exit(1)


@app.command("pause")
def pause(campaign_id: int, as_json: Json = False) -> None:
    """Nothing more leaves: sends under way finish, queued work goes back to pending until resume."""
    from autoinform import campaigns

    _act(campaigns.pause, campaign_id, as_json)


@app.command("resume")
def resume(campaign_id: int, as_json: Json = False) -> None:
    """Resume a paused campaign."""
    from autoinform import campaigns

    _act(campaigns.resume, campaign_id, as_json)


@app.command("cancel")
def cancel(campaign_id: int, as_json: Json = False) -> None:
    """Cancel: every delivery not yet final ends negative with reason 'cancelled'."""
    from autoinform import campaigns

    _act(campaigns.cancel, campaign_id, as_json)


@app.command("show")
def show(campaign_id: int, as_json: Json = False) -> None:
    """State, times, approvals and results by outcome and reason."""
    with runtime() as rt:
        _show(rt, campaign_id, as_json)


@app.command("ls")
def ls(as_json: Json = False) -> None:
    """All campaigns, newest first."""
    from rich.table import Table
    from sqlalchemy import select

    from autoinform import campaigns
    from autoinform.models import Campaign

    with runtime() as rt, rt.sessions() as s:
        rows = [campaigns.progress(s, cid) for cid in
                s.scalars(select(Campaign.id).order_by(Campaign.id.desc()))]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "state", "channels", "start", "end", "total", "done")
    for p in rows:
        table.add_row(str(p["id"]), p["name"], p["state"], ",".join(p["channels"]), p["start_at"][:16],
                      p["end_at"][:16], str(p["total"]), str(p["deliveries"].get("done", 0)))
    console.print(table)


def _show(rt: Any, campaign_id: int, as_json: bool) -> None:
    from rich.table import Table

    from autoinform import campaigns

    try:
        with rt.sessions() as s:
            p = campaigns.progress(s, campaign_id)
    except AutoinformError as exc:
        fail(str(exc))
    if as_json:
        print_json(p)
        return
    console.print(f"[bold]campaign {p['id']}[/] {p['name']}: [bold]{p['state']}[/]  "
                  f"channels {' → '.join(p['channels'])}")
    tz = rt.settings.tz

    def local(iso: str) -> str:
        return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    console.print(f"  {local(p['start_at'])} … {local(p['end_at'])} ({rt.settings.timezone})  "
                  f"created by {p['created_by']}, "
                  f"approved by {p['approved_by'] or '—'}")
    console.print(f"  deliveries: {p['total']}  " + "  ".join(f"{k}={v}" for k, v in sorted(p["deliveries"].items())))
    if p.get("preflight"):
        _print_preflight(rt, p["preflight"])
    if p["results"]:
        t = Table("outcome", "reason", "why", "count")
        for r in sorted(p["results"], key=lambda r: (r["outcome"] or "", -r["count"])):
            t.add_row(r["outcome"] or "", r["reason"] or "", r["text"], str(r["count"]))
        console.print(t)


def _print_preflight(rt: Any, data: dict[str, Any]) -> None:
    """What the preflight found (issue 9 item 1): the approver reads the warnings here."""
    tz = rt.settings.tz
    at = datetime.fromisoformat(data["checked_at"]).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    reach = ", ".join(f"{ch} {n}" for ch, n in data.get("reachable", {}).items())
    console.print(f"  preflight ({data['step']}, {at}): {data['rows']} rows; reachable with consent: {reach}; "
                  f"on some channel {data.get('reachable_any', 0)}", highlight=False, markup=False)
    if data.get("first_send_at"):
        first = datetime.fromisoformat(data["first_send_at"]).astimezone(tz).strftime("%Y-%m-%d %H:%M")
        console.print(f"  first message can leave at {first} ({rt.settings.timezone})", highlight=False)
    for f in data.get("errors", []):
        console.print(f"  ✗ error: {f['message']}", highlight=False, markup=False, style="red", soft_wrap=True)
    for f in data.get("warnings", []):
        console.print(f"  ! warning: {f['message']}", highlight=False, markup=False, style="yellow",
                      soft_wrap=True)


@app.command("report")
def report(campaign_id: int, as_json: Json = False) -> None:
    """The campaign report (AI-5): results by outcome and reason, channel, customer group, division."""
    from rich.table import Table

    from autoinform.reports import campaign_report

    with runtime() as rt, rt.sessions() as s:
        rep = campaign_report(s, campaign_id)
    if as_json:
        print_json(rep)
        return
    _show(rt, campaign_id, False)
    console.print(f"positive rate: {rep['positive_rate']}")
    for title, rows in (("customer group", rep["by_group"]), ("division", rep["by_division"])):
        t = Table(title, "done", "positive", "negative", "positive rate")
        for r in rows:
            t.add_row(str(r["label"] or "—"), str(r["done"]), str(r["positive"]), str(r["negative"]),
                      f"{r['positive_rate']:.1%}" if r["positive_rate"] is not None else "—")
        console.print(t)
    if rep["by_reason"]:
        t = Table("outcome", "reason", "count", "why")
        for r in rep["by_reason"]:
            why = "; ".join(f"{x['text']} ({x['count']})" if len(r["texts"]) > 1 else x["text"] for x in r["texts"])
            t.add_row(r["outcome"] or "", r["reason"] or "", str(r["count"]), why)
        console.print(t)
    t = Table("channel", "attempts", "positive")
    for r in rep["by_channel"]:
        t.add_row(r["channel"] or "", str(r["attempts"]), str(r["positive"]))
    console.print(t)
