"""DbHotlineBackend's hot paths (issue 11's figures): the balance fetched with the account and
served from a short per-account cache, a new call's record in one INSERT, writes committed when the
method returns, and a dead pooled connection retried once on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, select, text, update

from autoinform import db
from autoinform.config import HotlineSettings, Settings
from autoinform.hotline import backend as backend_mod
from autoinform.hotline import calls
from autoinform.hotline.backend import DbHotlineBackend
from autoinform.models import AccountBalance, BillingImport, HotlineCall, MeterReading
from autoinform.runtime import Runtime, open_runtime
from ivr.hotline.backend import Balance, CallRecord, ReadingSource, ReadingSubmission, Register
from tests.hotline_data.conftest import WED_10, AddCustomer


def _set_balance(rt: Runtime, account: str, kopecks: int) -> None:
    with db.transaction(rt.sessions) as s:
        row = s.get(AccountBalance, account)
        if row is None:
            imp = BillingImport(source_file="b.csv")
            s.add(imp)
            s.flush()
            s.add(AccountBalance(account=account, amount_kopecks=kopecks, as_of=date(2026, 12, 1), import_id=imp.id))
        else:
            s.execute(update(AccountBalance).where(AccountBalance.account == account).values(amount_kopecks=kopecks))


def test_the_balance_comes_with_the_account(rt: Runtime, add_customer: AddCustomer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    add_customer("100001")
    add_customer("100002")
    _set_balance(rt, "100001", 123456)
    backend = DbHotlineBackend(rt, clock=lambda: WED_10)

    async def find_then_balance(account: str) -> Balance | None:
        assert await backend.find_account(account) is not None
        _set_balance(rt, account, -500)  # changed after the look-up: the call hears what it found
        return await backend.balance(account)

    found = asyncio.run(find_then_balance("100001"))
    assert found is not None and found.amount == Decimal("1234.56") and found.as_of == date(2026, 12, 1)
    assert asyncio.run(backend.balance("100002")) is None  # a customer without a balance
    later = time.monotonic() + backend_mod.ACCOUNT_CACHE_S + 1  # the next call, past the cache's life
    monkeypatch.setattr(backend_mod, "time", SimpleNamespace(monotonic=lambda: later))
    assert asyncio.run(backend.find_account("100001")) is not None
    fresh = asyncio.run(backend.balance("100001"))
    assert fresh is not None and fresh.amount == -5
    backend.close()


def test_an_unknown_account_is_not_remembered(rt: Runtime, add_customer: AddCustomer) -> None:
    backend = DbHotlineBackend(rt, clock=lambda: WED_10)
    assert asyncio.run(backend.find_account("555001")) is None
    add_customer("555001")  # imported while the caller retries
    info = asyncio.run(backend.find_account("555001"))
    assert info is not None and info.account == "555001"
    backend.close()


def test_a_new_call_is_one_insert_and_a_known_one_is_not(rt: Runtime) -> None:
    record = CallRecord("1764660901.7", "+79990000001", WED_10, WED_10 + timedelta(seconds=30), ["main", "balance"],
                        WED_10 + timedelta(seconds=5), "balance", account="100001")
    with rt.engine.connect() as conn, conn.begin():
        assert calls.insert_new_call(conn, record) is True
        assert calls.insert_new_call(conn, record) is False
    with rt.sessions() as s:
        row = s.scalars(select(HotlineCall)).one()
    assert (row.call_id, row.menu_path, row.outcome, row.account) == ("1764660901.7", ["main", "balance"], "balance",
                                                                     "100001")
    assert row.started_at == WED_10 and row.menu_reached_at == WED_10 + timedelta(seconds=5)


def test_writes_are_committed_when_the_method_returns(rt: Runtime, add_customer: AddCustomer) -> None:
    add_customer("100001")
    backend = DbHotlineBackend(rt, clock=lambda: WED_10)
    result = asyncio.run(backend.submit_reading(ReadingSubmission(
        "100001", {Register.DAY: 100, Register.NIGHT: 50}, ReadingSource.PHONE, "+79990000001", "1764660901.8")))
    asyncio.run(backend.record_call(CallRecord("1764660901.8", "+79990000001", WED_10, WED_10, ["reading"],
                                               WED_10, "reading", "100001")))
    # an engine of its own: nothing shared with the backend's connections or transactions
    other = create_engine(rt.engine.url)
    try:
        with other.connect() as conn:
            rows = conn.execute(select(MeterReading.id, MeterReading.register, MeterReading.value)
                                .order_by(MeterReading.id)).all()
            assert conn.execute(select(HotlineCall.outcome)).scalar_one() == "reading"
    finally:
        other.dispose()
    assert [(r.register, r.value) for r in rows] == [("day", 100), ("night", 50)]
    assert result.accepted and result.reading_id == rows[0].id
    backend.close()


@pytest.mark.postgres
def test_a_dead_connection_is_retried_once(pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rt = open_runtime(Settings(database_url=pg_url, var_dir=tmp_path / "var",
                               hotline=HotlineSettings(recordings_dir=tmp_path / "rec")))
    backend = DbHotlineBackend(rt, clock=lambda: WED_10, threads=1)
    try:
        with db.transaction(rt.sessions) as s:
            s.execute(text("INSERT INTO customers (account, name, \"group\", address, created_at, updated_at) "
                           "VALUES ('100001', 'x', 1, '', now(), now()), ('100002', 'y', 1, '', now(), now())"))
        assert asyncio.run(backend.find_account("100001")) is not None  # the pool now holds a connection
        with rt.engine.connect() as conn:  # the server restarts, as far as that connection knows
            killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        assert killed and killed >= 1
        with caplog.at_level(logging.WARNING, logger="autoinform.hotline.backend"):
            assert asyncio.run(backend.find_account("100002")) is not None
        assert "connection lost" in caplog.text
    finally:
        backend.close()
        rt.close()
