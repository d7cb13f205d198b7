"""Per-customer call limits at claim time (issue 10 part 2 "limits from settings", AI-13): at most N
call attempts per customer per local day and a minimum interval between two calls to the same
number. A delivery over a limit is released to the earliest instant allowed, not failed, and
counted in the ClaimReport. Both backends, a fake clock (the claim's `now`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from autoinform import db, deliveries
from autoinform.deliveries import CallLimits, ClaimReport
from autoinform.models import Attempt, Channel, Delivery, DeliveryState, Outcome
from autoinform.runtime import Runtime
from tests.engine.builders import Person, SimpleRenderer, campaign

AST = ZoneInfo("Europe/Astrakhan")
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=AST)
TUESDAY_OPENING = datetime(2026, 12, 8, 10, 0, tzinfo=AST)


def claim(rt: Runtime, now: datetime, limits: CallLimits) -> ClaimReport:
    with db.transaction(rt.sessions) as s:
        return deliveries.claim(s, now=now, limit=50, worker="w1", lease_s=60, window=rt.window,
                                renderer=SimpleRenderer(), call_limits=limits)


def busy_then_retry(rt: Runtime, report: ClaimReport, at: datetime) -> None:
    """The calls just claimed end busy and their deliveries are due again at once (a retry)."""
    with db.transaction(rt.sessions) as s:
        for w in report.work:
            s.execute(update(Attempt).where(Attempt.id == w.attempt_id)
                      .values(ended_at=at, outcome=Outcome.NEGATIVE, reason="busy", retry=True))
            s.execute(update(Delivery).where(Delivery.id == w.delivery_id)
                      .values(state=DeliveryState.PENDING, next_attempt_at=at, lease_owner=None, lease_until=None))


def delivery(rt: Runtime, campaign_id: int) -> list[Delivery]:
    with rt.sessions() as s:
        return list(s.scalars(select(Delivery).where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)))


async def test_calls_per_customer_per_day_then_next_local_day(fast_rt: Runtime) -> None:
    """Issue 10 part 2, AI-13: the third call of a local day waits for the next day's opening."""
    b = campaign(fast_rt, [Person("900001", phone="+79270000001")], channels=[Channel.PHONE], start=MONDAY_NOON)
    limits = CallLimits(per_day=2)
    for hour in (0, 1):
        at = MONDAY_NOON + timedelta(hours=hour)
        first = claim(fast_rt, at, limits)
        assert len(first.work) == 1 and first.limited == 0
        busy_then_retry(fast_rt, first, at + timedelta(minutes=1))
    third = claim(fast_rt, MONDAY_NOON + timedelta(hours=2), limits)
    assert third.work == [] and third.limited == 1 and not third.finalized
    (d,) = delivery(fast_rt, b.campaign_id)
    assert d.state is DeliveryState.PENDING and d.next_attempt_at == TUESDAY_OPENING
    # Tuesday is a new day: the call goes.
    assert len(claim(fast_rt, TUESDAY_OPENING, limits).work) == 1


async def test_minimum_interval_between_calls_to_the_same_number(fast_rt: Runtime) -> None:
    """Issue 10 part 2, AI-13: a retry within the interval waits until the last call + interval;
    two customers sharing one number in the same claim are not both called."""
    people = [Person("910001", phone="+79270000002"), Person("910002", phone="+79270000002"),
              Person("910003", phone="+79270000003")]
    b = campaign(fast_rt, people, channels=[Channel.PHONE], start=MONDAY_NOON)
    limits = CallLimits(min_interval=timedelta(hours=2))
    first = claim(fast_rt, MONDAY_NOON, limits)
    assert sorted(w.destination for w in first.work) == ["+79270000002", "+79270000003"]
    assert first.limited == 1
    shared = next(d for d in delivery(fast_rt, b.campaign_id) if d.state is DeliveryState.PENDING)
    assert shared.next_attempt_at == MONDAY_NOON + timedelta(hours=2)
    busy_then_retry(fast_rt, first, MONDAY_NOON + timedelta(minutes=1))
    again = claim(fast_rt, MONDAY_NOON + timedelta(hours=1), limits)
    assert again.work == [] and again.limited == 2  # (the shared number's second is not due yet)
    assert {d.next_attempt_at for d in delivery(fast_rt, b.campaign_id)} == {MONDAY_NOON + timedelta(hours=2)}
    later = claim(fast_rt, MONDAY_NOON + timedelta(hours=2), limits)
    assert len(later.work) == 2 and later.limited == 1  # the shared number: one of its two customers


async def test_limits_off_by_default_and_other_channels_untouched(fast_rt: Runtime) -> None:
    """Issue 10 part 2: the limits apply to calls only; with none set nothing waits."""
    campaign(fast_rt, [Person("920001", phone="+79270000004", email="a@example.ru")],
             channels=[Channel.EMAIL, Channel.PHONE], start=MONDAY_NOON)
    report = claim(fast_rt, MONDAY_NOON, CallLimits(per_day=1, min_interval=timedelta(days=1)))
    assert [w.channel for w in report.work] == [Channel.EMAIL] and report.limited == 0


async def test_limit_past_the_campaign_end_ends_call_limit(fast_rt: Runtime) -> None:
    """Issue 10 part 2: a delivery the limits hold past its campaign's end ends `call_limit`."""
    b = campaign(fast_rt, [Person("930001", phone="+79270000005")], channels=[Channel.PHONE],
                 start=MONDAY_NOON, end=MONDAY_NOON + timedelta(hours=4))
    limits = CallLimits(per_day=1)
    first = claim(fast_rt, MONDAY_NOON, limits)
    busy_then_retry(fast_rt, first, MONDAY_NOON + timedelta(minutes=1))
    second = claim(fast_rt, MONDAY_NOON + timedelta(hours=1), limits)
    assert second.finalized == {"call_limit": 1}
    (d,) = delivery(fast_rt, b.campaign_id)
    assert (d.state, d.outcome, d.reason) == (DeliveryState.DONE, Outcome.NEGATIVE, "call_limit")
