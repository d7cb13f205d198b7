"""The dispatcher end to end on both backends, with scripted channels and a controlled clock.

AI-2 (every attempt stored with its content), AI-9/AI-12 (channels and fallback), AI-11 (consent),
AI-13 (window at the instant of each attempt), AI-14 (positive/negative with reasons).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from autoinform import campaigns, db, deliveries
from autoinform.channels.base import Outgoing, ProviderStatus, SendResult
from autoinform.config import ChannelLimits
from autoinform.content import Content, Recipient
from autoinform.dispatch import Dispatcher
from autoinform.models import (
    Attempt,
    AuditEntry,
    CampaignState,
    Channel,
    Delivery,
    DeliveryState,
    Outcome,
    StopEntry,
)
from autoinform.runtime import Runtime
from tests.engine.builders import Person, SimpleRenderer, campaign

AST = ZoneInfo("Europe/Astrakhan")
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=AST)
ACCEPTED = SendResult(Outcome.POSITIVE, "accepted", provider_id="ok")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class ScriptedChannel:
    """Answers each destination from a script (then ACCEPTED); remembers what it was asked."""

    def __init__(self, channel: Channel, script: dict[str, list[SendResult]] | None = None) -> None:
        self.channel = channel
        self.script = defaultdict(list, script or {})
        self.sent: list[Outgoing] = []
        self.polls: dict[str, ProviderStatus] = {}

    async def start(self) -> None: ...

    async def send(self, item: Outgoing) -> SendResult:
        self.sent.append(item)
        queue = self.script[item.destination]
        return queue.pop(0) if queue else ACCEPTED

    async def poll(self, provider_id: str) -> ProviderStatus | None:
        return self.polls.get(provider_id)

    async def close(self) -> None: ...


class Gated(ScriptedChannel):
    """Holds every send until `gate` opens; `waiting` counts the sends begun (their instant taken)."""

    def __init__(self, channel: Channel, gate: asyncio.Event) -> None:
        super().__init__(channel)
        self.gate = gate
        self.waiting = 0

    async def send(self, item: Outgoing) -> SendResult:
        self.waiting += 1
        await self.gate.wait()
        return await super().send(item)


async def drive(d: Dispatcher, until: Callable[[], bool], clock: Clock | None = None,
                step: timedelta = timedelta(0), rounds: int = 200) -> None:
    """Run the dispatcher until `until()` holds, advancing the clock by `step` between rounds."""
    async with running(d):
        for _ in range(rounds):
            await asyncio.sleep(0.02)
            await d.housekeeping()
            if until():
                return
            if clock is not None:
                clock.now += step
                d.wake()
        raise AssertionError("dispatcher did not reach the expected state")


@contextlib.asynccontextmanager
async def running(*dispatchers: Dispatcher, release: asyncio.Event | None = None) -> AsyncIterator[None]:
    """The dispatchers run inside the block; leaving it stops them and re-raises what they raised.
    `release` is opened first, so no send is left waiting on a gate."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(d.run(stop)) for d in dispatchers]
    try:
        yield
    finally:
        if release is not None:
            release.set()
        stop.set()
        await asyncio.gather(*tasks)


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


def states(rt: Runtime, campaign_id: int) -> dict[str, tuple[str, str | None, str | None]]:
    with rt.sessions() as s:
        rows = s.execute(select(Delivery).where(Delivery.campaign_id == campaign_id)).scalars()
        from autoinform.models import Customer
        acc = {i: a for i, a in s.execute(select(Customer.id, Customer.account))}
        return {acc[d.customer_id]: (d.state.value, d.outcome.value if d.outcome else None, d.reason)
                for d in rows}


def all_done(rt: Runtime, cid: int) -> Callable[[], bool]:
    return lambda: all(v[0] == "done" for v in states(rt, cid).values())


