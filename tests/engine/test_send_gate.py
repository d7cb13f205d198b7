"""Issue 8 items 1-3: what may leave at the instant of sending (AI-2, AI-7, AI-13, AI-14).

Each test holds one send on the wire with a gate, acts on the campaign (or the clock, or the leases)
while the rest of the claimed work waits in the queue, then lets the send finish: the queued work
must not go out, and each delivery ends or waits with the reason the action implies. Both backends.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from autoinform import campaigns, db, deliveries, results
from autoinform.channels.base import ProviderStatus
from autoinform.config import ChannelLimits
from autoinform.dispatch import Dispatcher
from autoinform.errors import ChannelError
from autoinform.models import Attempt, Channel, ContactList, Delivery, DeliveryState, Outcome
from autoinform.runtime import Runtime
from tests.engine.builders import Built, Person, SimpleRenderer, campaign
from tests.engine.test_dispatch import MONDAY_NOON, Clock, Gated, ScriptedChannel, all_done, running, states, until

NOT_SENT = {"pause": ("pending", None, None), "cancel": ("done", "negative", "cancelled"),
            "paid": ("done", "negative", "paid"), "moved_out": ("done", "negative", "moved_out"),
            "end": ("done", "negative", "window_closed")}
HELD_AS = {"pause": "paused", "cancel": "cancelled", "paid": "paid", "moved_out": "moved_out", "end": "window_closed"}


def _attempts(rt: Runtime) -> list[Attempt]:
    with rt.sessions() as s:
        return list(s.scalars(select(Attempt).order_by(Attempt.id)))


@dataclass
class OneAtATime:
    """A campaign sent by one e-mail worker whose sends wait on `gate`: one on the wire, the rest queued."""

    built: Built
    clock: Clock
    gate: asyncio.Event
    email: Gated
    d: Dispatcher


def _one_at_a_time(rt: Runtime, prefix: str, n: int, end: datetime | None = None) -> OneAtATime:
    rt.settings.dispatch.email = ChannelLimits(concurrency=1)
    people = [Person(f"{prefix}{i}", email=f"{prefix}{i}@example.ru") for i in range(n)]
    built = campaign(rt, people, channels=[Channel.EMAIL], start=MONDAY_NOON, end=end)
    clock, gate = Clock(MONDAY_NOON), asyncio.Event()
    email = Gated(Channel.EMAIL, gate)
    return OneAtATime(built, clock, gate, email,
                      Dispatcher(rt, {Channel.EMAIL: email}, SimpleRenderer(), worker="w1", clock=clock))


@pytest.mark.parametrize("action", list(NOT_SENT))
async def test_claimed_work_does_not_leave_after_pause_cancel_stop_or_end(fast_rt: Runtime, action: str) -> None:
    """Issue 8 item 1: ten deliveries claimed, one send under way; after the action none of the other
    nine leaves. Pause puts them back (and resume sends them); cancel, a stop-list upload (with its
    own reason) and the campaign's end finish them negative without sending."""
    end = MONDAY_NOON + timedelta(minutes=2)
    one = _one_at_a_time(fast_rt, "81000", 10, end)
    b, clock, gate, email, d = one.built, one.clock, one.gate, one.email, one.d
    with db.transaction(fast_rt.sessions) as s:  # a list formed before today's payments
        s.execute(update(ContactList).where(ContactList.id == b.list_id).values(created_at=datetime(2026, 1, 1)
                                                                                .astimezone()))
    async with running(d, release=gate):
        await until(lambda: d.stats.claimed == 10 and email.waiting == 1)
        with db.transaction(fast_rt.sessions) as s:
            if action == "pause":
                campaigns.pause(s, b.campaign_id, "spec")
            elif action == "cancel":
                campaigns.cancel(s, b.campaign_id, "spec")
            elif action in ("paid", "moved_out"):
                results.add_stops(s, b.accounts, reason=action, source="paid-today.csv", actor="spec")
            else:
                clock.now = end
        gate.set()
        await until(lambda: sum(d.stats.held.values()) == 9 and not d._inflight)
    assert len(email.sent) == 1
    first = email.sent[0].destination
    after = {acc: st for acc, st in states(fast_rt, b.campaign_id).items() if f"{acc}@" not in first}
    assert len(after) == 9 and set(after.values()) == {NOT_SENT[action]}
    assert d.stats.held == {HELD_AS[action]: 9}
    unsent = [a for a in _attempts(fast_rt) if a.destination != first]
    # Every attempt has an outcome (item 8's last paragraph): not sent is negative, with why.
    assert {(a.outcome, a.reason, a.disposition) for a in unsent} == {(Outcome.NEGATIVE, HELD_AS[action], "not_sent")}
    if action == "pause":  # the released work leaves once the campaign runs again
        with db.transaction(fast_rt.sessions) as s:
            campaigns.resume(s, b.campaign_id, "spec")
        await d.housekeeping()  # resumed before its (test clock's) start: housekeeping begins it
        async with running(d):
            await until(all_done(fast_rt, b.campaign_id))
        assert len(email.sent) == 10 and len({i.destination for i in email.sent}) == 10


