"""Issue 8 item 2 with two engine processes on one database (SQLite and PostgreSQL).

Engine A claims a campaign whose sends take 0.2 s each, one at a time, so its queue outlasts the 2 s
lease twice over; its housekeeping meanwhile polls SMS reports from a provider that never answers.
Engine B (e-mail only, so its own housekeeping is never stuck) starts beside it. Before the fix A's
leases were renewed only inside housekeeping, which the hung polls blocked: B took the queued work
back and sent it while A sent it too. Now A's leases are renewed on their own timer, and every
customer gets exactly one message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from autoinform import db
from autoinform.config import Settings
from autoinform.models import Attempt, Channel, Delivery, DeliveryState, utcnow
from autoinform.runtime import Runtime, open_runtime
from tests.conftest import ROOT
from tests.engine.builders import Person, campaign, users

CUSTOMERS = 20


def _populate(rt: Runtime) -> int:
    users(rt)
    now = utcnow()
    b = campaign(rt, [Person(f"86{i:04d}", email=f"n{i}@example.ru") for i in range(CUSTOMERS)],
                 channels=[Channel.EMAIL], start=now - timedelta(minutes=1), name="mail")
    sms = campaign(rt, [Person(f"87{i:04d}", mobile=f"+790012300{i:02d}") for i in range(5)],
                   channels=[Channel.SMS], start=now - timedelta(minutes=1), name="sms")
    with db.transaction(rt.sessions) as s:  # five SMS handed over long ago, reports overdue: polled
        for n, d in enumerate(s.scalars(select(Delivery).where(Delivery.campaign_id == sms.campaign_id))):
            s.add(Attempt(delivery_id=d.id, channel=Channel.SMS, destination="+79001230000", worker="old",
                          started_at=now - timedelta(hours=2), provider_id=f"SMhung{n}"))
            s.execute(update(Delivery).where(Delivery.id == d.id).values(
                state=DeliveryState.AWAITING, lease_until=now - timedelta(minutes=5)))
    return b.campaign_id


def _engine(url: str, worker: str, tmp: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOINFORM_")}
    return subprocess.Popen([sys.executable, "-m", "tests.engine.lease_engine", url, worker,
                             str(tmp / f"sent-{worker}.txt"), str(tmp / "stop"), *extra], cwd=ROOT, env=env,
                            stdout=(tmp / f"{worker}.log").open("wb"), stderr=subprocess.STDOUT)


def _done(rt: Runtime, campaign_id: int) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.campaign_id == campaign_id, Delivery.state == DeliveryState.DONE)) or 0)


def test_two_engine_processes_send_each_message_once(db_url: str, tmp_path: Path) -> None:
    rt = open_runtime(Settings(database_url=db_url, var_dir=tmp_path / "var"))
    try:
        campaign_id = _populate(rt)
        first = _engine(db_url, "engine-a", tmp_path)
        procs = [first]
        try:
            sent_a = tmp_path / "sent-engine-a.txt"
            deadline = time.monotonic() + 60
            while not (sent_a.exists() and sent_a.read_text()) and time.monotonic() < deadline:
                assert first.poll() is None, (tmp_path / "engine-a.log").read_text()
                time.sleep(0.05)
            procs.append(_engine(db_url, "engine-b", tmp_path, "email-only"))  # B's housekeeping runs freely
            while _done(rt, campaign_id) < CUSTOMERS and time.monotonic() < deadline:
                assert all(p.poll() is None for p in procs), [(tmp_path / f"{w}.log").read_text()
                                                               for w in ("engine-a", "engine-b")]
                time.sleep(0.1)
        finally:
            (tmp_path / "stop").touch()
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        assert _done(rt, campaign_id) == CUSTOMERS
        sent = Counter(line for f in tmp_path.glob("sent-*.txt") for line in f.read_text().split())
        assert sent == Counter({f"n{i}@example.ru": 1 for i in range(CUSTOMERS)}), sent
        # A claimed everything and its 4 s queue outlasted the 2 s lease: renewal kept it all A's.
        assert not (tmp_path / "sent-engine-b.txt").exists()
    finally:
        rt.close()
