"""What the `/hotline` flow needs from the engine, as a Protocol and plain values.

The engine implements it over the database (autoinform/hotline/backend.py); the flow's fast tests
use an in-memory one. Every method that may touch storage is async (the implementation runs the
database work off the event loop); `now` and `reception` are pure and cheap.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Reception:
    """Whether the hotline takes calls at an instant (HL-2), and when that changes."""

    open: bool
    closes_at: datetime | None  # when open
    opens_at: datetime | None  # when closed: the start of the next reception hours


@dataclass(frozen=True)
class AccountInfo:
    account: str
    customer_id: int
    division: str | None = None


@dataclass(frozen=True)
class Balance:
    """From the latest billing export (HL-8): amount > 0 is a debt, < 0 an overpayment."""

    account: str
    amount: Decimal
    as_of: date


class Register(enum.StrEnum):
    SINGLE = "single"
    DAY = "day"
    NIGHT = "night"


class ReadingSource(enum.StrEnum):
    PHONE = "phone"
    SMS = "sms"


@dataclass(frozen=True)
class ReadingSubmission:
    """One meter reading, or a day/night pair, as the caller or the SMS gave it (HL-7)."""

    account: str
    values: dict[Register, int]  # {SINGLE: v} or {DAY: d, NIGHT: n}
    source: ReadingSource
    caller: str  # the number it came from
    call_id: str | None = None  # Asterisk's uniqueid of the call, or the SMS's MessageSid


class ReadingRefusal(enum.StrEnum):
    UNKNOWN_ACCOUNT = "unknown_account"
    BELOW_PREVIOUS = "below_previous"
    IMPLAUSIBLE = "implausible"  # more above the previous than the configured limit
    WRONG_REGISTERS = "wrong_registers"  # a pair for a single-rate meter, or the reverse
    DUPLICATE = "duplicate"  # the same values for the same account already taken today


@dataclass(frozen=True)
class ReadingResult:
    accepted: bool
    refusal: ReadingRefusal | None = None
    previous: dict[Register, int] = field(default_factory=dict)
    reading_id: int | None = None


class TaskKind(enum.StrEnum):
    CALLBACK = "callback"  # after hours or after the queue's limit (HL-2, HL-4)
    FEEDBACK = "feedback"  # HL-9
    COMPLAINT = "complaint"  # HL-9
    SUGGESTION = "suggestion"  # HL-9
    VISIT = "visit"  # HL-10: an appointment request


@dataclass(frozen=True)
class NewTask:
    kind: TaskKind
    caller: str
    call_id: str  # Asterisk's uniqueid
    account: str | None = None
    recording: Path | None = None  # a path recording_path() gave; None when nothing was recorded
    note: str = ""  # e.g. "after hours", "queue timeout"


@dataclass
class CallRecord:
    """One hotline call (HL-5), written as it is answered (no end yet) and complete at its end
    (`call_id` is Asterisk's uniqueid; a caller back from the queue continues the same record, so
    writes are upserts by call_id)."""

    call_id: str
    caller: str
    started_at: datetime
    ended_at: datetime | None = None
    menu_path: list[str] = field(default_factory=list)  # item ids in the order visited
    menu_reached_at: datetime | None = None
    # info, balance, reading, task, operator, operator_timeout, after_hours, hung_up, no_input
    outcome: str = ""
    account: str | None = None
    survey: int | None = None  # HL-11: the one-key answer
    after_hours: bool = False


@dataclass(frozen=True)
class QueueEvent:
    """What the queue's AMI events say about one caller (HL-4, HL-5), by the caller's uniqueid."""

    call_id: str
    queue: str
    kind: str  # join | connect | abandon | timeout
    at: datetime
    hold_s: float | None = None  # AgentConnect HoldTime / QueueCallerAbandon HoldTime
    member: str | None = None


class HotlineBackend(Protocol):
    def now(self) -> datetime: ...

    def reception(self, at: datetime) -> Reception: ...

    async def find_account(self, account: str) -> AccountInfo | None: ...

    async def balance(self, account: str) -> Balance | None: ...

    async def submit_reading(self, reading: ReadingSubmission) -> ReadingResult: ...

    def recording_path(self, call_id: str, kind: TaskKind) -> Path:
        """Where to record: under the configured folder, a name the engine makes (never caller
        input); the folder exists."""
        ...

    async def create_task(self, task: NewTask) -> int: ...

    async def record_call(self, record: CallRecord) -> None: ...

    async def queue_event(self, event: QueueEvent) -> None: ...
