"""The README's main job: a working engine on SQLite that a newcomer can look at.

It generates a synthetic billing export, imports it, checks the scenarios and prompts, forms and
approves a debt-reminder campaign, runs the engine until the campaign ends, and prints the report.
Then (unless `serve=False`: `autoinform demo --no-serve`, or AUTOINFORM_DEMO_SERVE=0) the web app
serves the dashboard over the same database until Ctrl-C, with the demo's users able to log in
(random passwords in var/demo/LOGIN.password, readable by their owner only; issue 12 item 5).
E-mail goes to a local SMTP outbox (var/demo/outbox/*.eml) and SMS to a local server implementing
the Twilio Messages API, never to real customers. Because both are local, the demo lifts the
informing window for its own run and says so; the real window is shown next to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from datetime import time, timedelta
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from autoinform import campaigns, db, reports
from autoinform.config import SmtpSettings, TwilioSettings, WebSettings, WindowSettings, load_settings
from autoinform.engine import Engine, EngineOptions
from autoinform.hotline import tasks
from autoinform.importing.importer import import_list
from autoinform.logs import mask_url
from autoinform.models import Channel, ContactList, Division, HotlineTask, Role, User, utcnow
from autoinform.runtime import Runtime, open_runtime
from autoinform.sample import SampleSpec, write_sample
from autoinform.sandbox.smtp_outbox import SmtpOutbox
from autoinform.sandbox.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio
from autoinform.scenarios import load_all
from autoinform.scenarios.store import snapshot
from autoinform.startup import check_prompts
from autoinform.tokens import create_token, write_token_file
from autoinform.users import add_user, password_matches, set_password
from ivr.hotline.backend import NewTask, TaskKind

SPECIALIST, MANAGER, OPERATOR = "ivanova.specialist", "petrov.manager", "sidorova.operator"
DEMO_USERS = ((SPECIALIST, Role.SPECIALIST, "Иванова А. С."), (MANAGER, Role.MANAGER, "Петров В. Н."),
              (OPERATOR, Role.OPERATOR, "Сидорова Е. П."))
HOTLINE_DEMO = "+78512000000"  # synthetic: the demo's scenarios need some hotline number
_DAYS = {"legal": "not on Sundays or holidays", "working_days": "working days only", "any": "any day"}


def token_file(rt: Runtime, login: str) -> Path:
    return rt.settings.var_dir / "demo" / f"{login}.token"


def password_file(rt: Runtime, login: str) -> Path:
    return rt.settings.var_dir / "demo" / f"{login}.password"


def _password(rt: Runtime, login: str) -> str:
    """The demo user's web password: the one in its file, or a new random one written there (mode
    600, like the token files), so it is never printed and stays the same from one run to the next."""
    path = password_file(rt, login)
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(12)
    write_token_file(path, password)
    return password


def _users(rt: Runtime) -> None:
    """The demo's specialist, manager and operator, each with an API token in var/demo/LOGIN.token
    (mode 600), so the command lines the demo prints act as them (issue 12: the CLI acts by token
    only), and a web password in var/demo/LOGIN.password for the dashboard."""
    with db.transaction(rt.sessions) as s:
        have = set(s.scalars(select(User.login)))
        for login, role, name in DEMO_USERS:
            if login not in have:
                add_user(s, login, role, name, actor="demo")
            if not token_file(rt, login).exists():
                write_token_file(token_file(rt, login), create_token(s, login, "demo", actor="demo").secret)
            user = s.scalar(select(User).where(User.login == login))
            password = _password(rt, login)
            if user is not None and not (user.password_hash and password_matches(user, password)):
                set_password(s, login, password, actor="demo")


def _callbacks(rt: Runtime) -> int:
    """Synthetic hotline callback requests (numbers of the demo's own range), so the callbacks page
    has work to show: one overdue, two in time. Added once."""
    now = utcnow()
    with db.transaction(rt.sessions) as s:
        if s.scalar(select(func.count()).select_from(HotlineTask)):
            return 0
        for n, (hours_left, note) in enumerate(((-2, "перезвонить: вопрос по начислениям"),
                                                (3, "после 20:00, очередь переполнена"),
                                                (20, "просит сверить показания")), start=1):
            task = NewTask(TaskKind.CALLBACK, f"+7851299{n:04d}", f"demo-{n}", note=note)
            tasks.create(s, task, now + timedelta(hours=hours_left), now - timedelta(hours=5),
                         retention_days=rt.settings.hotline.recording_retention_days)
    return 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _run_sandboxed(rt: Runtime, outbox: Path) -> tuple[int, int]:
    """Run the engine until the campaign ends, e-mail to a local outbox and SMS to a local
    Twilio-compatible server whose signed delivery reports come back to the engine's endpoint."""
    port = _free_port()
    with SmtpOutbox(outbox) as box:
        async with FakeTwilio() as twilio:
            sandbox = rt.settings.model_copy(update={
                "window": WindowSettings(start=time(0), end=time(23, 59, 59, 999999), calendar="any"),
                # The outbox is the recipients' mailbox itself: its 250 is final, no bounce to await.
                "smtp": SmtpSettings(port=box.port, sender="noreply@example.ru", delivery_mode="direct"),
                "twilio": TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN),
                                         from_number=FROM_NUMBER, api_base_url=twilio.base_url),
                "web": WebSettings(port=port, public_url=f"http://127.0.0.1:{port}"),
            })
            engine = Engine(Runtime(sandbox, rt.engine, rt.sessions),
                            options=EngineOptions(ivr=False, until_idle=True, housekeeping_s=0.5))
            await engine.run(asyncio.Event())
            return box.count, len(twilio.messages)