async def test_every_delivery_ends_positive_with_evidence(fast_rt: Runtime) -> None:
    people = [Person(f"1000{i:02d}", email=f"c{i}@example.ru") for i in range(30)]
    b = campaign(fast_rt, people, channels=[Channel.EMAIL], start=MONDAY_NOON)
    clock = Clock(MONDAY_NOON)
    email = ScriptedChannel(Channel.EMAIL)
    d = Dispatcher(fast_rt, {Channel.EMAIL: email}, SimpleRenderer(), worker="w1", clock=clock)
    await drive(d, all_done(fast_rt, b.campaign_id))
    assert set(states(fast_rt, b.campaign_id).values()) == {("done", "positive", "accepted")}
    assert len(email.sent) == 30
    with fast_rt.sessions() as s:
        attempts = s.scalars(select(Attempt)).all()
        assert len(attempts) == 30
        assert all(a.content.startswith("Subject: Задолженность по л/с 1000") for a in attempts)
        assert all(a.ended_at and a.outcome is Outcome.POSITIVE for a in attempts)
    with db.transaction(fast_rt.sessions) as s:  # housekeeping closes it once nothing is left open
        campaigns.close_due(s, clock.now)
    with fast_rt.sessions() as s:
        assert campaigns.get(s, b.campaign_id).state is CampaignState.COMPLETED
        audit = [(a.actor, a.action) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert audit[-4:] == [("spec", "campaign.create"), ("boss", "campaign.approve"),
                          ("spec", "campaign.start"), ("scheduler", "campaign.complete")]


async def test_transient_failures_retry_then_exhaust(fast_rt: Runtime) -> None:
    temp = SendResult(Outcome.NEGATIVE, "temporary_failure", retry=True)
    people = [Person("200001", email="a@example.ru"), Person("200002", email="b@example.ru")]
    b = campaign(fast_rt, people, channels=[Channel.EMAIL], start=MONDAY_NOON)
    clock = Clock(MONDAY_NOON)
    email = ScriptedChannel(Channel.EMAIL, {"a@example.ru": [temp], "b@example.ru": [temp, temp, temp]})
    d = Dispatcher(fast_rt, {Channel.EMAIL: email}, SimpleRenderer(), worker="w1", clock=clock)
    await drive(d, all_done(fast_rt, b.campaign_id), clock, step=timedelta(seconds=70))
    st = states(fast_rt, b.campaign_id)
    assert st["200001"] == ("done", "positive", "accepted")
    assert st["200002"] == ("done", "negative", "temporary_failure")  # 3 attempts = max_attempts
    assert [o.destination for o in email.sent].count("b@example.ru") == 3


async def test_permanent_failure_falls_back_to_next_consented_channel(fast_rt: Runtime) -> None:
    """AI-12: e-mail rejected → SMS; no SMS consent → no fallback (AI-11)."""
    rejected = SendResult(Outcome.NEGATIVE, "rejected")
    people = [Person("300001", email="x@example.ru", mobile="+79001234567"),
              Person("300002", email="y@example.ru", mobile="+79001234568", sms_consent=False)]
    b = campaign(fast_rt, people, channels=[Channel.EMAIL, Channel.SMS], start=MONDAY_NOON)
    email = ScriptedChannel(Channel.EMAIL, {"x@example.ru": [rejected], "y@example.ru": [rejected]})
    sms = ScriptedChannel(Channel.SMS)
    d = Dispatcher(fast_rt, {Channel.EMAIL: email, Channel.SMS: sms}, SimpleRenderer(), worker="w1",
                   clock=Clock(MONDAY_NOON))
    await drive(d, all_done(fast_rt, b.campaign_id))
    st = states(fast_rt, b.campaign_id)
    assert st["300001"] == ("done", "positive", "accepted")
    assert st["300002"] == ("done", "negative", "rejected")
    assert [o.destination for o in sms.sent] == ["+79001234567"]


async def test_no_consented_contact_ends_negative_no_consent(fast_rt: Runtime) -> None:
    """AI-11: a contract landline is never texted; without any usable contact the result says so."""
    people = [Person("400001", phone="+78512123456"), Person("400002", mobile="+79001230000")]
    b = campaign(fast_rt, people, channels=[Channel.SMS], start=MONDAY_NOON)
    sms = ScriptedChannel(Channel.SMS)
    d = Dispatcher(fast_rt, {Channel.SMS: sms}, SimpleRenderer(), worker="w1", clock=Clock(MONDAY_NOON))
    await drive(d, all_done(fast_rt, b.campaign_id))
    assert states(fast_rt, b.campaign_id)["400001"] == ("done", "negative", "no_consent")
    assert [o.destination for o in sms.sent] == ["+79001230000"]


async def test_nothing_leaves_outside_the_window(fast_rt: Runtime) -> None:
    """AI-13: a campaign running on Sunday sends nothing until Monday 10:00 local."""
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=AST)
    b = campaign(fast_rt, [Person("500001", email="s@example.ru")], channels=[Channel.EMAIL], start=sunday)
    clock = Clock(sunday)
    email = ScriptedChannel(Channel.EMAIL)
    d = Dispatcher(fast_rt, {Channel.EMAIL: email}, SimpleRenderer(), worker="w1", clock=clock)
    sent_at: list[datetime] = []
    orig = email.send

    async def timed(item: Outgoing) -> SendResult:
        sent_at.append(clock.now)
        return await orig(item)
    email.send = timed  # type: ignore[method-assign]
    await drive(d, all_done(fast_rt, b.campaign_id), clock, step=timedelta(hours=1))
    assert len(sent_at) == 1 and d.window.allows(sent_at[0])
    assert sent_at[0] >= datetime(2026, 12, 7, 10, 0, tzinfo=AST)


