"""No call twice without it being recorded (issue 10 item 2; AI-2, AI-14): a phone campaign over
the dispatcher and the real Asterisk while (a) the AMI link is cut mid-campaign by a loopback proxy
and (b) Asterisk itself is stopped and started. Every customer ends with exactly one final result,
a customer whose flow ran twice has the second attempt recorded as a possible duplicate of an
interrupted one, none is lost, and the campaign completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from autoinform.channels.base import ProviderStatus
from autoinform.channels.phone import PhoneChannel, provider_id
from autoinform.config import AsteriskServer, ChannelLimits, DispatchSettings, IvrSettings, PhoneSettings
from autoinform.dispatch import Dispatcher
from autoinform.models import Attempt, Campaign, CampaignState, Channel, Delivery, DeliveryState, Outcome
from autoinform.runtime import Runtime
from ivr.router import Router
from ivr.server import FastAgiServer
from ivr.session import AgiSession
from tests.asterisk.prebuilt import AsteriskInstance
from tests.asterisk.tcp_proxy import TcpProxy
from tests.engine.builders import Person, SimpleRenderer, campaign, users

AST = ZoneInfo("Europe/Astrakhan")
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=AST)
CUSTOMERS = 20


class Clock:
    """Real time from Monday noon (the window open); `skip()` jumps ahead so that results awaited
    past their status timeout are asked for at once."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return MONDAY_NOON + timedelta(seconds=time.monotonic() - self.t0) + self.offset

    def skip(self, by: timedelta) -> None:
        self.offset += by


@dataclass
class Heard:
    """What the stand-in flow saw: one entry per call that reached /notify, by delivery."""

    calls: Counter[int] = field(default_factory=Counter)


def notify_flow(channel: PhoneChannel, heard: Heard) -> Router:
    async def flow(session: AgiSession) -> None:
        attempt = int(session.query["attempt"])
        heard.calls[int(session.query.get("delivery", "0") or 0)] += 1
        content = channel.notice_for(attempt)
        with contextlib.suppress(Exception):
            await session.exec("Wait", "1")
        await channel.report(ProviderStatus(
            Channel.PHONE, provider_id(attempt), "heard" if content else "unknown_call",
            Outcome.POSITIVE if content else Outcome.NEGATIVE, "heard" if content else "failed"))
        with contextlib.suppress(Exception):
            await session.hangup()
    router = Router()
    router.add("notify", flow)
    return router


@contextlib.asynccontextmanager
async def phone_campaign(rt: Runtime, asterisk: AsteriskInstance, ami_port: int
                         ) -> AsyncIterator[tuple[Dispatcher, PhoneChannel, Heard, Clock, int]]:
    rt.settings.dispatch = DispatchSettings(batch_size=50, poll_interval_s=0.05, status_poll_budget_s=10,
                                            phone=ChannelLimits(concurrency=8, max_attempts=3, retry_delay_s=2))
    users(rt)
    b = campaign(rt, [Person(f"95{i:04d}", phone=f"+79000001{i:03d}") for i in range(CUSTOMERS)],
                 channels=[Channel.PHONE], start=MONDAY_NOON)
    agi = FastAgiServer(IvrSettings(port=0, command_timeout_s=10, shutdown_grace_s=1), Router())
    await agi.start()
    ami = asterisk.ami_settings(port=ami_port)
    server = AsteriskServer(**ami.model_dump(), name="ast1", dial_template="Local/{number}@test-phone",
                            number_format="8XXXXXXXXXX", max_channels=8, calls_per_second=50,
                            cdr_csv=asterisk.cdr_csv,
                            variables={"AUTOINFORM_AGI": f"agi://127.0.0.1:{agi.port}"})
    channel = PhoneChannel(PhoneSettings(servers=[server], ring_timeout_s=5, max_call_s=20, reconcile_s=1))
    heard = Heard()
    agi.router = notify_flow(channel, heard)
    clock = Clock()
    d = Dispatcher(rt, {Channel.PHONE: channel}, SimpleRenderer(), worker="w1", clock=clock)
    channel.bind_status_sink(d.on_status)
    await channel.start()
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop))
    try:
        yield d, channel, heard, clock, b.campaign_id
    finally:
        stop.set()
        await task
        await channel.close()
        await agi.shutdown()


def attempts(rt: Runtime) -> list[Attempt]:
    with rt.sessions() as s:
        return list(s.scalars(select(Attempt).order_by(Attempt.id)))