def run_demo(console: Console, *, rows: int = 300, serve: bool = True) -> int:
    settings = load_settings()
    demo_dir = settings.var_dir / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    constants = {"hotline_phone": HOTLINE_DEMO, **settings.scenario_constants}
    settings = settings.model_copy(update={"scenario_constants": constants})
    rt = open_runtime(settings)
    try:
        cid = _demo(console, rt, demo_dir, rows)
        if serve:
            serve_dashboard(console, rt, cid)
        return cid
    finally:
        rt.close()


def _dashboard_port(host: str, wanted: int) -> int:
    """web.port when it is free, else any free port (another program may hold 8080)."""
    with socket.socket() as s:
        try:
            s.bind((host, wanted))
        except OSError:
            s.bind((host, 0))
        return int(s.getsockname()[1])


def serve_dashboard(console: Console, rt: Runtime, cid: int) -> None:
    """The web app over the demo's database until Ctrl-C (`autoinform web` does the same alone).
    On plain http on the loopback address, so its session cookie is not marked Secure (the setting
    allows that on a loopback host only)."""
    from autoinform.web.app import create_app
    from autoinform.web.serve import web_server

    host = "127.0.0.1"
    port = _dashboard_port(host, rt.settings.web.port)
    web = rt.settings.web.model_copy(update={"host": host, "port": port, "cookie_secure": False,
                                             "public_url": f"http://{host}:{port}"})
    served = Runtime(rt.settings.model_copy(update={"web": web}), rt.engine, rt.sessions)
    server = web_server(create_app(served), host, port)
    console.rule("[bold]7. The dashboard (AI-6, issue 12)")
    base = f"http://{host}:{port}"
    console.print(f"Dashboard: {base}/campaigns/{cid} (log in at {base}/login); Ctrl-C stops it", highlight=False)
    for login, role, what in ((MANAGER, "manager", "campaigns, approval, reports with customers' names"),
                              (SPECIALIST, "specialist", "lists, forming campaigns, the stop list"),
                              (OPERATOR, "operator", "the hotline now, callbacks to take and close")):
        console.print(f"  {login} ({role}: {what}): password in {password_file(rt, login)}", highlight=False,
                      soft_wrap=True)
    console.print("The engine has stopped: a campaign started here is sent by `autoinform run --sandbox` in "
                  "another terminal.", highlight=False)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled: the normal end
        asyncio.run(server.serve())
    console.print("dashboard stopped")