async def test_window_closed_when_campaign_ends_before_next_opening(fast_rt: Runtime) -> None:
    friday_evening = datetime(2026, 12, 4, 19, 0, tzinfo=AST)
    b = campaign(fast_rt, [Person("600001", email="f@example.ru")], channels=[Channel.EMAIL],
                 start=friday_evening, end=friday_evening + timedelta(hours=5))
    clock = Clock(friday_evening + timedelta(hours=1, minutes=1))  # 20:01: closed until Monday
    d = Dispatcher(fast_rt, {Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}, SimpleRenderer(), worker="w1",
                   clock=clock)
    with db.transaction(fast_rt.sessions) as s:
        report = deliveries.claim(s, now=clock.now, limit=10, worker="w1", lease_s=60, window=d.window,
                                  renderer=SimpleRenderer())
    assert report.finalized == {"window_closed": 1}
    assert states(fast_rt, b.campaign_id)["600001"] == ("done", "negative", "window_closed")


async def test_stop_list_cancels_with_reason_paid(fast_rt: Runtime) -> None:
    b = campaign(fast_rt, [Person("700001", email="p@example.ru"), Person("700002", email="q@example.ru")],
                 channels=[Channel.EMAIL], start=MONDAY_NOON)
    with db.transaction(fast_rt.sessions) as s:
        s.add(StopEntry(account="700001", reason="paid", source="test", created_at=MONDAY_NOON))
    email = ScriptedChannel(Channel.EMAIL)
    d = Dispatcher(fast_rt, {Channel.EMAIL: email}, SimpleRenderer(), worker="w1", clock=Clock(MONDAY_NOON))
    await drive(d, all_done(fast_rt, b.campaign_id))
    assert states(fast_rt, b.campaign_id)["700001"] == ("done", "negative", "paid")
    assert [o.destination for o in email.sent] == ["q@example.ru"]


