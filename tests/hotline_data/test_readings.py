"""Meter readings (HL-7): every refusal the standard's checks call for, the source stored, and the
export for billing."""

from __future__ import annotations

import asyncio
import csv
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.config import Settings
from autoinform.hotline.backend import DbHotlineBackend
from autoinform.models import AuditEntry, MeterReading
from autoinform.runtime import Runtime
from ivr.hotline.backend import ReadingRefusal, ReadingResult, ReadingSource, ReadingSubmission, Register
from tests.cli_actors import as_user
from tests.hotline_data.conftest import WED_10, AddCustomer

runner = CliRunner()
S, D, N = Register.SINGLE, Register.DAY, Register.NIGHT


class Clock:
    def __init__(self) -> None:
        self.now = WED_10

    def __call__(self) -> object:
        return self.now


def submit(backend: DbHotlineBackend, account: str, values: dict[Register, int],
           source: ReadingSource = ReadingSource.PHONE, call_id: str = "1764660901.1") -> ReadingResult:
    return asyncio.run(backend.submit_reading(ReadingSubmission(account, values, source, "+79990000001", call_id)))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def backend(rt: Runtime, clock: Clock) -> DbHotlineBackend:
    return DbHotlineBackend(rt, clock=clock)  # type: ignore[arg-type]


def test_checks_in_order(rt: Runtime, backend: DbHotlineBackend, clock: Clock, add_customer: AddCustomer) -> None:
    add_customer("100001")
    assert submit(backend, "999", {S: 1}).refusal is ReadingRefusal.UNKNOWN_ACCOUNT
    assert submit(backend, "100001", {D: 1}).refusal is ReadingRefusal.WRONG_REGISTERS  # day without night
    first = submit(backend, "100001", {S: 4567})
    assert first.accepted and first.reading_id is not None and first.previous == {}
    # the same values again the same day: a duplicate, not a second row
    assert submit(backend, "100001", {S: 4567}).refusal is ReadingRefusal.DUPLICATE
    assert submit(backend, "100001", {D: 4600, N: 100}).refusal is ReadingRefusal.WRONG_REGISTERS
    below = submit(backend, "100001", {S: 4566})
    assert below.refusal is ReadingRefusal.BELOW_PREVIOUS and below.previous == {S: 4567}
    assert submit(backend, "100001", {S: 4567 + 5001}).refusal is ReadingRefusal.IMPLAUSIBLE  # limit 5000
    clock.now += timedelta(days=1)
    assert submit(backend, "100001", {S: 4567}).accepted  # the same value a day later: nothing used
    ok = submit(backend, "100001", {S: 4567 + 5000}, ReadingSource.SMS, "SM123")
    assert ok.accepted and ok.previous == {S: 4567}
    with rt.sessions() as s:
        rows = s.scalars(select(MeterReading).order_by(MeterReading.id)).all()
    assert [(r.register, r.value, r.source, r.call_id) for r in rows] == [
        ("single", 4567, "phone", "1764660901.1"), ("single", 4567, "phone", "1764660901.1"),
        ("single", 9567, "sms", "SM123")]
    assert rows[0].caller == "+79990000001" and rows[0].at == WED_10


def test_day_and_night(backend: DbHotlineBackend, clock: Clock, add_customer: AddCustomer) -> None:
    add_customer("100002")
    assert submit(backend, "100002", {D: 1000, N: 500}).accepted
    clock.now += timedelta(days=30)
    assert submit(backend, "100002", {S: 2000}).refusal is ReadingRefusal.WRONG_REGISTERS
    night_below = submit(backend, "100002", {D: 1200, N: 499})
    assert night_below.refusal is ReadingRefusal.BELOW_PREVIOUS and night_below.previous == {D: 1000, N: 500}
    assert submit(backend, "100002", {D: 1200, N: 600}).accepted


def test_export_for_billing(cli_env: Settings, rt: Runtime, backend: DbHotlineBackend, clock: Clock, users: None,
                           add_customer: AddCustomer, tmp_path: Path) -> None:
    add_customer("100001")
    add_customer("100002")
    submit(backend, "100001", {S: 4567})
    clock.now += timedelta(days=2)
    submit(backend, "100002", {D: 1000, N: 500}, ReadingSource.SMS, "SM1")
    out = tmp_path / "readings.csv"
    result = runner.invoke(app, ["readings", "export", "--since", "2026-12-03", "--out", str(out)], env=as_user("spec"))
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert rows[0][0] == "Лицевой счёт"
    assert [[*r[:3], r[4]] for r in rows[1:]] == [["100002", "день", "1000", "sms"], ["100002", "ночь", "500", "sms"]]
    assert rows[1][3] == "04.12.2026 10:00:00"  # local time
    assert "+7999" not in out.read_text(encoding="utf-8-sig")  # callers' numbers are not exported
    everything = runner.invoke(app, ["readings", "export", "--since", "01.12.2026"], env=as_user("mgr"))
    assert everything.exit_code == 0 and everything.stdout.count("\n") == 4
    assert runner.invoke(app, ["readings", "export", "--since", "yesterday"], env=as_user("mgr")).exit_code == 2
    assert runner.invoke(app, ["readings", "export", "--since", "2026-12-01"], env=as_user("op")).exit_code == 1
    with rt.sessions() as s:
        assert len(s.scalars(select(AuditEntry).where(AuditEntry.action == "readings.export")).all()) == 2


def test_export_cells_are_formula_safe() -> None:
    import io

    from autoinform.hotline.readings import write_export
    from autoinform.models import MeterReading as R

    buf = io.StringIO()
    row = R(account="1", register="=cmd|' /C calc'!A0", value=1, source="@sms", at=WED_10)
    write_export(buf, iter([row]), Settings().tz)
    line = buf.getvalue().splitlines()[1].split(";")
    assert line[1].startswith("'=") and line[4] == "'@sms"