async def until_done(rt: Runtime, d: Dispatcher, clock: Clock, channel: PhoneChannel, cid: int,
                     seconds: float = 120) -> None:
    """Housekeeping as the scheduler runs it; once only results are awaited and nothing is live on
    Asterisk, the clock skips past the status timeout so that results never reported are asked of
    Asterisk (poll)."""
    async with asyncio.timeout(seconds):
        while True:
            await d.housekeeping()
            with rt.sessions() as s:
                state = s.get(Campaign, cid).state  # type: ignore[union-attr]
                left = set(s.scalars(select(Delivery.state).where(Delivery.campaign_id == cid,
                                                                  Delivery.state != DeliveryState.DONE)))
            if state is not CampaignState.RUNNING:
                return
            # Only results awaited are skipped to: retries keep their real delays.
            if left == {DeliveryState.AWAITING} and not any(srv.slots for srv in channel.servers):
                clock.skip(timedelta(seconds=channel.status_timeout_s + 1))
            await asyncio.sleep(0.2)


async def until(condition: Callable[[], bool] | Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    async with asyncio.timeout(seconds):
        while True:
            got = condition()
            if not isinstance(got, bool):
                got = await got
            if got:
                return
            await asyncio.sleep(0.02)


def check_no_silent_second_call(rt: Runtime, heard: Heard, cid: int) -> dict[str, int]:
    with rt.sessions() as s:
        rows = list(s.scalars(select(Delivery).where(Delivery.campaign_id == cid)))
    assert len(rows) == CUSTOMERS
    assert all(r.state is DeliveryState.DONE and r.outcome is not None for r in rows), \
        [(r.id, r.state, r.reason) for r in rows if r.state is not DeliveryState.DONE]
    by_delivery: dict[int, list[Attempt]] = {}
    for a in attempts(rt):
        by_delivery.setdefault(a.delivery_id, []).append(a)
    for r in rows:
        tries = by_delivery[r.id]
        assert all(a.ended_at is not None and a.outcome is not None for a in tries), tries
        if heard.calls[r.id] > 1 or len(tries) > 1:
            # A second call only after one whose end was never seen, and recorded as its duplicate.
            later = tries[1:]
            assert all(a.duplicate_of is not None for a in later
                       if heard.calls[r.id] > 1), [(a.id, a.reason, a.duplicate_of) for a in tries]
    reasons = Counter(r.reason for r in rows)
    # None lost: a customer ends heard, or negative `no_report` only when a call reached them (or
    # may have: its Originate was unconfirmed when the link or Asterisk went) and no result came.
    assert set(reasons) <= {"heard", "no_report"}, (reasons, [(a.delivery_id, a.reason, a.disposition)
                                                              for a in attempts(rt) if a.reason != "heard"])
    for r in rows:
        if r.reason == "heard":
            assert heard.calls[r.id] >= 1
    return dict(reasons)


async def test_ami_cut_mid_campaign(sqlite_rt: Runtime, asterisk: AsteriskInstance) -> None:
    """Issue 10 item 2a (AI-2, AI-14): the AMI link dropped while calls are ringing and live."""
    proxy = TcpProxy("127.0.0.1", asterisk.ami_port)
    await proxy.start()
    try:
        async with phone_campaign(sqlite_rt, asterisk, proxy.port) as (d, channel, heard, clock, cid):
            await until(lambda: sum(heard.calls.values()) >= 4)
            assert proxy.cut() >= 1
            await until_done(sqlite_rt, d, clock, channel, cid)
            reasons = check_no_silent_second_call(sqlite_rt, heard, cid)
    finally:
        await proxy.close()
    assert proxy.accepted >= 2  # the client came back through the proxy
    assert reasons.get("heard", 0) >= 1


async def test_asterisk_restarted_mid_campaign(sqlite_rt: Runtime, asterisk: AsteriskInstance) -> None:
    """Issue 10 item 2b (AI-2, AI-14): Asterisk stopped (live calls die with it) and started again.
    A call placed just before the stop fails with no cause while the dialplan is still loaded (the
    Shutdown event comes only once every channel is gone): retried as the server's failure, never
    the customer's (phone.STOP_GRACE_S)."""
    async with phone_campaign(sqlite_rt, asterisk, asterisk.ami_port) as (d, channel, heard, clock, cid):
        await until(lambda: sum(heard.calls.values()) >= 4)
        await asyncio.to_thread(asterisk.stop)
        await asyncio.to_thread(asterisk.start)
        await until_done(sqlite_rt, d, clock, channel, cid)
        reasons = check_no_silent_second_call(sqlite_rt, heard, cid)
    assert reasons.get("heard", 0) >= 1