async def test_crash_between_send_and_record_marks_possible_duplicate(fast_rt: Runtime) -> None:
    """A claimed, recorded-but-unfinished attempt (the process died) is interrupted on restart,
    and the resend is recorded as a possible duplicate of it."""
    b = campaign(fast_rt, [Person("800001", email="k@example.ru")], channels=[Channel.EMAIL],
                 start=MONDAY_NOON)
    d = Dispatcher(fast_rt, {Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}, SimpleRenderer(),
                   worker="w1", clock=Clock(MONDAY_NOON))
    with db.transaction(fast_rt.sessions) as s:  # the first life claims, then "dies"
        first = deliveries.claim(s, now=MONDAY_NOON, limit=10, worker="w1", lease_s=300,
                                 window=d.window, renderer=SimpleRenderer())
    assert len(first.work) == 1
    assert await d.recover() == 1
    await drive(d, all_done(fast_rt, b.campaign_id))
    with fast_rt.sessions() as s:
        a1, a2 = s.scalars(select(Attempt).order_by(Attempt.id)).all()
    # issue 8 item 8: an interrupted attempt has an outcome too (negative: not known to be received)
    assert a1.reason == "interrupted" and a1.outcome is Outcome.NEGATIVE
    assert a2.duplicate_of == a1.id and a2.outcome is Outcome.POSITIVE


async def test_sms_waits_for_delivery_report(fast_rt: Runtime) -> None:
    pending = [SendResult(None, "pending", provider_id="SM1")]
    pending2 = [SendResult(None, "pending", provider_id="SM2")]
    b = campaign(fast_rt, [Person("900001", mobile="+79001112233"), Person("900002", mobile="+79001112244")],
                 channels=[Channel.SMS], start=MONDAY_NOON)
    sms = ScriptedChannel(Channel.SMS, {"+79001112233": pending, "+79001112244": pending2})
    clock = Clock(MONDAY_NOON)
    d = Dispatcher(fast_rt, {Channel.SMS: sms}, SimpleRenderer(), worker="w1", clock=clock)
    # A report that arrives before anything was sent is stored and applied later, not lost.
    await d.on_status(ProviderStatus(Channel.SMS, "SM1", "delivered", Outcome.POSITIVE, "delivered"))
    await drive(d, lambda: states(fast_rt, b.campaign_id)["900002"][0] == "awaiting")
    assert states(fast_rt, b.campaign_id)["900001"] == ("done", "positive", "delivered")
    await d.on_status(ProviderStatus(Channel.SMS, "SM2", "undelivered", Outcome.NEGATIVE, "undelivered",
                                     error_code="30003"))
    assert states(fast_rt, b.campaign_id)["900002"] == ("done", "negative", "undelivered")
    with fast_rt.sessions() as s:
        a = s.scalars(select(Attempt).where(Attempt.provider_id == "SM2")).one()
    assert a.detail["error_code"] == "30003"


async def test_missing_report_resolved_by_polling(fast_rt: Runtime) -> None:
    fast_rt.settings.twilio.status_timeout_s = 60
    b = campaign(fast_rt, [Person("910001", mobile="+79001112255")], channels=[Channel.SMS], start=MONDAY_NOON)
    sms = ScriptedChannel(Channel.SMS, {"+79001112255": [SendResult(None, "pending", provider_id="SM9")]})
    sms.polls["SM9"] = ProviderStatus(Channel.SMS, "SM9", "delivered", Outcome.POSITIVE, "delivered")
    clock = Clock(MONDAY_NOON)
    d = Dispatcher(fast_rt, {Channel.SMS: sms}, SimpleRenderer(), worker="w1", clock=clock)
    await drive(d, all_done(fast_rt, b.campaign_id), clock, step=timedelta(seconds=30))
    assert states(fast_rt, b.campaign_id)["910001"] == ("done", "positive", "delivered")


