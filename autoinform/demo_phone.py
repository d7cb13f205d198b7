"""`autoinform demo --phone`: a small phone campaign through the whole engine against the
prebuilt Asterisk 22 of ../shared/asterisk/prebuilt (issue 10).

The customers are Local channels into demo contexts that behave as people and networks do
(confirm with 1, ask for an operator with 0, hang up during the notice, busy, never answer,
reject); answered calls run the project's own [autoinform-notify] context (docs/asterisk/) and the
engine's /notify flow, which plays the project's prompts from audio/. Asterisk is started with
tests/asterisk/prebuilt.py (the tests' own start-up: the documented AMI user, a free port) and
stopped at the end. Without the prebuilt Asterisk the demo says why and does nothing.

bench/phone.py reuses the Asterisk and campaign helpers here.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from autoinform import campaigns, db, reports
from autoinform.channels.phone import PhoneChannel
from autoinform.config import (
    AsteriskServer,
    ChannelLimits,
    PhoneSettings,
    Settings,
    WindowSettings,
    load_settings,
)
from autoinform.demo import MANAGER, SPECIALIST, _users, token_file
from autoinform.divisions import DIVISIONS
from autoinform.engine import Engine, EngineOptions
from autoinform.importing.importer import import_list
from autoinform.models import Channel, ContactList, utcnow
from autoinform.runtime import Runtime, open_runtime
from autoinform.sample import HEADERS
from autoinform.scenarios import load_scenario
from autoinform.scenarios.store import snapshot

ROOT = Path(__file__).resolve().parents[1]
PREBUILT_MODULE = ROOT / "tests" / "asterisk" / "prebuilt.py"
HOTLINE_DEMO = "+78512000000"

# The demo's customers: the number picks the behaviour in DEMO_DIALPLAN's [demo-phone].
DEMO_DIALPLAN = """
; ---- autoinform demo --phone (autoinform/demo_phone.py) ----
[demo-phone]
exten => 89000000101,1,Goto(demo-confirm,s,1)
exten => 89000000102,1,Goto(demo-confirm,s,1)
exten => 89000000103,1,Goto(demo-operator,s,1)
exten => 89000000104,1,Goto(demo-hangup,s,1)
exten => 89000000105,1,Busy(5)
exten => 89000000106,1,Busy(5)
exten => 89000000107,1,Ringing()
 same => n,Wait(60)
exten => 89000000108,1,Hangup(21)

; answers, listens three seconds, presses 1
[demo-confirm]
exten => s,1,Answer()
 same => n,Wait(3)
 same => n,SendDTMF(1)
 same => n,Wait(10)
 same => n,Hangup()

; answers, presses 0 for an operator, talks to whoever answers
[demo-operator]
exten => s,1,Answer()
 same => n,Wait(3)
 same => n,SendDTMF(0)
 same => n,Wait(15)
 same => n,Hangup()

; answers and hangs up two seconds into the notice
[demo-hangup]
exten => s,1,Answer()
 same => n,Wait(3)
 same => n,Hangup()

; the operators' queue member: answers after a second, talks two, hangs up
[demo-operator-desk]
exten => operator,1,Wait(1)
 same => n,Answer()
 same => n,Wait(2)
 same => n,Hangup()
"""

QUEUES_CONF = """[general]
persistentmembers = no

