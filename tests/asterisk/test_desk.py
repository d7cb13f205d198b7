"""The operator's desk on the real Asterisk 22 (issue 13; AI-8, HL-4, HL-5, QI-2), through the engine
as `autoinform run` builds it (web, FastAGI with the hotline over the database, AMI):

- a caller types an account in the hotline IVR and asks for an operator; the queue [desk-operators]
  rings two operators whose members are Local channels; op1 answers. op1's desk stream shows that
  customer's card within one second of Asterisk's AgentConnect; op2's stream never shows it;
- op1's wrap-up (topic, note, a callback task) is stored with the call;
- "call back" on that task rings op1's phone first and dials the customer once op1 answers;
- op2 pauses with a reason; the supervisor's figures agree with the queue's own QueueStatus.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from autoinform import db
from autoinform.cli.engine_cmd import _hotline
from autoinform.config import DeskSettings, HotlineSettings, Settings
from autoinform.desk import store
from autoinform.desk.events import queue_snapshot
from autoinform.engine import Engine, EngineOptions
from autoinform.models import (
    AccountBalance,
    BillingImport,
    Customer,
    DeskCall,
    DeskCallback,
    HotlineTask,
    Role,
)
from autoinform.runtime import Runtime, open_runtime
from autoinform.tokens import create_token
from autoinform.users import add_user
from ivr.ami import AmiClient
from ivr.ami.protocol import Event
from tests.asterisk.prebuilt import AsteriskInstance
from tests.asterisk.test_hotline_calls import CALLER, _install_beep
from tests.asterisk.test_hotline_engine import ALWAYS_OPEN, _short_menu
from tests.conftest import ROOT

QUEUE = "desk-operators"
OP1, OP2 = "Local/s@test-desk-op1/n", "Local/s@test-desk-op2/n"
ACCOUNT = "300100000001"
DESK_QUEUES = f"""
[{QUEUE}]
strategy = ringall
timeout = 15
retry = 1
joinempty = yes
leavewhenempty = no
member => {OP1}
member => {OP2}
"""


@dataclass
class Stream:
    """One operator's /live/desk, read as a browser's EventSource would: each state with its arrival."""

    states: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def first(self, test: Any) -> tuple[float, dict[str, Any]] | None:
        return next(((t, s) for t, s in self.states if test(s)), None)


async def _read(client: httpx.AsyncClient, token: str, into: Stream) -> None:
    async with client.stream("GET", "/live/desk", headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status_code == 200, await resp.aread()
        data = ""
        async for line in resp.aiter_lines():
            if line.startswith("data: "):
                data = line[6:]
            elif line == "" and data:
                into.states.append((time.monotonic(), json.loads(data)))
                data = ""


def _seed(rt: Runtime) -> dict[str, str]:
    with db.transaction(rt.sessions) as s:
        s.add(Customer(account=ACCOUNT, name="Петрова Анна", group=1, address="ул. Ленина, 1"))
        imp = BillingImport(source_file="billing.csv")
        s.add(imp)
        s.flush()
        s.add(AccountBalance(account=ACCOUNT, amount_kopecks=123456, as_of=date(2026, 11, 30), import_id=imp.id))
        tokens = {}
        for login, role in (("op1", Role.OPERATOR), ("op2", Role.OPERATOR), ("boss", Role.MANAGER)):
            add_user(s, login, role)
            tokens[login] = create_token(s, login, "test", actor="admin").secret
        store.set_phone(s, "op1", OP1, actor="admin")
        store.set_phone(s, "op2", OP2, actor="admin")
    return tokens


@asynccontextmanager
async def _engine(asterisk: AsteriskInstance, tmp_path: Path) -> AsyncIterator[tuple[Engine, Runtime]]:
    _install_beep(asterisk)
    etc = asterisk.runtime / "etc" / "queues.conf"
    if f"[{QUEUE}]" not in etc.read_text():
        etc.write_text(etc.read_text() + DESK_QUEUES)
        asterisk.cli("module reload app_queue.so")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'desk.db'}", var_dir=tmp_path / "var",
        ivr={"port": 0, "operator_queue": QUEUE}, web={"port": 0},
        scenarios_dir=ROOT / "scenarios", audio_dir=ROOT / "audio", ami=asterisk.ami_settings(),
        desk=DeskSettings(callback_dial="Local/{number}@test-desk-customer", operator_ring_s=15),
        hotline=HotlineSettings(hours=ALWAYS_OPEN, holidays_open=True, menu_file=_short_menu(tmp_path),
                                info_file=ROOT / "hotline" / "info.yaml", recordings_dir=tmp_path / "rec"))
    rt = open_runtime(settings)
    db.upgrade(rt.engine)
    backend = _hotline(rt)
    assert backend is not None
    engine = Engine(rt, senders={}, options=EngineOptions(hotline=backend))
    stop = asyncio.Event()
    run = asyncio.create_task(engine.run(stop))
    try:
        await asyncio.wait_for(engine.started(), 30)
        async with asyncio.timeout(15):
            while engine.ivr_port is None or engine.desk is None or engine.desk.ami.state != "up":
                await asyncio.sleep(0.02)
        yield engine, rt
    finally:
        stop.set()
        await asyncio.wait_for(run, 30)
        rt.close()


async def test_desk_screen_pop_wrap_up_callback_and_supervisor(asterisk: AsteriskInstance, tmp_path: Path) -> None:
    async with _engine(asterisk, tmp_path) as (engine, rt):
        tokens = _seed(rt)
        assert engine.web_port is not None and engine.ivr_port is not None
        base = f"http://127.0.0.1:{engine.web_port}"
        streams = {"op1": Stream(), "op2": Stream()}
        async with httpx.AsyncClient(base_url=base, timeout=30) as client, \
                AmiClient(asterisk.ami_settings(admin=True)) as admin:
            readers = [asyncio.create_task(_read(client, tokens[w], streams[w])) for w in ("op1", "op2")]
            try:
                await _scenario(engine, rt, asterisk, admin, client, tokens, streams, tmp_path)
            finally:
                for t in readers:
                    t.cancel()
                await asyncio.gather(*readers, return_exceptions=True)


async def _scenario(engine: Engine, rt: Runtime, asterisk: AsteriskInstance, admin: AmiClient,
                    client: httpx.AsyncClient, tokens: dict[str, str], streams: dict[str, Stream],
                    tmp_path: Path) -> None:
    async with asyncio.timeout(5):
        while not all(s.states for s in streams.values()):
            await asyncio.sleep(0.02)
    assert streams["op1"].states[0][1]["call"] is None and streams["op1"].states[0][1]["phone"] == OP1

    # --- a hotline caller asks for an operator: screen-pop on op1's desk only ---------------
    connected: list[tuple[float, Event]] = []
    channels: list[tuple[float, Event]] = []

    def seen(event: Event) -> None:
        if event.name == "AgentConnect":
            connected.append((time.monotonic(), event))
        else:
            channels.append((time.monotonic(), event))
    sub = admin.subscribe("AgentConnect", "Newchannel", "Newstate", "DialBegin", callback=seen)
    cid = f"desk-{uuid.uuid4().hex[:10]}"
    gone = admin.expect("Hangup", {"Uniqueid": cid})
    placed = await admin.originate(
        "Local/s@test-desk-caller", context="autoinform-hotline", exten="s", timeout_ms=10000,
        channel_id=cid, caller_id=f'"Caller" <{CALLER}>',
        variables={"AUTOINFORM_AGI": f"agi://127.0.0.1:{engine.ivr_port}", "AUTOINFORM_OPERATORS": QUEUE,
                   "AUTOINFORM_RECORDINGS": str(tmp_path / "mixmonitor")})
    assert (await placed.result(timeout_s=15)).answered

    def popped(state: dict[str, Any]) -> bool:
        return state["call"] is not None and state["call"]["call_id"] == cid

    async with asyncio.timeout(40):
        while streams["op1"].first(popped) is None:
            await asyncio.sleep(0.02)
    at, state = streams["op1"].first(popped)  # type: ignore[misc]
    assert connected, "Asterisk sent no AgentConnect"
    connect_at, connect = connected[0]
    assert connect["Interface"] == OP1 and connect["Uniqueid"] == cid
    assert at - connect_at < 1.0, f"the card came {at - connect_at:.2f} s after the connect"
    card = state["call"]
    assert card["caller"] == CALLER and card["account_typed"] == ACCOUNT and card["found_by"] == "account"
    assert card["customers"] == [{"account": ACCOUNT, "name": "Петрова Анна", "address": "ул. Ленина, 1",
                                  "balance": {"amount": "1234.56", "as_of": "2026-11-30", "debt": True}}]
    assert card["menu_path"][0] == "balance" and card["menu_path"][-1] == "operator"
    assert card["waited_s"] is not None and card["on_line"]

    # the supervisor while op1 talks: matches the queue's own QueueStatus
    sup = (await client.get("/desk/supervisor.json", headers={"Authorization": f"Bearer {tokens['boss']}"})).json()
    status = queue_snapshot(QUEUE, (await admin.action("QueueStatus", {"Queue": QUEUE})).events)
    ops = {o["login"]: o for o in sup["operators"]}
    assert ops["op1"]["state"] == "on_call" and ops["op2"]["state"] == "free"
    assert sup["waiting"] == status.waiting == 0 and sup["members_in_queue"] == len(status.members) == 2

    await asyncio.wait_for(gone, 30)  # op1 hangs up 6 s after answering; the caller goes too
    async with asyncio.timeout(5):
        while streams["op1"].states[-1][1]["call"]["on_line"]:
            await asyncio.sleep(0.02)
    assert all(s["call"] is None for _, s in streams["op2"].states), "op2's desk saw op1's caller"
    assert (await client.get("/desk", headers={"Authorization": f"Bearer {tokens['op2']}"})).text.count(CALLER) == 0

    # --- wrap-up: stored with the call, a callback task made --------------------------------
    topic = rt.settings.desk.topics[0]
    r = await client.post("/desk/wrapup", headers={"Authorization": f"Bearer {tokens['op1']}"},
                          data={"call_id": cid, "topic": topic, "note": "просит перезвонить",
                                "task": "callback"})
    assert r.status_code == 200, r.text
    with rt.sessions() as s:
        call = s.scalar(select(DeskCall).where(DeskCall.call_id == cid))
        assert call is not None and call.topic == topic and call.note == "просит перезвонить"
        assert call.ended_at is not None and call.ended_at > call.connected_at
        task = s.get(HotlineTask, call.task_id)
        assert task is not None and task.kind == "callback" and task.caller == CALLER
        task_id = task.id
    refused = await client.post("/desk/wrapup", headers={"Authorization": f"Bearer {tokens['op2']}"},
                                data={"call_id": cid, "topic": topic})
    assert refused.status_code == 400 and "not connected to you" in refused.text

    # --- a callback from the desk rings op1 first, then the customer -------------------------
    channels.clear()
    r = await client.post(f"/desk/callback/{task_id}", headers={"Authorization": f"Bearer {tokens['op1']}"})
    assert r.status_code == 200, r.text
    await engine.desk.settle()  # type: ignore[union-attr]
    customer = f"Local/{CALLER}@test-desk-customer-"

    def dials() -> list[tuple[float, Event]]:
        return [(t, e) for t, e in channels if e.name == "DialBegin"]
    async with asyncio.timeout(15):
        while not any(e.get("DestChannel").startswith(customer) for _, e in dials()):
            await asyncio.sleep(0.05)
    created = [e.get("Channel") for _, e in channels if e.name == "Newchannel"]
    assert created[0].startswith("Local/s@test-desk-op1-"), created
    # the Originate dials the operator's phone; the customer only once the operator is Up
    assert dials()[0][1].get("DestChannel").startswith("Local/s@test-desk-op1-")
    op_up = next(t for t, e in channels if e.name == "Newstate" and e.get("Channel").startswith(
        "Local/s@test-desk-op1-") and e.get("ChannelStateDesc") == "Up")
    dial_at, dial = next((t, e) for t, e in dials() if e.get("DestChannel").startswith(customer))
    assert dial.get("Channel").startswith("Local/s@test-desk-op1-") and dial_at >= op_up
    with rt.sessions() as s:
        cb = s.scalar(select(DeskCallback).where(DeskCallback.task_id == task_id))
        task = s.get(HotlineTask, task_id)
        assert cb is not None and cb.interface == OP1 and cb.result == "answered" and cb.number == CALLER
        assert task is not None and task.state == "taken" and task.taken_by == "op1"

    # --- op2 pauses with a reason; the supervisor and QueueStatus agree ----------------------
    r = await client.post("/desk/pause", headers={"Authorization": f"Bearer {tokens['op2']}"},
                          data={"paused": "1", "reason": "обед"})
    assert r.status_code == 200, r.text
    status = queue_snapshot(QUEUE, (await admin.action("QueueStatus", {"Queue": QUEUE})).events)
    members = {m.interface: m for m in status.members}
    assert members[OP2].paused and members[OP2].pause_reason == "обед" and not members[OP1].paused
    sup = (await client.get("/desk/supervisor.json", headers={"Authorization": f"Bearer {tokens['boss']}"})).json()
    ops = {o["login"]: o for o in sup["operators"]}
    assert ops["op2"]["state"] == "paused" and ops["op2"]["pause_reason"] == "обед"
    assert ops["op1"]["handled"] == 1 and ops["op1"]["mean_handling_s"] > 0
    assert ops["op1"]["asterisk_calls_taken"] == members[OP1].calls_taken >= 1
    assert sup["waiting"] == status.waiting and sup["longest_wait_s"] == status.longest_wait_s
    r = await client.post("/desk/pause", headers={"Authorization": f"Bearer {tokens['op2']}"},
                          data={"paused": "0"})
    status = queue_snapshot(QUEUE, (await admin.action("QueueStatus", {"Queue": QUEUE})).events)
    assert not {m.interface: m for m in status.members}[OP2].paused
    forbidden = await client.get("/desk/supervisor.json", headers={"Authorization": f"Bearer {tokens['op1']}"})
    assert forbidden.status_code == 403
    sub.close()