async def test_cancel_and_expiry_finalize_everything(fast_rt: Runtime) -> None:
    b1 = campaign(fast_rt, [Person("920001", email="c1@example.ru")], channels=[Channel.EMAIL],
                  start=MONDAY_NOON, name="c1")
    b2 = campaign(fast_rt, [Person("920002", email="c2@example.ru")], channels=[Channel.EMAIL],
                  start=MONDAY_NOON, end=MONDAY_NOON + timedelta(hours=1), name="c2")
    with db.transaction(fast_rt.sessions) as s:
        assert campaigns.cancel(s, b1.campaign_id, "spec") == 1
        closed = campaigns.close_due(s, MONDAY_NOON + timedelta(hours=2))
    assert closed == {b2.campaign_id: "expired"}
    assert states(fast_rt, b1.campaign_id)["920001"] == ("done", "negative", "cancelled")
    assert states(fast_rt, b2.campaign_id)["920002"] == ("done", "negative", "window_closed")


async def test_paused_campaign_is_not_dispatched(fast_rt: Runtime) -> None:
    b = campaign(fast_rt, [Person("930001", email="z@example.ru")], channels=[Channel.EMAIL], start=MONDAY_NOON)
    with db.transaction(fast_rt.sessions) as s:
        campaigns.pause(s, b.campaign_id, "spec")
    email = ScriptedChannel(Channel.EMAIL)
    d = Dispatcher(fast_rt, {Channel.EMAIL: email}, SimpleRenderer(), worker="w1", clock=Clock(MONDAY_NOON))
    with db.transaction(fast_rt.sessions) as s:
        assert deliveries.claim(s, now=MONDAY_NOON, limit=10, worker="w1", lease_s=60, window=d.window,
                                renderer=SimpleRenderer()).work == []
        campaigns.resume(s, b.campaign_id, "spec")
    await drive(d, all_done(fast_rt, b.campaign_id))
    assert len(email.sent) == 1


async def test_work_in_flight_when_cancelled_still_ends_once(fast_rt: Runtime) -> None:
    """A send that comes back asking for a retry after its campaign was cancelled ends 'cancelled'
    at the next housekeeping instead of waiting for ever (exactly one final result, AI-14)."""
    b = campaign(fast_rt, [Person("940001", email="w@example.ru")], channels=[Channel.EMAIL], start=MONDAY_NOON)
    d = Dispatcher(fast_rt, {}, SimpleRenderer(), worker="w1", clock=Clock(MONDAY_NOON))
    with db.transaction(fast_rt.sessions) as s:
        (work,) = deliveries.claim(s, now=MONDAY_NOON, limit=10, worker="w1", lease_s=60, window=d.window,
                                   renderer=SimpleRenderer()).work
        campaigns.cancel(s, b.campaign_id, "spec")  # the claimed delivery is not pending: untouched
    with db.transaction(fast_rt.sessions) as s:
        deliveries.record(s, [deliveries.Done(work, SendResult(Outcome.NEGATIVE, "temporary_failure", retry=True),
                                              MONDAY_NOON)], policies=d.policies, status_timeout_s=60, worker="w1")
    assert states(fast_rt, b.campaign_id)["940001"][0] == "pending"
    await d.housekeeping()
    assert states(fast_rt, b.campaign_id)["940001"] == ("done", "negative", "cancelled")


async def test_undelivered_sms_without_a_fallback_keeps_its_reason(fast_rt: Runtime) -> None:
    """AI-14: the chain sms → email for a customer without an e-mail ends 'undelivered', not 'no_consent'."""
    b = campaign(fast_rt, [Person("950001", mobile="+79001112266")], channels=[Channel.SMS, Channel.EMAIL],
                 start=MONDAY_NOON)
    sms = ScriptedChannel(Channel.SMS, {"+79001112266": [SendResult(None, "pending", provider_id="SM5")]})
    d = Dispatcher(fast_rt, {Channel.SMS: sms}, SimpleRenderer(), worker="w1", clock=Clock(MONDAY_NOON))
    await drive(d, lambda: states(fast_rt, b.campaign_id)["950001"][0] == "awaiting")
    await d.on_status(ProviderStatus(Channel.SMS, "SM5", "undelivered", Outcome.NEGATIVE, "undelivered",
                                     error_code="30005"))
    assert states(fast_rt, b.campaign_id)["950001"] == ("done", "negative", "undelivered")


