"""The hotline now page (issue 12 item 1; HL-4, HL-5, AI-19): callers in the IVR, callers waiting
for an operator against the 40 s target, today's breaches; by role, masked by the one rule, and
live: what the hotline backend writes reaches an open page by the live stream."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from autoinform import db
from autoinform.hotline import calls
from autoinform.hotline.backend import DbHotlineBackend
from autoinform.models import utcnow
from autoinform.runtime import Runtime
from autoinform.web.pages.hotline import day_start, hotline_now
from ivr.hotline.backend import CallRecord, QueueEvent
from tests.ivr.conftest import ServerFactory, agi_server, settle
from tests.web.pages_fixtures import USERS, Web, serve, web_app
from tests.web.test_live import Page

__all__ = ["agi_server"]

WATCHERS = {"boss", "boss2", "op", "view", "root"}
CLEAR = {"boss", "boss2", "root"}  # PERSONAL_DATA roles among the watchers


def seed(rt: Runtime, now: datetime) -> None:
    """Today: A in the menu; B waiting 55 s (past 40); C waiting 12 s; D answered after 45 s (a
    breach); E answered after 8 s; F in the menu since yesterday's last minute (not today's)."""
    tz, ago = rt.settings.tz, lambda seconds: now - timedelta(seconds=seconds)
    with db.transaction(rt.sessions) as s:
        for cid, caller, started, ended in (("A", "+79990000001", ago(20), None),
                                            ("B", "+79990000002", ago(90), None),
                                            ("C", "+79990000003", ago(30), None),
                                            ("D", "+79990000004", ago(9 * 60), ago(5 * 60)),
                                            ("E", "+79990000005", ago(8 * 60), ago(6 * 60)),
                                            ("F", "+79990000006", day_start(now, tz) - timedelta(minutes=1), None)):
            calls.upsert_call(s, CallRecord(cid, caller, started, ended, ["2", "0"]))
        for cid, kind, ago, hold in (("B", "join", 55, None), ("C", "join", 12, None),
                                     ("D", "join", 8 * 60, None), ("D", "connect", 8 * 60 - 45, 45.0),
                                     ("E", "join", 7 * 60, None), ("E", "connect", 7 * 60 - 8, 8.0)):
            calls.add_queue_event(s, QueueEvent(cid, "operators", kind, now - timedelta(seconds=ago), hold))


def test_the_state_counts_only_today_and_only_callers_still_waiting(page_rt: Runtime) -> None:
    # Midday local time, so "today" has room on both sides of every seeded instant.
    now = datetime.combine(utcnow().astimezone(page_rt.settings.tz).date(), datetime.min.time(),
                           page_rt.settings.tz) + timedelta(hours=12)
    seed(page_rt, now)
    with page_rt.sessions() as s:
        state = hotline_now(s, clear=False, tz=page_rt.settings.tz, limit_s=40, now=now)
    assert [c["call_id"] for c in state["in_ivr"]] == ["A"]  # not ended, today, not queued
    assert [(w["call_id"], w["waited_s"], w["over"]) for w in state["waiting"]] == [("B", 55, True),
                                                                                  ("C", 12, False)]
    assert state["waiting_over"] == 1
    assert state["today"] | {"mean_hold_s": None} == {"joined": 4, "connected": 2, "abandoned": 0, "timed_out": 0,
                                                      "breaches": 1, "mean_hold_s": None, "max_hold_s": 45.0}
    assert state["today"]["mean_hold_s"] == 26.5
    assert all("+7999000000" not in w["caller"] for w in state["waiting"] + state["in_ivr"])
    with page_rt.sessions() as s:
        clear = hotline_now(s, clear=True, tz=page_rt.settings.tz, limit_s=40, now=now)
    assert clear["waiting"][0]["caller"] == "+79990000002"


@pytest.mark.parametrize("who", sorted(USERS))
def test_the_page_by_role(web: Web, who: str) -> None:
    seed(web.rt, utcnow())
    r = web.get("/hotline", who)
    if who not in WATCHERS:
        assert r.status_code == 403, who
        assert web.get("/live/hotline", who).status_code == 403
        return
    assert r.status_code == 200, r.text
    page = r.text
    assert 'id="in-ivr-count">1<' in page and 'id="waiting-count">2<' in page
    assert 'id="waiting-over">1<' in page and 'id="breaches">1<' in page
    assert ("+79990000002" in page) is (who in CLEAR), who  # AI-19: operators and viewers see it masked
    assert "Горячая линия" in page and 'href="/callbacks"' in page


def test_without_a_user_the_page_sends_to_log_in(web: Web) -> None:
    r = web.get("/hotline", None, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Fhotline")


def test_what_the_hotline_backend_writes_reaches_an_open_page(live_rt: Runtime, tmp_path: Path) -> None:
    live_rt.settings.hotline.recordings_dir = tmp_path / "rec"
    backend = DbHotlineBackend(live_rt)
    app = web_app(live_rt)
    with contextlib.closing(backend), serve(app) as base:
        page = Page(f"{base}/live/hotline", "op")
        _, first = page.wait_for(lambda s: True)
        assert first["in_ivr"] == [] and first["waiting"] == []
        now = utcnow()
        asyncio.run(backend.record_call(CallRecord("L1", "+79990000009", now)))
        _, state = page.wait_for(lambda s: len(s["in_ivr"]) == 1, timeout=15)
        assert state["in_ivr"][0]["caller"] != "+79990000009"  # an operator sees callers masked
        asyncio.run(backend.queue_event(QueueEvent("L1", "operators", "join", now)))
        _, state = page.wait_for(lambda s: [w["call_id"] for w in s["waiting"]] == ["L1"], timeout=15)
        assert state["in_ivr"] == []  # from the menu to the queue
        asyncio.run(backend.queue_event(QueueEvent("L1", "operators", "connect", utcnow(), 50.0)))
        _, state = page.wait_for(lambda s: s["waiting"] == [], timeout=15)
        assert state["today"]["breaches"] == 1


async def test_the_hotline_flow_writes_a_call_as_it_enters_the_menu(agi_server: ServerFactory,
                                                                     tmp_path: Path) -> None:
    """What makes "calls in the IVR" real: the flow writes the call without an end as it answers,
    and completes the same record at the end."""
    from dataclasses import replace

    from autoinform.config import HotlineSettings
    from ivr.hotline.flow import hotline_flow
    from ivr.hotline.info import load_info
    from ivr.hotline.menu import load_menu
    from tests.conftest import ROOT
    from tests.hotline.conftest import TEST_HOURS
    from tests.hotline.memory_backend import MemoryBackend
    from tests.ivr.peer import AsteriskModel, Caller, call

    writes: list[CallRecord] = []

    class Watched(MemoryBackend):
        async def record_call(self, record: CallRecord) -> None:
            writes.append(replace(record, menu_path=list(record.menu_path)))
            await super().record_call(record)

    backend = Watched(tmp_path / "rec", HotlineSettings(hours=TEST_HOURS))
    flow = hotline_flow(backend, load_menu(ROOT / "hotline" / "menu.yaml"), load_info(ROOT / "hotline" / "info.yaml"),
                        backend.settings)
    async with agi_server({"hotline": flow}) as server:
        await call(server.port, AsteriskModel(Caller()), script="hotline", uniqueid="77.1", timeout_s=20)
        await settle(server)
    assert len(writes) == 2
    assert (writes[0].call_id, writes[0].ended_at, writes[0].outcome) == ("77.1", None, "")
    assert writes[1].ended_at is not None and writes[1].outcome == "no_input"
    assert writes[1].started_at == writes[0].started_at