async def test_the_gate_costs_no_query_per_message(fast_rt: Runtime) -> None:
    """Item 1, cheap on the hot path: before sending the gate reads the two counters only, one read
    shared by every send waiting at that instant, and loads campaign states or stop entries only
    when a counter moved: here for the campaign first seen and after a stop-list upload."""
    fast_rt.settings.dispatch.email = ChannelLimits(concurrency=8)
    people = [Person(f"82{i:04d}", email=f"h{i}@example.ru") for i in range(200)]
    b = campaign(fast_rt, people, channels=[Channel.EMAIL], start=MONDAY_NOON)
    email = ScriptedChannel(Channel.EMAIL)
    d = Dispatcher(fast_rt, {Channel.EMAIL: email}, SimpleRenderer(), worker="w1", clock=Clock(MONDAY_NOON))
    async with running(d):
        await until(lambda: len(email.sent) >= 100)
        with db.transaction(fast_rt.sessions) as s:
            results.add_stops(s, ["000000"], reason="paid", source="t.csv", actor="spec")
        await until(all_done(fast_rt, b.campaign_id))
    assert len(email.sent) == 200
    assert 1 <= d.gate.reloads <= 3  # the campaign first seen; the stop entries (twice if a claim interleaved)
    assert 0 < d.gate.reads < 200  # sends ready together shared their reads


async def test_work_whose_lease_another_engine_took_is_not_sent_nor_overwritten(fast_rt: Runtime) -> None:
    """Item 2: engine A's leases lapse while its work is queued (its renewals could not reach the
    database); engine B takes the work back and sends it. A's renewal finds the leases lost and drops
    the queued work before sending; the one send A had on the wire is recorded on A's attempt, but
    A writes nothing to deliveries that B now holds."""
    fast_rt.settings.dispatch.email = ChannelLimits(concurrency=1)
    fast_rt.settings.dispatch.lease_s = 60
    fast_rt.settings.dispatch.batch_size = 5  # A, holding five, claims no more: B takes them all
    people = [Person(f"83000{i}", email=f"k{i}@example.ru") for i in range(5)]
    b = campaign(fast_rt, people, channels=[Channel.EMAIL], start=MONDAY_NOON)
    clock = Clock(MONDAY_NOON)
    gate = asyncio.Event()
    chan_a, chan_b = Gated(Channel.EMAIL, gate), ScriptedChannel(Channel.EMAIL)
    engine_a = Dispatcher(fast_rt, {Channel.EMAIL: chan_a}, SimpleRenderer(), worker="engine-a", clock=clock)
    engine_b = Dispatcher(fast_rt, {Channel.EMAIL: chan_b}, SimpleRenderer(), worker="engine-b", clock=clock)
    async with running(engine_a, release=gate):
        await until(lambda: engine_a.stats.claimed == 5 and chan_a.waiting == 1)
        clock.now += timedelta(seconds=61)
        async with running(engine_b):
            await engine_b.housekeeping()  # A's leases are dead: B recovers them
            engine_b.wake()
            await until(all_done(fast_rt, b.campaign_id))
        assert len(await engine_a.renew_leases()) == 5
        gate.set()
        await until(lambda: not engine_a._inflight and engine_a.stats.verdicts.get("lease_lost") == 1)
    assert len(chan_a.sent) == 1 and len(chan_b.sent) == 5
    assert engine_a.stats.held == {"lease_lost": 4}
    assert set(states(fast_rt, b.campaign_id).values()) == {("done", "positive", "accepted")}
    attempts = _attempts(fast_rt)
    mine = [a for a in attempts if a.worker == "engine-a"]
    assert sorted((a.outcome, a.reason) for a in mine) == sorted(
        [(Outcome.POSITIVE, "accepted")] + [(Outcome.NEGATIVE, "interrupted")] * 4)  # closed by B's recovery
    theirs = [a for a in attempts if a.worker == "engine-b"]
    assert len(theirs) == 5 and all(a.duplicate_of is not None for a in theirs)  # possible duplicates, recorded


async def test_work_whose_lease_lapsed_unrenewed_goes_back_before_it_is_sent(fast_rt: Runtime) -> None:
    """Item 2: a lease that could not be renewed is not trusted at the instant of sending: the work
    goes back to pending (while still ours) and is claimed and sent again under a fresh lease."""
    fast_rt.settings.dispatch.lease_s = 60
    one = _one_at_a_time(fast_rt, "84000", 3)
    b, clock, gate, email, d = one.built, one.clock, one.gate, one.email, one.d
    async with running(d, release=gate):
        await until(lambda: d.stats.claimed == 3 and email.waiting == 1)
        clock.now += timedelta(seconds=56)  # inside the 5 s margin before the lease's end
        gate.set()
        await until(all_done(fast_rt, b.campaign_id))
    assert sorted(i.destination for i in email.sent) == [f"84000{i}@example.ru" for i in range(3)]
    assert d.stats.held == {"lease_expired": 2}
    assert set(states(fast_rt, b.campaign_id).values()) == {("done", "positive", "accepted")}