async def test_the_lease_keeper_renews_the_leases_of_queued_work(fast_rt: Runtime) -> None:
    """Work waiting its turn behind slow sends keeps its lease, so no other engine takes it back;
    renewal is its own job, not housekeeping's (issue 8 item 2)."""
    fast_rt.settings.dispatch.lease_s = 60
    people = [Person(f"2000{i:02d}", email=f"q{i}@example.ru") for i in range(12)]
    b = campaign(fast_rt, people, channels=[Channel.EMAIL], start=MONDAY_NOON)
    clock = Clock(MONDAY_NOON)
    gate = asyncio.Event()

    email = Gated(Channel.EMAIL, gate)
    d = Dispatcher(fast_rt, {Channel.EMAIL: email}, SimpleRenderer(), worker="w1", clock=clock)
    async with running(d, release=gate):
        await until(lambda: d.stats.claimed == len(people) and email.waiting == 4)  # four sends under way
        clock.now += timedelta(seconds=45)
        assert await d.renew_leases() == []
        with fast_rt.sessions() as s:
            leases = set(s.scalars(select(Delivery.lease_until).where(Delivery.campaign_id == b.campaign_id)))
        assert leases == {clock.now + timedelta(seconds=60)}
        gate.set()
        await until(all_done(fast_rt, b.campaign_id))
    assert set(states(fast_rt, b.campaign_id).values()) == {("done", "positive", "accepted")}
    # AI-2: an attempt starts when it leaves, not when it was claimed: the four sends under way at
    # noon started then, the eight queued behind them 45 s later.
    with fast_rt.sessions() as s:
        started = Counter(s.scalars(select(Attempt.started_at)))
    assert started == {MONDAY_NOON: 4, MONDAY_NOON + timedelta(seconds=45): 8}