def _demo(console: Console, rt: Runtime, demo_dir: Path, rows: int) -> int:
    stamp = utcnow().astimezone(rt.settings.tz).strftime("%Y-%m-%d %H:%M:%S")
    console.rule("[bold]1. Storage")
    with rt.sessions() as s:
        divisions = s.scalar(select(func.count()).select_from(Division))
    url = mask_url(rt.engine.url.render_as_string(hide_password=False))
    console.print(f"database {url} at schema {db.current_revision(rt.engine)}, "
                  f"{divisions} divisions seeded (Table 1)")

    console.rule("[bold]2. A billing export (synthetic) and its import (AI-4, AI-11)")
    export = demo_dir / "billing-export.csv"
    write_sample(export, SampleSpec(rows=rows, seed=int(utcnow().timestamp()) % 100000, bad_share=0.05,
                                    duplicate_share=0.02), fmt="csv", encoding="cp1251")
    report = import_list(rt, export, f"Должники {stamp}", created_by=SPECIALIST)
    console.print(f"{export} (CP1251, ';'): {report.equation()}")
    console.print(f"contacts: {report.contacts}; customers new {report.customers_created}, "
                  f"updated {report.customers_updated}")

    console.rule("[bold]3. Scenarios and prompts (AI-3, AI-17)")
    scenarios = {sc.name: sc for sc in load_all(rt.settings.scenarios_dir)}
    check_prompts(rt)
    t = Table("scenario", "channels", "title")
    for sc in scenarios.values():
        t.add_row(sc.name, ", ".join(c.value for c in sc.channels), sc.title)
    console.print(t)
    console.print("every prompt the scenarios and IVR flows can play exists in audio/")

    console.rule("[bold]4. Campaign: formed by a specialist, approved by a manager (AI-7, AI-15)")
    _users(rt)
    _callbacks(rt)
    now = utcnow()
    with db.transaction(rt.sessions) as s:
        lst = s.scalar(select(ContactList).where(ContactList.id == report.list_id))
        assert lst is not None
        version = snapshot(s, scenarios["debt_reminder"])
        c = campaigns.create(s, name=f"Напоминание о задолженности {stamp}", scenario=version,
                             contact_list=lst, channels=[Channel.EMAIL, Channel.SMS], start_at=now,
                             end_at=now + timedelta(hours=2), actor=SPECIALIST,
                             supported=list(scenarios["debt_reminder"].channels))
        cid = c.id
    with db.transaction(rt.sessions) as s:
        campaigns.approve(s, cid, MANAGER)
        n = campaigns.start(s, cid, SPECIALIST)
    console.print(f"campaign {cid}: {n} deliveries, e-mail then SMS (AI-12), created by {SPECIALIST}, "
                  f"approved by {MANAGER}")

    console.rule("[bold]5. The engine runs it (AI-9, AI-13, AI-14)")
    real = rt.window
    nxt = real.next_allowed(now).astimezone(rt.settings.tz)
    console.print(f"real informing window (10:00–20:00 {rt.settings.timezone}, {_DAYS[real.calendar]}): "
                  + ("open now" if real.allows(now) else f"closed now, next opening {nxt:%Y-%m-%d %H:%M}"))
    console.print("[yellow]demo only: messages go to a local outbox, so this run lifts the window[/]")
    for old in (demo_dir / "outbox").glob("*.eml"):  # the outbox shows this run only
        old.unlink()
    delivered, texted = asyncio.run(_run_sandboxed(rt, demo_dir / "outbox"))

    console.rule("[bold]6. Report (AI-2, AI-5)")
    with rt.sessions() as s:
        rep = reports.campaign_report(s, cid)
    console.print(f"campaign {cid} is {rep['state']}: {rep['total']} deliveries, "
                  f"positive rate {rep['positive_rate']}")
    t = Table("outcome", "reason", "count")
    for r in rep["results"]:
        t.add_row(r["outcome"] or "", r["reason"] or "", str(r["count"]))
    console.print(t)
    t = Table("group", "done", "positive", "negative")
    for g in rep["by_group"]:
        t.add_row(f"{g['key']} {g['label']}", str(g["done"]), str(g["positive"]), str(g["negative"]))
    console.print(t)
    console.print(f"{delivered} e-mails in {demo_dir / 'outbox'}/*.eml; {texted} SMS accepted by the local "
                  "Twilio-compatible server, delivery reports posted back to the engine with signatures")
    console.rule("[bold]Look further")
    console.print(f"  autoinform campaigns show {cid}\n"
                  f"  autoinform campaigns report {cid}\n"
                  f"  autoinform lists ls\n"
                  f"  autoinform scenarios render debt_reminder --channel phone --var debt=1234,56 "
                  f"--var hotline_phone={HOTLINE_DEMO}\n"
                  f"  autoinform say money 1234,56\n"
                  f"  AUTOINFORM_TOKEN_FILE={token_file(rt, MANAGER)} autoinform results history ACCOUNT "
                  f"--format csv")
    return cid
