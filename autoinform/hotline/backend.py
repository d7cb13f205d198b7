"""DbHotlineBackend: the HotlineBackend protocol (ivr/hotline/backend.py) over the database.

The async methods run their database work in the backend's own threads so the FastAGI loop never
waits on storage: one thread on SQLite, where a second writer would only wait on the file lock, a
few on PostgreSQL (`DB_THREADS`). `now`, `reception` and `recording_path` are cheap and
synchronous. The clock is injectable (tests use a fixed one). `hotline_backend(rt)` is what the
engine hands to the `/hotline` flow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from autoinform import changes, db
from autoinform.accounts import parse_account
from autoinform.errors import ConfigError
from autoinform.hotline import calls, readings, recordings, tasks
from autoinform.hotline.hours import ReceptionHours
from autoinform.logs import mask_phone
from autoinform.models import AccountBalance, Customer, Division
from autoinform.runtime import Runtime
from ivr.hotline.backend import (
    AccountInfo,
    Balance,
    CallRecord,
    NewTask,
    QueueEvent,
    ReadingResult,
    ReadingSubmission,
    Reception,
    TaskKind,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
DB_THREADS = 8  # on PostgreSQL; SQLite gets one


def reception_hours(rt: Runtime) -> ReceptionHours:
    h = rt.settings.hotline
    try:
        return ReceptionHours.from_setting(h.hours, rt.settings.tz, holidays_open=h.holidays_open,
                                           country=rt.settings.window.country)
    except ValueError as exc:  # the settings validator catches these first; a clear error anyway
        raise ConfigError(str(exc)) from None


class DbHotlineBackend:
    def __init__(self, rt: Runtime, *, clock: Callable[[], datetime] | None = None) -> None:
        self.rt = rt
        self.settings = rt.settings.hotline
        self.hours = reception_hours(rt)
        self.deadlines = tasks.Deadlines(self.hours, self.settings)
        self._clock = clock or (lambda: datetime.now(UTC))
        threads = 1 if rt.engine.dialect.name == "sqlite" else DB_THREADS
        self._db = ThreadPoolExecutor(threads, thread_name_prefix="hotline-db")
        self.recordings_dir = self.settings.recordings_dir.resolve()
        try:
            self.recordings_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"hotline.recordings_dir {self.recordings_dir}: {exc.strerror}") from None

    # --- pure ------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock().astimezone(self.hours.tz)

    def reception(self, at: datetime) -> Reception:
        """Times in the hotline's zone (a flow that speaks "opens at 8" reads the local hour)."""
        is_open, closes_at, opens_at = self.hours.reception(at)
        tz = self.hours.tz
        return Reception(is_open, closes_at.astimezone(tz) if closes_at else None,
                         opens_at.astimezone(tz) if opens_at else None)

    def recording_path(self, call_id: str, kind: TaskKind) -> Path:
        return self.recordings_dir / recordings.recording_name(call_id, kind.value, self.now())

    # --- storage ---------------------------------------------------------------------------

    async def _read(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with self.rt.sessions() as s:
                return work(s)
        return await asyncio.get_running_loop().run_in_executor(self._db, run)

    async def _write(self, work: Callable[[Session], T], *, shown: bool = False) -> T:
        """`shown`: the hotline pages show what this writes (calls, queue, tasks); they are told
        in the same transaction (autoinform/changes.py, issue 12)."""
        def run() -> T:
            with db.transaction(self.rt.sessions) as s:
                result = work(s)
                if shown:
                    changes.announce(s)
                return result
        return await asyncio.get_running_loop().run_in_executor(self._db, run)

    def close(self) -> None:
        self._db.shutdown(wait=True)

    async def find_account(self, account: str) -> AccountInfo | None:
        try:
            key = parse_account(account)
        except ValueError:
            return None

        def work(s: Session) -> AccountInfo | None:
            row = s.execute(select(Customer.id, Division.code).outerjoin(Division, Customer.division_id == Division.id)
                            .where(Customer.account == key)).first()
            return None if row is None else AccountInfo(key, row[0], row[1])
        return await self._read(work)

    async def balance(self, account: str) -> Balance | None:
        def work(s: Session) -> Balance | None:
            row = s.get(AccountBalance, account)
            if row is None:
                return None
            return Balance(row.account, Decimal(row.amount_kopecks).scaleb(-2), row.as_of)
        return await self._read(work)

    async def submit_reading(self, reading: ReadingSubmission) -> ReadingResult:
        now = self.now()

        def work(s: Session) -> ReadingResult:
            return readings.submit(s, reading, max_increase=self.settings.max_reading_increase, now=now,
                                   tz=self.rt.settings.tz)
        result = await self._write(work)
        log.info("reading for %s from %s by %s: %s", reading.account, mask_phone(reading.caller),
                 reading.source.value, "accepted" if result.accepted else result.refusal,
                 extra={"call_id": reading.call_id})
        return result

    async def create_task(self, task: NewTask) -> int:
        if task.recording is not None and not recordings.inside(self.recordings_dir, task.recording):
            raise ValueError(f"recording {task.recording} is not under {self.recordings_dir}")
        now = self.now()
        deadline = self.deadlines.for_kind(task.kind, now)

        def work(s: Session) -> int:
            return tasks.create(s, task, deadline, now, retention_days=self.settings.recording_retention_days).id
        task_id = await self._write(work, shown=True)
        log.info("task %d (%s) from %s, deadline %s", task_id, task.kind.value, mask_phone(task.caller),
                 deadline.isoformat(), extra={"call_id": task.call_id})
        return task_id

    async def record_call(self, record: CallRecord) -> None:
        def work(s: Session) -> None:
            calls.upsert_call(s, record)
        try:
            await self._write(work, shown=True)
        except IntegrityError:  # the same call written at the same instant by another session
            await self._write(work, shown=True)

    async def queue_event(self, event: QueueEvent) -> None:
        await self._write(lambda s: calls.add_queue_event(s, event), shown=True)


def hotline_backend(rt: Runtime) -> DbHotlineBackend:
    """The backend the engine's `run` hands to the `/hotline` flow."""
    return DbHotlineBackend(rt)
