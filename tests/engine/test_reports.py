"""Provider reports applied to their attempts: stray reports cannot starve genuine ones (issue 8
item 6), and temporary delivery failures retry by the channel's policy (issue 8 item 7). AI-14.
On both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, text

from autoinform import db, deliveries
from autoinform.channels.base import SendResult
from autoinform.channels.twilio_status import provider_status
from autoinform.config import ChannelLimits, DispatchSettings
from autoinform.dispatch import Dispatcher
from autoinform.models import Attempt, Channel, Delivery, DeliveryState, Outcome, ProviderEvent
from autoinform.runtime import Runtime
from tests.engine.builders import Person, SimpleRenderer, campaign, users
from tests.engine.test_dispatch import MONDAY_NOON, Clock, ScriptedChannel, drive, states


@pytest.fixture
def fast_rt(rt: Runtime) -> Runtime:
    rt.settings.dispatch = DispatchSettings(
        batch_size=50, poll_interval_s=0.01, unmatched_status_s=3600,
        email=ChannelLimits(concurrency=2, max_attempts=3, retry_delay_s=60),
        sms=ChannelLimits(concurrency=2, max_attempts=2, retry_delay_s=60))
    users(rt)
    return rt


def pending(sid: str) -> SendResult:
    return SendResult(None, "pending", provider_id=sid)


def stray_reports(rt: Runtime, count: int, received_at: datetime, prefix: str) -> None:
    rows = [{"channel": Channel.SMS, "provider_id": f"{prefix}{i:05d}", "status": "delivered",
             "outcome": Outcome.POSITIVE, "reason": "delivered", "detail": {}, "retry": False,
             "received_at": received_at} for i in range(count)]
    with db.transaction(rt.sessions) as s:
        s.execute(insert(ProviderEvent), rows)


def delivery(rt: Runtime, campaign_id: int) -> Delivery:
    with rt.sessions() as s:
        return s.scalars(select(Delivery).where(Delivery.campaign_id == campaign_id)).one()


async def test_stray_reports_cannot_starve_a_genuine_one_and_are_retired_in_time(fast_rt: Runtime) -> None:
    """Issue 8 item 6: 1,001 reports matching no attempt come first; the genuine report after them
    is applied at once. Strays older than dispatch.unmatched_status_s are then retired with a
    reason, counted and logged; younger ones are kept for their attempt."""
    b = campaign(fast_rt, [Person("960001", mobile="+79001113301")], channels=[Channel.SMS], start=MONDAY_NOON)
    sms = ScriptedChannel(Channel.SMS, {"+79001113301": [pending("SMgenuine")]})
    clock = Clock(MONDAY_NOON)
    d = Dispatcher(fast_rt, {Channel.SMS: sms}, SimpleRenderer(), worker="w1", clock=clock)
    await drive(d, lambda: states(fast_rt, b.campaign_id)["960001"][0] == "awaiting")
    stray_reports(fast_rt, 1001, MONDAY_NOON - timedelta(hours=2), "SMold")
    stray_reports(fast_rt, 5, MONDAY_NOON - timedelta(minutes=5), "SMyoung")

    await d.on_status(provider_status("SMgenuine", "delivered", None))
    assert states(fast_rt, b.campaign_id)["960001"] == ("done", "positive", "delivered")

    await d.housekeeping()
    assert d.stats.retired_reports == 1001
    with fast_rt.sessions() as s:
        assert deliveries.report_counts(s) == {"applied": 1, deliveries.NO_MATCHING_ATTEMPT: 1001, "waiting": 5}
        young = s.scalars(select(ProviderEvent).where(ProviderEvent.provider_id.like("SMyoung%"))).all()
        assert all(e.applied_at is None and e.retired_reason is None for e in young)
    # A young stray whose attempt turns up later (an interrupted attempt settled by find_sent)
    # is still applied to it.
    with db.transaction(fast_rt.sessions) as s:
        a = s.scalars(select(Attempt)).one()
        s.add(Attempt(delivery_id=a.delivery_id, channel=Channel.SMS, destination=a.destination,
                      provider_id="SMyoung00003", started_at=MONDAY_NOON, ended_at=MONDAY_NOON))
    clock.now += timedelta(minutes=1)
    await d.housekeeping()
    with fast_rt.sessions() as s:
        assert deliveries.report_counts(s) == {"applied": 2, deliveries.NO_MATCHING_ATTEMPT: 1001, "waiting": 4}


async def test_retirement_keeps_reports_for_the_configured_time(fast_rt: Runtime) -> None:
    fast_rt.settings.dispatch.unmatched_status_s = 600
    stray_reports(fast_rt, 3, MONDAY_NOON - timedelta(minutes=11), "SMa")
    stray_reports(fast_rt, 2, MONDAY_NOON - timedelta(minutes=9), "SMb")
    d = Dispatcher(fast_rt, {}, SimpleRenderer(), worker="w1", clock=Clock(MONDAY_NOON))
    await d.housekeeping()
    assert d.stats.retired_reports == 3
    with fast_rt.sessions() as s:
        assert deliveries.report_counts(s) == {deliveries.NO_MATCHING_ATTEMPT: 3, "waiting": 2}


async def test_an_unreachable_handset_is_tried_again_then_ends_undelivered(fast_rt: Runtime) -> None:
    """Issue 8 item 7: Twilio 30003 (unreachable handset) is temporary: the delivery goes back to
    pending for the SMS policy's retry delay, inside the campaign's window, and is sent again;
    after max_attempts (2 here) it ends negative 'undelivered' with the error code kept."""
    b = campaign(fast_rt, [Person("960101", mobile="+79001113302")], channels=[Channel.SMS], start=MONDAY_NOON)
    sms = ScriptedChannel(Channel.SMS, {"+79001113302": [pending("SMtry1"), pending("SMtry2")]})
    clock = Clock(MONDAY_NOON)
    d = Dispatcher(fast_rt, {Channel.SMS: sms}, SimpleRenderer(), worker="w1", clock=clock)
    await drive(d, lambda: states(fast_rt, b.campaign_id)["960101"][0] == "awaiting")

    await d.on_status(provider_status("SMtry1", "undelivered", 30003))
    first = delivery(fast_rt, b.campaign_id)
    assert (first.state, first.attempts) == (DeliveryState.PENDING, 1)
    assert MONDAY_NOON + timedelta(seconds=50) <= first.next_attempt_at <= MONDAY_NOON + timedelta(seconds=70)
    assert len(sms.sent) == 1

    await drive(d, lambda: states(fast_rt, b.campaign_id)["960101"][0] == "awaiting", clock,
                step=timedelta(seconds=30))
    assert [o.destination for o in sms.sent] == ["+79001113302"] * 2
    await d.on_status(provider_status("SMtry2", "undelivered", 30003))
    assert states(fast_rt, b.campaign_id)["960101"] == ("done", "negative", "undelivered")
    with fast_rt.sessions() as s:
        attempts = s.scalars(select(Attempt).order_by(Attempt.id)).all()
    assert [(a.provider_id, a.reason, a.retry, a.detail["error_code"]) for a in attempts] == [
        ("SMtry1", "undelivered", True, "30003"), ("SMtry2", "undelivered", True, "30003")]


async def test_a_temporary_failure_is_not_retried_past_the_campaigns_end(fast_rt: Runtime) -> None:
    b = campaign(fast_rt, [Person("960151", mobile="+79001113305")], channels=[Channel.SMS], start=MONDAY_NOON,
                 end=MONDAY_NOON + timedelta(seconds=30))
    sms = ScriptedChannel(Channel.SMS, {"+79001113305": [pending("SMlate")]})
    d = Dispatcher(fast_rt, {Channel.SMS: sms}, SimpleRenderer(), worker="w1", clock=Clock(MONDAY_NOON))
    await drive(d, lambda: states(fast_rt, b.campaign_id)["960151"][0] == "awaiting")
    await d.on_status(provider_status("SMlate", "undelivered", 30001))
    assert states(fast_rt, b.campaign_id)["960151"] == ("done", "negative", "undelivered")


async def test_a_spam_filtered_sms_is_not_retried(fast_rt: Runtime) -> None:
    """Issue 8 item 7: 30007 (carrier spam filter) is permanent: negative at once without another
    consented channel, the next channel at once with one."""
    alone = campaign(fast_rt, [Person("960201", mobile="+79001113303")], channels=[Channel.SMS],
                     start=MONDAY_NOON, name="alone")
    chained = campaign(fast_rt, [Person("960202", mobile="+79001113304", email="f@example.ru")],
                       channels=[Channel.SMS, Channel.EMAIL], start=MONDAY_NOON, name="chained")
    sms = ScriptedChannel(Channel.SMS, {"+79001113303": [pending("SMspam1")], "+79001113304": [pending("SMspam2")]})
    email = ScriptedChannel(Channel.EMAIL)
    d = Dispatcher(fast_rt, {Channel.SMS: sms, Channel.EMAIL: email}, SimpleRenderer(), worker="w1",
                   clock=Clock(MONDAY_NOON))
    await drive(d, lambda: states(fast_rt, alone.campaign_id)["960201"][0] == "awaiting"
                and states(fast_rt, chained.campaign_id)["960202"][0] == "awaiting")
    await d.on_status(provider_status("SMspam1", "undelivered", 30007))
    await d.on_status(provider_status("SMspam2", "undelivered", 30007))
    assert states(fast_rt, alone.campaign_id)["960201"] == ("done", "negative", "undelivered")
    await drive(d, lambda: states(fast_rt, chained.campaign_id)["960202"][0] == "done")
    assert states(fast_rt, chained.campaign_id)["960202"] == ("done", "positive", "accepted")
    assert len(sms.sent) == 2 and [o.destination for o in email.sent] == ["f@example.ru"]



async def test_two_engines_apply_a_report_once(fast_rt: Runtime) -> None:
    """Issue 8 item 6 on PostgreSQL: while one engine applies a report (its transaction still open),
    another engine's pass skips that row instead of applying it again or waiting on its lock."""
    if fast_rt.settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite has a single writer: a second pass waits its turn, nothing to skip")
    b = campaign(fast_rt, [Person("960301", mobile="+79001113306")], channels=[Channel.SMS], start=MONDAY_NOON)
    sms = ScriptedChannel(Channel.SMS, {"+79001113306": [pending("SMonce")]})
    d = Dispatcher(fast_rt, {Channel.SMS: sms}, SimpleRenderer(), worker="w1", clock=Clock(MONDAY_NOON))
    await drive(d, lambda: states(fast_rt, b.campaign_id)["960301"][0] == "awaiting")
    with db.transaction(fast_rt.sessions) as s:
        deliveries.store_status(s, provider_status("SMonce", "delivered", None), now=MONDAY_NOON)
    with db.transaction(fast_rt.sessions) as first, db.transaction(fast_rt.sessions) as second:
        assert deliveries.apply_statuses(first, now=MONDAY_NOON, policies=d.policies) == 1
        first.flush()
        second.execute(text("SET LOCAL lock_timeout = '2s'"))  # a wait would fail, not hang
        assert deliveries.apply_statuses(second, now=MONDAY_NOON, policies=d.policies) == 0
    assert states(fast_rt, b.campaign_id)["960301"] == ("done", "positive", "delivered")
