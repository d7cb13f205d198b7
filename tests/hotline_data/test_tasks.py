"""Hotline tasks (HL-2, HL-9, HL-10, QI-2): deadlines by kind on a fake clock, operators' list /
take / done, overdue tasks reported, recordings registered with their task."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from autoinform import db
from autoinform.cli import app
from autoinform.config import Settings
from autoinform.hotline import tasks
from autoinform.hotline.backend import DbHotlineBackend
from autoinform.models import AuditEntry, HotlineTask, Recording
from autoinform.runtime import Runtime
from ivr.hotline.backend import NewTask, TaskKind
from tests.cli_actors import as_user

runner = CliRunner()
TZ = ZoneInfo("Europe/Astrakhan")


def local(d: int, h: int, mi: int = 0, mo: int = 12) -> datetime:
    return datetime(2026, mo, d, h, mi, tzinfo=TZ)


def make(rt: Runtime, at: datetime, kind: TaskKind, **kw: object) -> tuple[int, DbHotlineBackend]:
    backend = DbHotlineBackend(rt, clock=lambda: at)
    task = NewTask(kind=kind, caller="+79990000001", call_id="1764660901.7", **kw)  # type: ignore[arg-type]
    return asyncio.run(backend.create_task(task)), backend


@pytest.mark.parametrize(("at", "kind", "deadline"), [
    # after hours on Friday 20:01: 8 reception hours from Monday 08:00
    (local(4, 20, 1), TaskKind.CALLBACK, local(7, 16, 0)),
    # the queue's limit passed on Wednesday 15:00: 2 h today, 6 h on Thursday
    (local(2, 15, 0), TaskKind.CALLBACK, local(3, 14, 0)),
    # a visit request on Friday: by the close of Monday
    (local(4, 10, 0), TaskKind.VISIT, local(7, 17, 0)),
    # a complaint: 30 working days (to the end of 22 January); 31 Dec and 1-8 Jan are days off
    (local(2, 10, 0), TaskKind.COMPLAINT, datetime(2027, 1, 23, 0, 0, tzinfo=TZ)),
])
def test_deadlines_by_kind(rt: Runtime, at: datetime, kind: TaskKind, deadline: datetime) -> None:
    task_id, _ = make(rt, at, kind)
    with rt.sessions() as s:
        row = s.get(HotlineTask, task_id)
    assert row is not None and row.deadline == deadline and row.state == "open" and row.kind == kind.value


def test_a_recording_becomes_part_of_the_task(rt: Runtime) -> None:
    at = local(4, 20, 1)
    backend = DbHotlineBackend(rt, clock=lambda: at)
    path = backend.recording_path("1764660901.7", TaskKind.CALLBACK)
    path.write_bytes(b"RIFF")
    task_id = asyncio.run(backend.create_task(NewTask(TaskKind.CALLBACK, "+79990000001", "1764660901.7",
                                                      recording=path, note="after hours")))
    with rt.sessions() as s:
        rec = s.scalars(select(Recording)).one()
    assert rec.task_id == task_id and rec.path == str(path)
    assert rec.expires_at == at + timedelta(days=rt.settings.hotline.recording_retention_days)
    with pytest.raises(ValueError, match="not under"):
        outside = rt.settings.var_dir / "a.wav"
        asyncio.run(backend.create_task(NewTask(TaskKind.CALLBACK, "+7999", "x", recording=outside)))


def test_take_and_done_rules(rt: Runtime) -> None:
    task_id, _ = make(rt, local(2, 10, 0), TaskKind.CALLBACK)
    now = local(2, 11, 0)
    with db.transaction(rt.sessions) as s:
        tasks.take(s, task_id, "op", now)
    with db.transaction(rt.sessions) as s:
        tasks.take(s, task_id, "op2", now)  # taken over
    with db.transaction(rt.sessions) as s:
        row = tasks.done(s, task_id, "op2", tasks.TaskOutcome.REACHED, now, "explained the bill")
        assert row.taken_by == "op2" and row.state == "done"
    with pytest.raises(tasks.TaskError, match="already done"), db.transaction(rt.sessions) as s:
        tasks.take(s, task_id, "op", now)
    with rt.sessions() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.entity == "hotline_task").order_by(AuditEntry.id)).all()
    assert [a.action for a in audit] == ["task.take", "task.take", "task.done"]
    assert audit[1].detail == {"taken_over_from": "op"} and audit[2].detail["late"] is False


def test_overdue_report(rt: Runtime) -> None:
    a, _ = make(rt, local(2, 10, 0), TaskKind.CALLBACK)  # by Wednesday 17:00: past at Thursday noon
    b, _ = make(rt, local(2, 10, 0), TaskKind.VISIT)  # by Thursday 17:00
    c, _ = make(rt, local(2, 10, 0), TaskKind.CALLBACK)
    later = local(3, 12, 0)
    with db.transaction(rt.sessions) as s:
        tasks.done(s, c, "op", tasks.TaskOutcome.NOT_REACHED, local(2, 16, 0))
    with rt.sessions() as s:
        rep = tasks.overdue_report(s, later)
        overdue = [t.id for t in tasks.listing(s, now=later, overdue=True)]
    assert overdue == [a]
    assert (rep.done_on_time, rep.done_late, rep.open_overdue, rep.open_in_time) == (1, 0, 1, 1)
    assert rep.by_kind == {"callback": 1} and rep.on_time_share == 0.5
    assert b


def test_cli_list_take_done(cli_env: Settings, rt: Runtime, users: None) -> None:
    now = datetime.now(UTC)
    task_id, _ = make(rt, now - timedelta(days=20), TaskKind.CALLBACK, account="100001")
    fresh, _ = make(rt, now, TaskKind.COMPLAINT)
    listed = runner.invoke(app, ["callbacks", "list", "--json"], env=as_user("op"))
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == [task_id, fresh] and rows[0]["overdue"] and not rows[1]["overdue"]
    assert rows[0]["caller"] == "+*********01"  # masked
    overdue = json.loads(runner.invoke(app, ["callbacks", "list", "--overdue", "--json"], env=as_user("op")).stdout)
    assert [r["id"] for r in overdue] == [task_id]
    assert runner.invoke(app, ["callbacks", "list"], env=as_user("spec")).exit_code == 1  # not an operator
    took = runner.invoke(app, ["callbacks", "take", str(task_id)], env=as_user("op"))
    assert took.exit_code == 0 and "+79990000001" in took.output  # the operator needs the number
    no_outcome = runner.invoke(app, ["callbacks", "done", str(task_id)], env=as_user("op"))
    assert no_outcome.exit_code == 2 and "--outcome is required" in no_outcome.output
    bad = runner.invoke(app, ["callbacks", "done", str(task_id), "--outcome", "maybe"], env=as_user("op"))
    assert bad.exit_code == 2
    done = runner.invoke(app, ["callbacks", "done", str(task_id), "--outcome", "wrong_number",
                               "--note", "номер не существует"], env=as_user("op"))
    assert done.exit_code == 0 and "after its deadline" in done.output
    again = runner.invoke(app, ["callbacks", "done", str(task_id), "--outcome", "reached"], env=as_user("op"))
    assert again.exit_code == 1 and "already done" in again.output
    assert runner.invoke(app, ["callbacks", "take", "999"], env=as_user("op")).exit_code == 1
    report = json.loads(runner.invoke(app, ["callbacks", "report", "--json"], env=as_user("mgr")).stdout)
    assert report["done_late"] == 1 and report["open_in_time"] == 1 and report["open_overdue"] == 0
