"""The dispatcher's own cost per delivery, with a no-op channel, on SQLite and PostgreSQL.

Side by side in the same run: the engine's dispatcher (claim with lease, route, render, record the
attempt before sending, record the result after) against a bare SQLAlchemy Core loop doing only
the minimum writes per delivery (claim UPDATE ... RETURNING, attempt INSERT, result UPDATEs) with
no rendering or routing: the floor. Prints µs per delivery and the ratio.

    python -m bench dispatcher [--deliveries 20000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time as dtime
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text, update

from autoinform.channels.base import Outgoing, ProviderStatus, SendResult
from autoinform.config import Settings, WindowSettings
from autoinform.dispatch import Dispatcher
from autoinform.models import Attempt, Channel, Delivery, DeliveryState, Outcome, utcnow
from autoinform.rendering import StoredScenarioRenderer
from autoinform.runtime import Runtime, open_runtime
from autoinform.sandbox.synthetic import email_campaign

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "debt_reminder.yaml"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ACCEPTED = SendResult(Outcome.POSITIVE, "accepted")


class NullChannel:
    channel = Channel.EMAIL

    async def start(self) -> None: ...

    async def send(self, item: Outgoing) -> SendResult:
        return ACCEPTED

    async def poll(self, provider_id: str) -> ProviderStatus | None:
        return None

    async def close(self) -> None: ...


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}"
        return
    name = f"autoinform_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepared(url: str, tmp: Path, n: int) -> Runtime:
    # Deliveries go to a no-op channel: lift the calendar so the benchmark runs any day and hour.
    window = WindowSettings(start=dtime(0), end=dtime(23, 59, 59, 999999), calendar="any")
    rt = open_runtime(Settings(database_url=url, var_dir=tmp / "var", window=window,
                               scenario_constants={"hotline_phone": "+78512000000"}))
    email_campaign(rt, n, SCENARIO)
    return rt


def run_engine(rt: Runtime, n: int) -> float:
    rt.settings.dispatch.email.concurrency = 64
    dispatcher = Dispatcher(rt, {Channel.EMAIL: NullChannel()},
                            StoredScenarioRenderer(rt.sessions, rt.settings.tz,
                                                   constants=rt.settings.scenario_constants),
                            worker="bench")

    async def go() -> float:
        stop = asyncio.Event()
        t0 = time.perf_counter()
        task = asyncio.create_task(dispatcher.run(stop))
        while not task.done():
            await asyncio.sleep(0.02)
            done = await dispatcher.in_db(lambda s: s.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.state == DeliveryState.DONE)))
            if done == n:
                break
        elapsed = time.perf_counter() - t0
        stop.set()
        await task  # re-raises if the dispatcher failed
        return elapsed
    return asyncio.run(go())


def run_bare(rt: Runtime, n: int, batch: int = 100) -> float:
    """The floor: the same three writes per delivery, batched, in plain Core."""
    t0 = time.perf_counter()
    done = 0
    while done < n:
        now = utcnow()
        with rt.engine.begin() as c:
            sub = select(Delivery.id).where(Delivery.state == DeliveryState.PENDING).limit(batch)
            ids = list(c.scalars(update(Delivery).where(Delivery.id.in_(sub.scalar_subquery()))
                                 .values(state=DeliveryState.CLAIMED, lease_owner="bare").returning(Delivery.id)))
            rows = c.execute(insert(Attempt).returning(Attempt.id, sort_by_parameter_order=True), [
                {"delivery_id": i, "channel": Channel.EMAIL, "destination": "x@example.ru", "started_at": now,
                 "content": "", "detail": {}, "retry": False, "worker": "bare"} for i in ids]).all()
        with rt.engine.begin() as c:
            c.execute(update(Attempt).where(Attempt.id == text(":aid")).values(outcome=Outcome.POSITIVE,
                                                                               reason="accepted", ended_at=now),
                      [{"aid": r[0]} for r in rows])
            c.execute(update(Delivery).where(Delivery.id == text(":did")).values(
                state=DeliveryState.DONE, outcome=Outcome.POSITIVE, reason="accepted", finished_at=now),
                [{"did": i} for i in ids])
        done += len(ids)
    return time.perf_counter() - t0


def pg_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench dispatcher")
    ap.add_argument("--deliveries", type=int, default=20_000)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args(argv)
    n = args.deliveries
    backends = ["sqlite"] + (["postgres"] if not args.no_postgres and pg_up() else [])
    print(f"dispatcher cost per delivery, {n} deliveries, no-op channel")
    print(f"{'backend':<10} {'engine µs':>10} {'bare µs':>10} {'ratio':>7} {'engine/s':>10}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for backend in backends:
            with database(backend, tmp) as url_a, database(backend, tmp) as url_b:
                rt_a, rt_b = prepared(url_a, tmp, n), prepared(url_b, tmp, n)
                try:
                    bare = run_bare(rt_b, n)
                    eng = run_engine(rt_a, n)
                finally:
                    rt_a.close()
                    rt_b.close()
            print(f"{backend:<10} {eng / n * 1e6:>10.0f} {bare / n * 1e6:>10.0f} {eng / bare:>7.2f} {n / eng:>10.0f}")
    return 0