async def test_a_row_that_cannot_be_rendered_ends_negative_with_its_attempt(fast_rt: Runtime) -> None:
    """AI-14/AI-16: a list row the scenario cannot render is a negative result with the reason and an
    attempt saying why, while the rest of the batch goes out."""
    from autoinform.errors import RenderError

    class Picky(SimpleRenderer):
        def render(self, scenario_id: int, channel: Channel, r: Recipient) -> Content:
            if r.account == "300001":
                raise RenderError("missing required variable (money)", file="debt_reminder", field="debt")
            return super().render(scenario_id, channel, r)

    people = [Person(f"30000{i}", email=f"r{i}@example.ru") for i in range(3)]
    b = campaign(fast_rt, people, channels=[Channel.EMAIL], start=MONDAY_NOON)
    email = ScriptedChannel(Channel.EMAIL)
    d = Dispatcher(fast_rt, {Channel.EMAIL: email}, Picky(), worker="w1", clock=Clock(MONDAY_NOON))
    await drive(d, all_done(fast_rt, b.campaign_id))
    result = states(fast_rt, b.campaign_id)
    assert result["300001"] == ("done", "negative", "missing_variable")
    assert result["300000"] == result["300002"] == ("done", "positive", "accepted")
    assert sorted(i.destination for i in email.sent) == ["r0@example.ru", "r2@example.ru"]
    with fast_rt.sessions() as s:
        failed = s.scalars(select(Attempt).where(Attempt.destination == "r1@example.ru")).one()
    assert (failed.outcome, failed.reason, failed.content) == (Outcome.NEGATIVE, "missing_variable", "")
    assert failed.ended_at == failed.started_at and "debt" in failed.detail["error"]
    assert failed.detail["reason_text"] == "missing variable debt"
    assert failed.worker == "w1" and failed.duplicate_of is None


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are a Linux feature")
async def test_database_thread_yields_to_the_event_loop(fast_rt: Runtime) -> None:
    """The database thread runs at the configured nice value and, while the dispatcher runs, the GIL
    switch interval is short; both are what keep ready sockets from waiting (bench/email_engine)."""
    fast_rt.settings.dispatch.db_thread_nice = 7
    fast_rt.settings.dispatch.switch_interval_ms = 0.25
    before = sys.getswitchinterval()
    d = Dispatcher(fast_rt, {}, SimpleRenderer(), worker="w1", clock=Clock(MONDAY_NOON))
    async with running(d):
        await asyncio.sleep(0.05)
        nice = await d.in_db(lambda s: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        during = sys.getswitchinterval()
    assert nice == min(19, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + 7)
    assert during == pytest.approx(0.00025)
    assert sys.getswitchinterval() == before


async def test_window_closing_between_claim_and_send_releases_the_rest(fast_rt: Runtime) -> None:
    """AI-13: the window is checked at the instant each message leaves. Work claimed at 19:59 that
    reaches its turn after 20:00 is not sent: its attempt ends `window_closed_before_send` and the
    delivery waits for the next opening (Tuesday 10:00)."""
    fast_rt.settings.dispatch.email = ChannelLimits(concurrency=1)
    evening = datetime(2026, 12, 7, 19, 59, tzinfo=AST)
    people = [Person(f"60000{i}", email=f"w{i}@example.ru") for i in range(3)]
    b = campaign(fast_rt, people, channels=[Channel.EMAIL], start=evening)
    clock = Clock(evening)
    gate = asyncio.Event()

    email = Gated(Channel.EMAIL, gate)
    d = Dispatcher(fast_rt, {Channel.EMAIL: email}, SimpleRenderer(), worker="w1", clock=clock)
    async with running(d, release=gate):
        await until(lambda: d.stats.claimed == 3 and email.waiting == 1)
        clock.now = evening + timedelta(minutes=2)  # 20:01: the first send is already under way
        gate.set()
        await until(lambda: d.stats.released == 2)
    assert len(email.sent) == 1
    with fast_rt.sessions() as s:
        released = s.scalars(select(Attempt).where(Attempt.reason == "window_closed_before_send")).all()
        waiting = s.scalars(select(Delivery).where(Delivery.campaign_id == b.campaign_id,
                                                   Delivery.state == DeliveryState.PENDING)).all()
    assert len(released) == 2
    assert all(a.disposition == "not_sent" and a.outcome is Outcome.NEGATIVE for a in released)
    assert {d.next_attempt_at for d in waiting} == {datetime(2026, 12, 8, 10, 0, tzinfo=AST)}


async def test_two_engines_claim_side_by_side_without_sending_twice(fast_rt: Runtime) -> None:
    """Two dispatchers on one database (FOR UPDATE SKIP LOCKED on PostgreSQL, the write lock on
    SQLite) share a campaign: every customer gets exactly one message, and both did work."""
    fast_rt.settings.dispatch.batch_size = 10
    people = [Person(f"7{i:05d}", email=f"p{i}@example.ru") for i in range(300)]
    b = campaign(fast_rt, people, channels=[Channel.EMAIL], start=MONDAY_NOON)

    class Slowish(ScriptedChannel):
        async def send(self, item: Outgoing) -> SendResult:
            await asyncio.sleep(0.002)
            return await super().send(item)

    channels = [Slowish(Channel.EMAIL), Slowish(Channel.EMAIL)]
    engines = [Dispatcher(fast_rt, {Channel.EMAIL: ch}, SimpleRenderer(), worker=f"engine-{i}",
                          clock=Clock(MONDAY_NOON)) for i, ch in enumerate(channels)]
    async with running(*engines):
        await until(lambda: sum(sum(e.stats.verdicts.values()) for e in engines) >= len(people))
    sent = [item.destination for ch in channels for item in ch.sent]
    assert sorted(sent) == sorted(p.email for p in people if p.email)  # each exactly once
    assert all(ch.sent for ch in channels)
    assert set(states(fast_rt, b.campaign_id).values()) == {("done", "positive", "accepted")}
    with fast_rt.sessions() as s:
        workers = set(s.scalars(select(Attempt.worker)))
    assert workers == {"engine-0", "engine-1"}
