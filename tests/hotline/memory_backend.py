"""An in-memory HotlineBackend for the flow's tests: behaves as the Protocol's docstrings say
(ivr/hotline/backend.py), with a clock the test sets.

Reception (HL-2) follows HotlineSettings: hours per weekday, public holidays and moved days off of
the Russian calendar closed unless `holidays_open`. Readings are refused as the engine refuses
them: unknown account, below the previous, more above it than `max_reading_increase`, the wrong
registers for the meter, the same values already taken today.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from autoinform.calendar import holiday_name
from autoinform.config import HotlineSettings
from ivr.hotline.backend import (
    AccountInfo,
    Balance,
    CallRecord,
    NewTask,
    QueueEvent,
    ReadingRefusal,
    ReadingResult,
    ReadingSubmission,
    Reception,
    Register,
    TaskKind,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
AST = ZoneInfo("Europe/Astrakhan")


@dataclass
class Customer:
    account: str
    balance: Balance | None = None
    two_rate: bool = False  # a day/night meter
    previous: dict[Register, int] = field(default_factory=dict)


@dataclass
class MemoryBackend:
    recordings: Path
    settings: HotlineSettings = field(default_factory=HotlineSettings)
    clock: datetime = datetime(2026, 12, 2, 12, 0, tzinfo=AST)  # a Wednesday, open
    customers: dict[str, Customer] = field(default_factory=dict)
    readings: list[tuple[int, ReadingSubmission]] = field(default_factory=list)
    tasks: list[NewTask] = field(default_factory=list)
    calls: dict[str, CallRecord] = field(default_factory=dict)
    call_writes: int = 0
    queue_events: list[QueueEvent] = field(default_factory=list)
    _taken_today: set[tuple[str, tuple[tuple[str, int], ...], date]] = field(default_factory=set)
    _recording_no: int = 0

    def add(self, account: str, *, debt: str | None = None, as_of: date = date(2026, 11, 30),
            two_rate: bool = False, previous: dict[Register, int] | None = None) -> Customer:
        balance = Balance(account, Decimal(debt), as_of) if debt is not None else None
        self.customers[account] = Customer(account, balance, two_rate, dict(previous or {}))
        return self.customers[account]

    # --- the Protocol ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock

    def _span(self, day: date) -> tuple[datetime, datetime] | None:
        hours = self.settings.hours.get(WEEKDAYS[day.weekday()])
        if hours is None or (not self.settings.holidays_open and holiday_name(day) is not None):
            return None
        start, end = (time.fromisoformat(t) for t in hours.split("-"))
        return datetime.combine(day, start, AST), datetime.combine(day, end, AST)

    def reception(self, at: datetime) -> Reception:
        local = at.astimezone(AST)
        span = self._span(local.date())
        if span is not None and span[0] <= local < span[1]:
            return Reception(True, span[1], None)
        for ahead in range(0, 40):
            day = local.date() + timedelta(days=ahead)
            span = self._span(day)
            if span is not None and span[0] > local:
                return Reception(False, None, span[0])
        return Reception(False, None, None)

    async def find_account(self, account: str) -> AccountInfo | None:
        return AccountInfo(account, 1000 + len(account)) if account in self.customers else None

    async def balance(self, account: str) -> Balance | None:
        customer = self.customers.get(account)
        return customer.balance if customer else None

    async def submit_reading(self, reading: ReadingSubmission) -> ReadingResult:
        customer = self.customers.get(reading.account)
        if customer is None:
            return ReadingResult(False, ReadingRefusal.UNKNOWN_ACCOUNT)
        wanted = {Register.DAY, Register.NIGHT} if customer.two_rate else {Register.SINGLE}
        if set(reading.values) != wanted:
            return ReadingResult(False, ReadingRefusal.WRONG_REGISTERS, dict(customer.previous))
        for reg, value in reading.values.items():
            before = customer.previous.get(reg)
            if before is not None and value < before:
                return ReadingResult(False, ReadingRefusal.BELOW_PREVIOUS, dict(customer.previous))
            if before is not None and value - before > self.settings.max_reading_increase:
                return ReadingResult(False, ReadingRefusal.IMPLAUSIBLE, dict(customer.previous))
        key = (reading.account, tuple(sorted((r.value, v) for r, v in reading.values.items())), self.clock.date())
        if key in self._taken_today:
            return ReadingResult(False, ReadingRefusal.DUPLICATE, dict(customer.previous))
        self._taken_today.add(key)
        previous = dict(customer.previous)
        customer.previous = dict(reading.values)
        self.readings.append((len(self.readings) + 1, reading))
        return ReadingResult(True, None, previous, len(self.readings))

    def recording_path(self, call_id: str, kind: TaskKind) -> Path:
        self.recordings.mkdir(parents=True, exist_ok=True)
        self._recording_no += 1
        safe = "".join(c if c.isalnum() else "_" for c in call_id)  # never caller input, but be sure
        return self.recordings / f"{safe}-{kind.value}-{self._recording_no}.wav"

    async def create_task(self, task: NewTask) -> int:
        self.tasks.append(task)
        return len(self.tasks)

    async def record_call(self, record: CallRecord) -> None:
        self.call_writes += 1
        self.calls[record.call_id] = replace(record, menu_path=list(record.menu_path))

    async def queue_event(self, event: QueueEvent) -> None:
        self.queue_events.append(event)
