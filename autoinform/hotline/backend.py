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
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import DBAPIError, IntegrityError
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
# How long find_account's answer (with the balance fetched by the same query) serves the same
# account's next find_account and balance: the length of one menu choice, so a billing import is
# heard at most this late; a reading is still checked against the customer table when submitted.
ACCOUNT_CACHE_S = 10.0
ACCOUNT_CACHE_MAX = 10000

_c, _b = Customer.__table__.c, AccountBalance.__table__.c
_ACCOUNT = (select(_c.id, Division.__table__.c.code, _b.amount_kopecks, _b.as_of)
            .select_from(Customer.__table__.outerjoin(Division.__table__, _c.division_id == Division.__table__.c.id)
                         .outerjoin(AccountBalance.__table__, _b.account == _c.account))
            .where(_c.account == bindparam("account")))
_BALANCE = select(_b.amount_kopecks, _b.as_of).where(_b.account == bindparam("account"))


def _balance(account: str, kopecks: int | None, as_of: date | None) -> Balance | None:
    return None if kopecks is None or as_of is None else Balance(account, Decimal(kopecks).scaleb(-2), as_of)


def reception_hours(rt: Runtime) -> ReceptionHours:
    h = rt.settings.hotline
    try:
        return ReceptionHours.from_setting(h.hours, rt.settings.tz, holidays_open=h.holidays_open,
                                           country=rt.settings.window.country)
    except ValueError as exc:  # the settings validator catches these first; a clear error anyway
        raise ConfigError(str(exc)) from None


class DbHotlineBackend:
    def __init__(self, rt: Runtime, *, clock: Callable[[], datetime] | None = None,
                 threads: int | None = None) -> None:
        self.rt = rt
        self.settings = rt.settings.hotline
        self.hours = reception_hours(rt)
        self.deadlines = tasks.Deadlines(self.hours, self.settings)
        self._clock = clock or (lambda: datetime.now(UTC))
        sqlite = rt.engine.dialect.name == "sqlite"
        threads = threads or (1 if sqlite else DB_THREADS)
        # SQLite's begin hook issues BEGIN itself (autoinform/db.py), which autocommit would leave open
        self._autocommit = not sqlite
        # The hot paths' own engine on PostgreSQL: a pool of one connection a thread and no ping on
        # checkout (a SELECT 1 round trip each time, ~0.3 ms of CPU); _core retries a dead connection.
        self._engine = rt.engine if sqlite else db.make_engine(
            rt.settings.database_url, pool_pre_ping=False, pool_size=threads, max_overflow=0)
        self._db = ThreadPoolExecutor(threads, thread_name_prefix="hotline-db")
        # account -> (monotonic expiry, account, balance); touched on the event loop's thread only
        self._accounts: dict[str, tuple[float, AccountInfo, Balance | None]] = {}
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

    def _core(self, work: Callable[[Connection], T], *, write: bool, one_statement: bool) -> T:
        """Run `work` on a connection of the backend's engine (in a database thread). Reads and
        single-statement writes on PostgreSQL in autocommit (no BEGIN/COMMIT round trips; the server
        commits a statement durably before it answers); other writes in a transaction (IMMEDIATE on
        SQLite, as db.transaction), committed before this returns. A connection found dead (the
        engine does not ping on checkout) is retried once on a fresh one, unless it died during the
        COMMIT, whose outcome is then unknown and reported."""
        for attempt in (0, 1):
            committing = False
            try:
                with self._engine.connect() as conn:
                    if self._autocommit and (not write or one_statement):
                        conn.execution_options(isolation_level="AUTOCOMMIT")
                        return work(conn)
                    if write:
                        conn.execution_options(**{db.WRITE_OPTION: True})
                    with conn.begin():
                        result = work(conn)
                        committing = write
                    return result
            except DBAPIError as exc:
                if attempt or committing or not exc.connection_invalidated:
                    raise
                log.warning("hotline: database connection lost (%s); retrying on a new one", type(exc.orig).__name__)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read_core(self, work: Callable[[Connection], T]) -> T:
        """Hot reads, one statement each: Core, no ORM session."""
        return await asyncio.get_running_loop().run_in_executor(
            self._db, lambda: self._core(work, write=False, one_statement=True))

    async def _write_core(self, work: Callable[[Connection], T], *, one_statement: bool = False) -> T:
        """Hot writes, committed before this returns. A single-statement write must be safe to
        repeat (it may run twice when the connection dies after the server ran it)."""
        return await asyncio.get_running_loop().run_in_executor(
            self._db, lambda: self._core(work, write=True, one_statement=one_statement))

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
        if self._engine is not self.rt.engine:
            self._engine.dispose()

    def _cached(self, account: str) -> tuple[AccountInfo, Balance | None] | None:
        hit = self._accounts.get(account)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1], hit[2]

    def _remember(self, info: AccountInfo, balance: Balance | None) -> None:
        now = time.monotonic()
        if len(self._accounts) >= ACCOUNT_CACHE_MAX:
            self._accounts = {k: v for k, v in self._accounts.items() if v[0] >= now}
            if len(self._accounts) >= ACCOUNT_CACHE_MAX:
                self._accounts.clear()
        self._accounts[info.account] = (now + ACCOUNT_CACHE_S, info, balance)

    async def find_account(self, account: str) -> AccountInfo | None:
        """The customer, its division and its balance in one query; remembered for ACCOUNT_CACHE_S
        (an unknown account is not: one imported meanwhile is found on the caller's next try)."""
        try:
            key = parse_account(account)
        except ValueError:
            return None
        if (hit := self._cached(key)) is not None:
            return hit[0]

        def work(conn: Connection) -> tuple[AccountInfo, Balance | None] | None:
            row = conn.execute(_ACCOUNT, {"account": key}).first()
            return None if row is None else (AccountInfo(key, row[0], row[1]), _balance(key, row[2], row[3]))
        found = await self._read_core(work)
        if found is None:
            return None
        self._remember(*found)
        return found[0]

    async def balance(self, account: str) -> Balance | None:
        if (hit := self._cached(account)) is not None:
            return hit[1]

        def work(conn: Connection) -> Balance | None:
            row = conn.execute(_BALANCE, {"account": account}).first()
            return None if row is None else _balance(account, row[0], row[1])
        return await self._read_core(work)

    async def submit_reading(self, reading: ReadingSubmission) -> ReadingResult:
        """Committed when this returns: a caller told "accepted" has the reading stored."""
        now = self.now()

        def work(conn: Connection) -> ReadingResult:
            return readings.submit(conn, reading, max_increase=self.settings.max_reading_increase, now=now,
                                   tz=self.rt.settings.tz)
        result = await self._write_core(work)
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
        """Committed when this returns; one INSERT for a new call, a merge for one back from the queue.
        Either way the hotline pages are told (the new call's NOTIFY may repeat: harmless)."""
        def insert(conn: Connection) -> bool:
            inserted = calls.insert_new_call(conn, record)
            if inserted:
                changes.announce(conn)
            return inserted
        if await self._write_core(insert, one_statement=True):
            return

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