async def test_deliveries_for_a_channel_this_engine_cannot_send_on_wait(fast_rt: Runtime) -> None:
    """Item 3: an engine without SMS settings leaves SMS work pending (no attempt, no failure); an
    engine that has them sends it."""
    people = [Person(f"85000{i}", mobile=f"+7900111220{i}") for i in range(3)]
    b = campaign(fast_rt, people, channels=[Channel.SMS], start=MONDAY_NOON)
    clock = Clock(MONDAY_NOON)
    email_only = Dispatcher(fast_rt, {Channel.EMAIL: ScriptedChannel(Channel.EMAIL)}, SimpleRenderer(),
                            worker="w1", clock=clock)
    async with running(email_only):
        await until(lambda: email_only.stats.unavailable.get("sms") == 3)
    assert set(states(fast_rt, b.campaign_id).values()) == {("pending", None, None)}
    assert _attempts(fast_rt) == []
    with fast_rt.sessions() as s:
        assert set(s.scalars(select(Delivery.next_attempt_at))) == {MONDAY_NOON + timedelta(seconds=60)}
    clock.now += timedelta(seconds=61)
    sms = ScriptedChannel(Channel.SMS)
    with_sms = Dispatcher(fast_rt, {Channel.SMS: sms}, SimpleRenderer(), worker="w2", clock=clock)
    async with running(with_sms):
        await until(all_done(fast_rt, b.campaign_id))
    assert len(sms.sent) == 3
    with fast_rt.sessions() as s:
        assert set(s.scalars(select(Delivery.state))) == {DeliveryState.DONE}


class Finder(ScriptedChannel):
    """An SMS channel whose provider can list what it sent (Twilio's message list)."""

    def __init__(self, found: dict[str, ProviderStatus], broken: set[str]) -> None:
        super().__init__(Channel.SMS)
        self.found, self.broken = found, broken
        self.asked: list[tuple[str, datetime, datetime, str | None]] = []

    async def find_sent(self, destination: str, since: datetime, until: datetime,
                        body: str | None = None) -> ProviderStatus | None:
        self.asked.append((destination, since, until, body))
        if destination in self.broken:
            raise ChannelError("Twilio unreachable", permanent=False)
        return self.found.get(destination)


async def test_an_interrupted_sms_is_reconciled_with_the_provider_before_it_is_sent_again(fast_rt: Runtime) -> None:
    """Item 6: the engine died after handing an SMS to the provider but before writing its id. On the
    next claim the provider's message list decides: a message it sent is adopted (its id and status
    recorded, nothing sent again); none found: sent; provider unreachable: held, never taken for
    "not sent"; too soon after the crash to tell: held until it can."""
    people = [Person("880001", mobile="+79005550001"), Person("880002", mobile="+79005550002"),
              Person("880003", mobile="+79005550003")]
    b = campaign(fast_rt, people, channels=[Channel.SMS], start=MONDAY_NOON)
    clock = Clock(MONDAY_NOON)
    sms = Finder({"+79005550001": ProviderStatus(Channel.SMS, "SM77", "delivered", Outcome.POSITIVE, "delivered")},
                 broken={"+79005550003"})
    d = Dispatcher(fast_rt, {Channel.SMS: sms}, SimpleRenderer(), worker="w1", clock=clock)
    with db.transaction(fast_rt.sessions) as s:  # the first life claims, sends, and dies
        assert len(deliveries.claim(s, now=MONDAY_NOON, limit=10, worker="w1", lease_s=300, window=d.window,
                                    renderer=SimpleRenderer()).work) == 3
    assert await d.recover() == 3
    clock.now += timedelta(seconds=10)
    async with running(d):
        await until(lambda: d.stats.held.get("reconcile_wait") == 3)
    assert sms.sent == [] and sms.asked == []
    clock.now = MONDAY_NOON + timedelta(seconds=61)
    async with running(d):
        await until(lambda: states(fast_rt, b.campaign_id)["880002"][0] == "done"
                    and d.stats.held.get("reconcile_unavailable") == 1)
    assert [i.destination for i in sms.sent] == ["+79005550002"]
    st = states(fast_rt, b.campaign_id)
    assert st["880001"] == ("done", "positive", "delivered") and st["880002"] == ("done", "positive", "accepted")
    assert st["880003"] == ("pending", None, None)
    asked = {dest: (since, until_, body) for dest, since, until_, body in sms.asked}
    assert asked["+79005550001"] == (MONDAY_NOON - timedelta(seconds=1), clock.now, "Долг 123456 коп.")
    with fast_rt.sessions() as s:
        adopted = s.scalars(select(Attempt).where(Attempt.provider_id == "SM77")).one()
    assert adopted.disposition == "reconciled:delivered" and adopted.duplicate_of is not None
    assert adopted.detail["reconciled_from_attempt"] == adopted.duplicate_of
