"""DbHotlineBackend beyond readings and tasks: accounts, call records (upserts by call_id), queue
events against the 40 s target (HL-4, HL-5), recording names and housekeeping (AI-19)."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from autoinform import db
from autoinform.cli import app
from autoinform.config import Settings
from autoinform.hotline import calls, recordings
from autoinform.hotline.backend import DbHotlineBackend
from autoinform.models import AuditEntry, HotlineCall, Recording
from autoinform.runtime import Runtime
from ivr.hotline.backend import CallRecord, NewTask, QueueEvent, TaskKind
from tests.cli_actors import as_user
from tests.hotline_data.conftest import WED_10, AddCustomer

runner = CliRunner()


def test_find_account_uses_the_one_account_syntax(rt: Runtime, add_customer: AddCustomer) -> None:
    cid = add_customer("12/345")
    backend = DbHotlineBackend(rt, clock=lambda: WED_10)
    info = asyncio.run(backend.find_account(" 12/345 "))
    assert info is not None and info.customer_id == cid and info.account == "12/345"
    assert asyncio.run(backend.find_account("12 345")) is None
    assert asyncio.run(backend.find_account("99999")) is None


def test_reception_from_settings(rt: Runtime) -> None:
    backend = DbHotlineBackend(rt, clock=lambda: WED_10)
    r = backend.reception(backend.now())
    assert r.open and r.closes_at == WED_10 + timedelta(hours=7) and r.opens_at is None
    closed = backend.reception(WED_10 + timedelta(hours=8))
    assert not closed.open and closed.opens_at == WED_10 + timedelta(hours=22)
    # in the hotline's zone: a flow speaking the hour says 8, not 4 (UTC)
    assert closed.opens_at is not None and closed.opens_at.hour == 8 and r.closes_at is not None
    assert r.closes_at.hour == 17 and backend.now().utcoffset() == timedelta(hours=4)


def test_recording_names_are_the_engines(rt: Runtime) -> None:
    backend = DbHotlineBackend(rt, clock=lambda: WED_10)
    path = backend.recording_path("../../etc/passwd;rm -rf", TaskKind.COMPLAINT)
    assert path.parent == rt.settings.hotline.recordings_dir.resolve() and path.parent.is_dir()
    assert path.name == "20261202T060000000Z-complaint-etc_passwd_rm_-rf.wav"
    path = backend.recording_path("1764660901.42", TaskKind.CALLBACK)
    assert path.name.endswith("-callback-1764660901_42.wav") and path.with_suffix("").suffix == ""


def test_a_call_back_from_the_queue_continues_its_record(rt: Runtime) -> None:
    backend = DbHotlineBackend(rt, clock=lambda: WED_10)
    first = CallRecord("1764660901.5", "+79990000001", WED_10, WED_10 + timedelta(seconds=80),
                       ["main", "operator"], WED_10 + timedelta(seconds=12), "operator_timeout")
    asyncio.run(backend.record_call(first))
    second = CallRecord("1764660901.5", "+79990000001", WED_10 + timedelta(seconds=81),
                        WED_10 + timedelta(seconds=140), ["callback"], None, "task", account="100001")
    asyncio.run(backend.record_call(second))
    with rt.sessions() as s:
        row = s.scalars(select(HotlineCall)).one()
    assert row.menu_path == ["main", "operator", "callback"] and row.outcome == "task"
    assert row.started_at == WED_10 and row.ended_at == WED_10 + timedelta(seconds=140)
    assert row.menu_reached_at == WED_10 + timedelta(seconds=12) and row.account == "100001"
    assert calls.merged_path(["a", "b"], ["a", "b", "c"]) == ["a", "b", "c"]


def test_queue_waits_against_the_target(rt: Runtime) -> None:
    backend = DbHotlineBackend(rt, clock=lambda: WED_10)
    events = [QueueEvent("c1", "operators", "join", WED_10),
              QueueEvent("c1", "operators", "connect", WED_10, 12.0, "op1"),
              QueueEvent("c2", "operators", "join", WED_10), QueueEvent("c2", "operators", "connect", WED_10, 55.0),
              QueueEvent("c3", "operators", "join", WED_10), QueueEvent("c3", "operators", "abandon", WED_10, 45.0),
              QueueEvent("c4", "operators", "join", WED_10), QueueEvent("c4", "operators", "timeout", WED_10, 40.0),
              QueueEvent("c5", "operators", "join", WED_10), QueueEvent("c5", "operators", "abandon", WED_10, 3.0)]
    for e in events:
        asyncio.run(backend.queue_event(e))
    with rt.sessions() as s:
        st = calls.queue_stats(s, WED_10 - timedelta(hours=1), WED_10 + timedelta(hours=1), 40)
    assert (st.joined, st.connected, st.abandoned, st.timed_out) == (5, 2, 2, 1)
    assert st.breaches == 3 and st.mean_hold_s == 33.5 and st.max_hold_s == 55.0


def test_call_summaries_for_reports(rt: Runtime) -> None:
    backend = DbHotlineBackend(rt, clock=lambda: WED_10)
    t = WED_10
    s = timedelta(seconds=1)
    asyncio.run(backend.record_call(CallRecord("c1", "+79990000001", t, t + 200 * s, ["main", "operator"],
                                               t + 15 * s, "operator", survey=5)))
    asyncio.run(backend.record_call(CallRecord("c2", "+79990000002", t, t + 30 * s, ["main", "balance"],
                                               t + 14 * s, "balance")))
    for e in (QueueEvent("c1", "operators", "join", t + timedelta(seconds=20)),
              QueueEvent("c1", "operators", "connect", t + timedelta(seconds=70), 50.0, "op1")):
        asyncio.run(backend.queue_event(e))
    with rt.sessions() as session:
        rows = calls.call_summaries(session, t, t + timedelta(hours=1), 40)
    assert [r["call_id"] for r in rows] == ["c1", "c2"]
    c1, c2 = rows
    assert (c1["to_menu_s"], c1["queue_s"], c1["to_operator_s"]) == (15.0, 50.0, 70.0)
    assert c1["breach"] is True and c1["survey"] == 5
    assert c1["caller"] == "+*********01"
    assert (c2["queue_s"], c2["to_operator_s"], c2["breach"]) == (None, None, False)


def test_housekeeping_and_audited_download(cli_env: Settings, rt: Runtime, users: None, tmp_path: Path) -> None:
    backend = DbHotlineBackend(rt, clock=lambda: WED_10)
    path = backend.recording_path("c1", TaskKind.CALLBACK)
    path.write_bytes(b"RIFF-audio")
    asyncio.run(backend.create_task(NewTask(TaskKind.CALLBACK, "+79990000001", "c1", recording=path)))
    orphan = path.with_name("20250101T000000Z-callback-old.wav")
    orphan.write_bytes(b"x")
    os.utime(orphan, (0, 0))
    with rt.sessions() as s:
        rec_id = s.scalars(select(Recording.id)).one()
    out = tmp_path / "copy.wav"
    assert runner.invoke(app, ["recordings", "get", str(rec_id), "--out", str(out)], env=as_user("spec")).exit_code == 1
    got = runner.invoke(app, ["recordings", "get", str(rec_id), "--out", str(out),
                              "--reason", "callback"], env=as_user("op"))
    assert got.exit_code == 0, got.output
    assert out.read_bytes() == b"RIFF-audio"
    with rt.sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "recording.download")).one()
    assert entry.actor == "op" and entry.entity_id == str(rec_id) and entry.detail["reason"] == "callback"
    assert runner.invoke(app, ["recordings", "purge"], env=as_user("op")).exit_code == 1  # managers purge
    purged = runner.invoke(app, ["recordings", "purge"], env=as_user("mgr"))
    assert purged.exit_code == 0 and "removed 0 recordings" in purged.output and "1 orphan files" in purged.output
    assert path.exists() and not orphan.exists()  # a file no row knows, older than the retention
    retention = rt.settings.hotline.recording_retention_days
    with db.transaction(rt.sessions) as s:  # a day before expiry: kept
        rep = recordings.purge_expired(s, backend.recordings_dir, WED_10 + timedelta(days=retention - 1), retention)
    assert (rep.rows, rep.orphan_files) == (0, 0) and path.exists()
    with db.transaction(rt.sessions) as s:
        rep = recordings.purge_expired(s, backend.recordings_dir, WED_10 + timedelta(days=retention), retention)
    assert rep.rows == 1 and not path.exists()
    with rt.sessions() as s:
        assert s.scalars(select(Recording)).first() is None
    assert runner.invoke(app, ["recordings", "get", str(rec_id), "--out", str(out)], env=as_user("op")).exit_code == 1