[operators]
strategy = ringall
timeout = 10
retry = 1
member => Local/operator@demo-operator-desk/n
"""


@dataclass(frozen=True)
class DemoCustomer:
    account: str
    name: str
    phone: str
    behaves: str


DEMO_CUSTOMERS: tuple[DemoCustomer, ...] = (
    DemoCustomer("309900000101", "Иванов Иван Иванович", "+79000000101", "answers, presses 1"),
    DemoCustomer("309900000102", "Петрова Анна Сергеевна", "+79000000102", "answers, presses 1"),
    DemoCustomer("309900000103", "Сидоров Пётр Николаевич", "+79000000103", "answers, presses 0 (operator)"),
    DemoCustomer("309900000104", "Кузнецова Ольга Юрьевна", "+79000000104", "hangs up during the notice"),
    DemoCustomer("309900000105", "Смирнов Олег Петрович", "+79000000105", "busy"),
    DemoCustomer("309900000106", "ТСЖ «Волга»", "+79000000106", "busy"),
    DemoCustomer("309900000107", "Попова Елена Ивановна", "+79000000107", "never answers"),
    DemoCustomer("309900000108", "ООО «Каспий»", "+79000000108", "rejects the call"),
)


class PhoneLabUnavailable(Exception):
    """No prebuilt Asterisk here (or it cannot run): the phone demo says so and does nothing."""


def load_prebuilt() -> ModuleType:
    """tests/asterisk/prebuilt.py, the one place that knows how to run the prebuilt Asterisk."""
    name = "tests.asterisk.prebuilt"
    if name in sys.modules:
        return sys.modules[name]
    if not PREBUILT_MODULE.is_file():
        raise PhoneLabUnavailable(f"{PREBUILT_MODULE} is missing (the phone demo runs from a source checkout)")
    spec = importlib.util.spec_from_file_location(name, PREBUILT_MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def prebuilt_home() -> tuple[ModuleType, Path]:
    """The prebuilt module and the unpacked Asterisk, its Debian libraries present; raises
    PhoneLabUnavailable with the reason otherwise."""
    prebuilt = load_prebuilt()
    try:
        home = prebuilt.unpack()
        prebuilt.ensure_debs(home)
    except prebuilt.Unavailable as exc:
        raise PhoneLabUnavailable(str(exc)) from exc
    return prebuilt, Path(home)


@contextlib.contextmanager
def running_asterisk(prebuilt: ModuleType, home: Path, prompts: Path, *, dialplan: str,
                     overlay: dict[str, str] | None = None) -> Iterator[Any]:
    """A prebuilt Asterisk in a fresh runtime dir whose sounds are `prompts` as
    sounds/ru/autoinform/ (what the flows play), with `dialplan` after the project's own; stopped
    on exit."""
    tmp = Path(tempfile.mkdtemp(prefix="ai-ph-"))  # short: the control socket's path limit
    try:
        sounds = tmp / "sounds"
        (sounds / "ru").mkdir(parents=True)
        (sounds / "ru" / "autoinform").symlink_to(prompts.resolve(), target_is_directory=True)
        runtime = tmp / "ast"
        runtime.mkdir()
        extra = tmp / "ast-overlay"  # AsteriskInstance's overlay dir: its files replace the generated ones
        extra.mkdir()
        for name, text in (overlay or {}).items():
            (extra / name).write_text(text)
        instance = prebuilt.AsteriskInstance(home, runtime, extra_dialplan=dialplan)
        before = os.environ.get("AST_SOUNDS_DIR")
        os.environ["AST_SOUNDS_DIR"] = str(sounds)  # read by start-asterisk.sh through instance.env
        try:
            instance.start()
        finally:
            if before is None:
                os.environ.pop("AST_SOUNDS_DIR", None)
            else:
                os.environ["AST_SOUNDS_DIR"] = before
        try:
            yield instance
        finally:
            instance.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def phone_server(instance: Any, *, name: str, dial_template: str, agi_port: int, max_channels: int,
                 calls_per_second: float) -> AsteriskServer:
    """The engine's phone.servers entry for a running AsteriskInstance: its AMI user, the customers'
    dial template, the FastAGI address the calls' AGI() reaches."""
    ami = instance.ami_settings()
    return AsteriskServer(**ami.model_dump(), name=name, dial_template=dial_template,
                          number_format="8XXXXXXXXXX", max_channels=max_channels,
                          calls_per_second=calls_per_second,
                          variables={"AUTOINFORM_AGI": f"agi://127.0.0.1:{agi_port}"})


