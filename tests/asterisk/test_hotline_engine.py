"""The engine as `autoinform run` builds it serves the hotline over the database (issue 11): the
/hotline flow on DbHotlineBackend, and the queue's AMI events recorded by the engine's own AMI
client (HL-4, HL-5). The flow's branches are covered with the memory backend in
test_hotline_calls.py; this is the wiring: real Asterisk, real engine, real tables.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from pathlib import Path

import yaml
from sqlalchemy import select

from autoinform import db
from autoinform.cli.engine_cmd import _hotline
from autoinform.config import HotlineSettings, Settings
from autoinform.engine import Engine, EngineOptions
from autoinform.models import AccountBalance, BillingImport, Customer, HotlineCall, HotlineQueueEvent
from autoinform.runtime import open_runtime
from ivr.ami import AmiClient
from tests.asterisk.prebuilt import AsteriskInstance
from tests.asterisk.test_hotline_calls import CALLER, _install_beep
from tests.conftest import ROOT

ALWAYS_OPEN = {d: "00:00-23:59" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _short_menu(tmp_path: Path) -> Path:
    """The production menu with the test calls' shorter waits (every second of a call is real)."""
    spec = yaml.safe_load((ROOT / "hotline" / "menu.yaml").read_text(encoding="utf-8"))
    spec["timing"].update(key_timeout_ms=3000, digit_timeout_ms=3000, record_max_s=20)
    menu = tmp_path / "menu.yaml"
    menu.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return menu


async def _call(ami: AmiClient, who: str, agi_port: int) -> str:
    cid = f"hle-{uuid.uuid4().hex[:10]}"
    gone = ami.expect("Hangup", {"Uniqueid": cid})
    placed = await ami.originate(
        f"Local/s@{who}", context="autoinform-hotline", exten="s", timeout_ms=10000, channel_id=cid,
        caller_id=f'"Caller" <{CALLER}>',
        variables={"AUTOINFORM_AGI": f"agi://127.0.0.1:{agi_port}", "AUTOINFORM_OPERATORS": "operators"})
    assert (await placed.result(timeout_s=15)).answered
    await asyncio.wait_for(gone, 40)
    return cid


async def test_run_serves_the_hotline_over_the_database(asterisk: AsteriskInstance, tmp_path: Path) -> None:
    _install_beep(asterisk)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'engine.db'}", var_dir=tmp_path / "var", ivr={"port": 0},
        scenarios_dir=ROOT / "scenarios", audio_dir=ROOT / "audio", ami=asterisk.ami_settings(),
        hotline=HotlineSettings(hours=ALWAYS_OPEN, holidays_open=True, menu_file=_short_menu(tmp_path),
                                info_file=ROOT / "hotline" / "info.yaml", recordings_dir=tmp_path / "rec"))
    rt = open_runtime(settings)
    db.upgrade(rt.engine)
    with db.transaction(rt.sessions) as s:
        s.add(Customer(account="123456789012", name="Иванов И. И.", group=1))
        imp = BillingImport(source_file="billing.csv")
        s.add(imp)
        s.flush()
        s.add(AccountBalance(account="123456789012", amount_kopecks=123456, as_of=date(2026, 11, 30),
                             import_id=imp.id))
    backend = _hotline(rt)
    assert backend is not None
    engine = Engine(rt, senders={}, options=EngineOptions(web=False, hotline=backend))
    stop = asyncio.Event()
    run = asyncio.create_task(engine.run(stop))
    try:
        await asyncio.wait_for(engine.started(), 30)
        async with asyncio.timeout(10):
            while engine.ivr_port is None:
                await asyncio.sleep(0.01)
        async with AmiClient(asterisk.ami_settings()) as ami:
            balance, operator = await asyncio.gather(_call(ami, "test-hl-balance", engine.ivr_port),
                                                     _call(ami, "test-hl-unknown-account", engine.ivr_port))
        async with asyncio.timeout(10):  # the flows write their record as the call ends
            while True:
                with rt.sessions() as s:
                    calls = {c.call_id: c for c in s.scalars(select(HotlineCall))}
                    events = list(s.scalars(select(HotlineQueueEvent).where(HotlineQueueEvent.call_id == operator)))
                if {balance, operator} <= set(calls) and len(events) >= 2:
                    break
                await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.wait_for(run, 30)
        rt.close()
    assert calls[balance].outcome == "balance" and calls[balance].account == "123456789012"
    assert calls[balance].caller == CALLER and calls[balance].menu_reached_at is not None
    assert calls[operator].outcome == "operator"
    assert [(e.kind, e.queue) for e in events][:2] == [("join", "operators"), ("connect", "operators")]
    assert engine.hotline_queue.joined >= 1 and engine.hotline_queue.connected >= 1
