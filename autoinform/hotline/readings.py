"""Meter readings by keypad and SMS (HL-7): checked against the account's previous reading, stored
with their source, exported for the billing system.

Checks, in order (the first that fails is the refusal the caller hears or the SMS answer states):
the account has a customer; the registers match the meter (one value for a single-rate meter, day
and night for a two-rate one, as the account's last reading had them); the same values were not
already taken today; no value is below the previous one; none is more than
hotline.max_reading_increase above it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.orm import Session

from autoinform.importing.export import excel_safe
from autoinform.models import Customer, MeterReading
from ivr.hotline.backend import ReadingRefusal, ReadingResult, ReadingSubmission, Register

SHAPES = (frozenset({Register.SINGLE}), frozenset({Register.DAY, Register.NIGHT}))
MAX_VALUE = 10**10 - 1  # ten digits: no household meter shows more


@dataclass(frozen=True)
class Previous:
    values: dict[Register, int]  # the latest value of each register
    shape: frozenset[Register]  # the registers of the latest submission
    last: dict[Register, int]  # the latest submission's values
    at: datetime


def _previous(rows: Sequence[Any]) -> Previous | None:
    """From the latest rows (register, value, at, call_id), newest first."""
    rows = [r for r in rows if r.register is not None]
    if not rows:
        return None
    first = rows[0]
    values: dict[Register, int] = {}
    for r in rows:
        values.setdefault(Register(r.register), r.value)
    last = {Register(r.register): r.value for r in rows if r.at == first.at and r.call_id == first.call_id}
    return Previous(values, frozenset(last), last, first.at)


_r = MeterReading.__table__.c
_LATEST = (_r.register, _r.value, _r.at, _r.call_id)
_ORDER = (_r.at.desc(), _r.id.desc())
# The customer and its latest rows (six covers a day/night pair three times) in one statement.
_CUSTOMER_AND_LATEST = (select(Customer.__table__.c.id.label("customer"), *_LATEST)
                        .select_from(Customer.__table__.outerjoin(MeterReading.__table__,
                                                                  _r.account == Customer.__table__.c.account))
                        .where(Customer.__table__.c.account == bindparam("account")).order_by(*_ORDER).limit(6))
_LOCK_CUSTOMER = (select(Customer.__table__.c.id).where(Customer.__table__.c.account == bindparam("account"))
                  .with_for_update())
_INSERT = insert(MeterReading).returning(_r.id)
_LATEST_ROWS = select(*_LATEST).where(_r.account == bindparam("account")).order_by(*_ORDER).limit(6)


def previous_reading(conn: Session | Connection, account: str) -> Previous | None:
    return _previous(conn.execute(_LATEST_ROWS, {"account": account}).all())


def check(sub: ReadingSubmission, prev: Previous | None, *, max_increase: int, now: datetime,
          tz: ZoneInfo) -> ReadingRefusal | None:
    """Why this reading is refused, or None (pure: the account is known)."""
    shape = frozenset(sub.values)
    if shape not in SHAPES or (prev is not None and shape != prev.shape):
        return ReadingRefusal.WRONG_REGISTERS
    if any(v < 0 or v > MAX_VALUE for v in sub.values.values()):
        return ReadingRefusal.IMPLAUSIBLE
    if prev is None:
        return None
    if prev.last == dict(sub.values) and prev.at.astimezone(tz).date() == now.astimezone(tz).date():
        return ReadingRefusal.DUPLICATE
    if any(v < prev.values[r] for r, v in sub.values.items()):
        return ReadingRefusal.BELOW_PREVIOUS
    if any(v > prev.values[r] + max_increase for r, v in sub.values.items()):
        return ReadingRefusal.IMPLAUSIBLE
    return None


def submit(conn: Session | Connection, sub: ReadingSubmission, *, max_increase: int, now: datetime,
           tz: ZoneInfo) -> ReadingResult:
    """Check and store in the caller's write transaction, in as few statements as the database
    allows. Two submissions for one account are checked one after the other: on SQLite the write
    transaction (BEGIN IMMEDIATE) already holds the file's write lock, so the customer and its latest
    readings come in one statement; on PostgreSQL the customer row is locked first and the readings
    read by a second statement, whose fresh snapshot (READ COMMITTED) sees what the previous holder
    of the lock committed."""
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "sqlite":
        rows = conn.execute(_CUSTOMER_AND_LATEST, {"account": sub.account}).all()
        if not rows:
            return ReadingResult(False, ReadingRefusal.UNKNOWN_ACCOUNT)
        prev = _previous(rows)
    else:
        if conn.execute(_LOCK_CUSTOMER, {"account": sub.account}).first() is None:
            return ReadingResult(False, ReadingRefusal.UNKNOWN_ACCOUNT)
        prev = previous_reading(conn, sub.account)
    previous = dict(prev.values) if prev else {}
    refusal = check(sub, prev, max_increase=max_increase, now=now, tz=tz)
    if refusal is not None:
        return ReadingResult(False, refusal, previous)
    rows_in = [{"account": sub.account, "register": reg.value, "value": value, "source": sub.source.value,
                "call_id": sub.call_id, "caller": sub.caller[:32], "at": now}
               for reg, value in sorted(sub.values.items())]
    ids = conn.execute(_INSERT, rows_in).scalars().all()
    return ReadingResult(True, None, previous, min(ids))


# --- export for the billing system -------------------------------------------------------------

EXPORT_HEADER = ("Лицевой счёт", "Зона", "Показание", "Дата и время", "Источник")
ZONE_LABELS = {"single": "однотарифный", "day": "день", "night": "ночь"}


def readings_since(session: Session, since: datetime, until: datetime | None = None) -> Iterator[MeterReading]:
    stmt = select(MeterReading).where(MeterReading.at >= since)
    if until is not None:
        stmt = stmt.where(MeterReading.at < until)
    yield from session.scalars(stmt.order_by(MeterReading.at, MeterReading.id).execution_options(yield_per=2000))


def write_export(out: IO[str], rows: Iterator[MeterReading], tz: ZoneInfo) -> int:
    """CSV (`;`, CRLF) with every cell formula-safe; the caller's number is not exported (AI-19)."""
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow(EXPORT_HEADER)
    n = 0
    for r in rows:
        at = r.at.astimezone(tz).strftime("%d.%m.%Y %H:%M:%S")
        w.writerow([excel_safe(v) for v in (r.account, ZONE_LABELS.get(r.register, r.register), r.value, at,
                                            r.source)])
        n += 1
    return n