def write_export(path: Path, rows: Sequence[tuple[str, str, str]], debt: str = "1 234,56") -> None:
    """A billing export (the importer's CP1251 CSV) of (account, name, phone) rows."""
    division = DIVISIONS[0].name
    with path.open("w", encoding="cp1251", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(HEADERS)
        for account, name, phone in rows:
            w.writerow([account, name, "1", division, "г. Астрахань, ул. Ленина, д. 1", phone, "", "",
                        debt, "", "ноябрь 2026"])


def phone_campaign(rt: Runtime, export: Path, scenario_file: Path, name: str) -> int:
    """Import `export`, then form, approve and start a phone-only campaign of `scenario_file`; its id."""
    _users(rt)
    report = import_list(rt, export, name, created_by=SPECIALIST)
    scenario = load_scenario(scenario_file)
    now = utcnow()
    with db.transaction(rt.sessions) as s:
        lst = s.scalar(select(ContactList).where(ContactList.id == report.list_id))
        assert lst is not None
        c = campaigns.create(s, name=name, scenario=snapshot(s, scenario), contact_list=lst,
                             channels=[Channel.PHONE], start_at=now - timedelta(minutes=1),
                             end_at=now + timedelta(hours=2), actor=SPECIALIST, supported=list(scenario.channels))
        cid = c.id
    with db.transaction(rt.sessions) as s:
        campaigns.approve(s, cid, MANAGER)
        campaigns.start(s, cid, SPECIALIST)
    return cid


def demo_settings(settings: Settings, instance: Any, agi_port: int) -> Settings:
    """The demo's engine: phone only, on the demo Asterisk; short rings; one attempt (a busy
    customer is not called again 30 minutes later: the demo ends); the window lifted, since the
    customers are Local channels."""
    server = phone_server(instance, name="demo", dial_template="Local/{number}@demo-phone", agi_port=agi_port,
                          max_channels=10, calls_per_second=10)
    return settings.model_copy(update={
        "window": WindowSettings(start=time(0), end=time(23, 59, 59, 999999), calendar="any"),
        "phone": PhoneSettings(servers=[server], ring_timeout_s=4, max_call_s=60, reconcile_s=5),
        "ivr": settings.ivr.model_copy(update={"host": "127.0.0.1", "port": agi_port, "shutdown_grace_s": 2}),
        "dispatch": settings.dispatch.model_copy(update={
            "poll_interval_s": 0.2, "phone": ChannelLimits(concurrency=10, max_attempts=1)}),
        "scenario_constants": {"hotline_phone": HOTLINE_DEMO, **settings.scenario_constants},
    })


def _audio_dir(settings: Settings) -> Path:
    return settings.audio_dir if settings.audio_dir.is_dir() else ROOT / "audio"


def run_phone_demo(console: Console, settings: Settings | None = None) -> int | None:
    """The phone campaign's id, or None (with the reason printed) when no Asterisk can run here."""
    settings = settings or load_settings()
    console.rule("[bold]Phone demo: the engine calls through a real Asterisk 22 (issue 10)")
    try:
        prebuilt, home = prebuilt_home()
    except PhoneLabUnavailable as exc:
        console.print(f"[yellow]phone demo not run: {exc}[/]\nIt needs ../shared/asterisk/prebuilt beside the "
                      "clone (or AUTOINFORM_ASTERISK_PREBUILT); a production Asterisk is set up as README.md "
                      "says in 'Before the first real campaign'.")
        return None
    demo_dir = settings.var_dir / "demo-phone"
    demo_dir.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().astimezone(settings.tz).strftime("%Y-%m-%d %H:%M:%S")
    with running_asterisk(prebuilt, home, _audio_dir(settings), dialplan=DEMO_DIALPLAN,
                          overlay={"queues.conf": QUEUES_CONF}) as instance:
        agi_port = prebuilt.free_port()
        rt = open_runtime(demo_settings(settings, instance, agi_port))
        try:
            return _demo(console, rt, demo_dir, stamp, instance)
        finally:
            rt.close()


def _demo(console: Console, rt: Runtime, demo_dir: Path, stamp: str, instance: Any) -> int:
    (server,) = rt.settings.phone.servers
    console.print(f"Asterisk 22 (prebuilt) pid {instance.pid}, AMI user {server.username} on 127.0.0.1:"
                  f"{server.port}, dial template {server.dial_template} ({server.number_format}), "
                  f"FastAGI on 127.0.0.1:{rt.settings.ivr.port}")
    t = Table("account", "customer", "phone", "behaves")
    for c in DEMO_CUSTOMERS:
        t.add_row(c.account, c.name, c.phone, c.behaves)
    console.print(t)
    export = demo_dir / "customers.csv"
    write_export(export, [(c.account, c.name, c.phone) for c in DEMO_CUSTOMERS])
    cid = phone_campaign(rt, export, rt.settings.scenarios_dir / "debt_reminder.yaml", f"Обзвон (демо) {stamp}")
    console.print(f"campaign {cid}: debt_reminder by phone, {len(DEMO_CUSTOMERS)} customers; "
                  "[yellow]demo only: the customers are Local channels, so this run lifts the window and "
                  "makes one attempt each[/]")
    engine = Engine(rt, senders={Channel.PHONE: PhoneChannel(rt.settings.phone)},  # phone only, whatever else is set
                    options=EngineOptions(web=False, ivr=True, until_idle=True, housekeeping_s=0.5))
    asyncio.run(engine.run(asyncio.Event()))

    with rt.sessions() as s:
        rep = reports.campaign_report(s, cid)
    console.print(f"campaign {cid} is {rep['state']}: {rep['total']} deliveries, positive rate {rep['positive_rate']}")
    t = Table("outcome", "reason", "count")
    for r in rep["results"]:
        t.add_row(r["outcome"] or "", r["reason"] or "", str(r["count"]))
    console.print(t)
    console.print(f"  autoinform campaigns report {cid}\n"
                  f"  AUTOINFORM_TOKEN_FILE={token_file(rt, MANAGER)} autoinform results history "
                  f"{DEMO_CUSTOMERS[0].account}   "
                  "(the call's evidence: AMD status, prompts, keys, times)")
    return cid
