"""Crash test (AI-2, AI-14): an engine process killed with SIGKILL at random moments loses nothing.

A 10,000-customer e-mail campaign runs in a subprocess against an aiosmtpd sink in this process.
The engine is killed at least 5 times and restarted; at the end every customer has exactly one
final result, the sink has a message for every customer, and every customer who got a message
twice has a resend recorded as a possible duplicate of an interrupted attempt.
"""

from __future__ import annotations

import email
import email.policy
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from autoinform.config import Settings
from autoinform.models import Attempt, Delivery, DeliveryState, Outcome
from autoinform.runtime import open_runtime
from autoinform.sandbox.synthetic import email_campaign
from tests.conftest import ROOT
from tests.fakes.smtp_sink import SmtpSink

CUSTOMERS = 10_000
KILLS = 5
MSGID = re.compile(rb"Message-ID: <ai(\d+)\.[0-9a-f]{16}@", re.IGNORECASE)  # the attempt's token


def _populate(url: str, tmp: Path) -> int:
    rt = open_runtime(Settings(database_url=url, var_dir=tmp / "var"))
    try:
        return email_campaign(rt, CUSTOMERS, ROOT / "scenarios" / "debt_reminder.yaml", name="crash")
    finally:
        rt.close()


def _env(url: str, port: int, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOINFORM_")}
    env.update({
        "AUTOINFORM_DATABASE_URL": url,
        "AUTOINFORM_VAR_DIR": str(tmp / "var"),
        "AUTOINFORM_SCENARIOS_DIR": str(ROOT / "scenarios"),
        "AUTOINFORM_AUDIO_DIR": str(ROOT / "audio"),
        "AUTOINFORM_SMTP__PORT": str(port),
        "AUTOINFORM_SMTP__SENDER": "noreply@example.ru",
        # The sink stands for the recipients' server: its 250 is final (no bounce to wait for).
        "AUTOINFORM_SMTP__DELIVERY_MODE": "direct",
        # The sink is local and the data synthetic: lift the calendar so the test runs any day.
        "AUTOINFORM_WINDOW__WORKING_DAYS_ONLY": "false",
        "AUTOINFORM_WINDOW__START": "00:00:00",
        "AUTOINFORM_WINDOW__END": "23:59:59.999999",
        "AUTOINFORM_SCENARIO_CONSTANTS": '{"hotline_phone": "+78512000000"}',
        "AUTOINFORM_DISPATCH__POLL_INTERVAL_S": "0.05",
        "AUTOINFORM_WORKER": "crash-test-engine",
        "AUTOINFORM_LOG_LEVEL": "WARNING",
    })
    return env


def _engine(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "autoinform", "run", "--until-idle", "--no-web", "--no-ivr"],
                            env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    campaign_id = _populate(url, tmp_path)
    rng = random.Random(20261127)
    log = tmp_path / "engine.log"
    with SmtpSink(keep_messages=True) as sink:
        env = _env(url, sink.port, tmp_path)
        kills = 0
        while kills < KILLS:
            proc = _engine(env, log)
            start_count = sink.count
            deadline = time.monotonic() + 60
            # Kill at a random moment once it has made progress in this life.
            target = rng.uniform(0.3, 1.5)
            while time.monotonic() < deadline and (sink.count == start_count or time.monotonic() -
                                                    deadline + 60 < target):
                time.sleep(0.05)
                if proc.poll() is not None:
                    break
            if proc.poll() is not None:
                pytest.fail(f"engine exited early with {proc.returncode}: {log.read_text()[-3000:]}")
            proc.kill()
            proc.wait()
            kills += 1
        final = _engine(env, log)
        try:
            assert final.wait(timeout=240) == 0, log.read_text()[-3000:]
        finally:
            if final.poll() is None:  # never leave an engine behind a failed test
                final.kill()
                final.wait()
        received = [m.data for m in sink.messages]

    rt = open_runtime(Settings(database_url=url, var_dir=tmp_path / "var"))
    try:
        with rt.sessions() as s:
            deliveries = {d.id: d for d in s.scalars(select(Delivery).where(Delivery.campaign_id == campaign_id))}
            attempts = s.scalars(select(Attempt)).all()
            interrupted = s.scalar(select(func.count()).select_from(Attempt).where(Attempt.reason == "interrupted"))
    finally:
        rt.close()

    assert len(deliveries) == CUSTOMERS
    # Exactly one final result per customer, all positive (the sink accepts everything).
    assert all(d.state is DeliveryState.DONE for d in deliveries.values())
    assert Counter(d.outcome for d in deliveries.values()) == {Outcome.POSITIVE: CUSTOMERS}
    # The sink received a message for every customer.
    delivery_of = {a.id: a.delivery_id for a in attempts}
    per_delivery = Counter(delivery_of[int(MSGID.search(data).group(1))]  # type: ignore[union-attr]
                           for data in received)
    assert set(per_delivery) == set(deliveries)
    # Duplicates: each one is recorded as a possible duplicate, and they are few.
    flagged = {a.delivery_id for a in attempts if a.duplicate_of is not None}
    duplicated = {d for d, n in per_delivery.items() if n > 1}
    assert duplicated <= flagged
    assert sum(n - 1 for n in per_delivery.values()) <= interrupted
    assert interrupted > 0  # the kills did land mid-flight
    # What was sent is the rendered scenario, and the attempt keeps the same words as evidence.
    msg = email.message_from_bytes(received[0], policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    assert body is not None and "задолженност" in body.get_content()
    assert all("Subject: " in a.content for a in attempts if a.outcome is Outcome.POSITIVE)


@pytest.mark.slow
def test_sigterm_finishes_in_flight_work_and_releases_the_rest(tmp_path: Path) -> None:
    """A clean stop: exit 0, every message that left is recorded, nothing stays claimed or open."""
    url = f"sqlite:///{tmp_path / 'term.db'}"
    rt = open_runtime(Settings(database_url=url, var_dir=tmp_path / "var"))
    try:
        email_campaign(rt, 3000, ROOT / "scenarios" / "debt_reminder.yaml", name="term")
    finally:
        rt.close()
    log = tmp_path / "engine.log"
    with SmtpSink(keep_messages=False) as sink:
        proc = _engine(_env(url, sink.port, tmp_path), log)
        try:
            deadline = time.monotonic() + 60
            while sink.count < 300 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            assert proc.poll() is None, log.read_text()[-3000:]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        sent = sink.count
    rt = open_runtime(Settings(database_url=url, var_dir=tmp_path / "var"))
    try:
        with rt.sessions() as s:
            states = Counter(s.scalars(select(Delivery.state)))
            open_attempts = s.scalar(select(func.count()).select_from(Attempt).where(Attempt.ended_at.is_(None)))
            accepted = s.scalar(select(func.count()).select_from(Attempt).where(Attempt.outcome == Outcome.POSITIVE))
    finally:
        rt.close()
    assert DeliveryState.CLAIMED not in states and open_attempts == 0
    assert 0 < sent < 3000 and accepted == sent  # what left was recorded; the rest waits as pending
    assert states[DeliveryState.DONE] == sent and states[DeliveryState.PENDING] == 3000 - sent
