"""The informing window at the instant of each Originate, for phone (issue 10 item 3; AI-13).

The send gate decides at the instant the call would leave, not when it was claimed: two customers
claimed together while the window is open, one phone worker; the first call is placed on the real
Asterisk and held on the worker while the clock moves to the instant under test; then the second
call either reaches Asterisk (19:59:59, an ordinary Saturday) or is never originated (its attempt
recorded as not sent, and why) and is released to the window's next opening (20:00:00, a Sunday,
a day off moved by the production calendar)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from autoinform.channels.base import Outgoing, ProviderStatus, SendResult
from autoinform.config import ChannelLimits
from autoinform.dispatch import Dispatcher
from autoinform.models import Attempt, Channel, Delivery, DeliveryState
from autoinform.runtime import Runtime
from ivr.ami import AmiClient
from tests.asterisk.prebuilt import AsteriskInstance
from tests.asterisk.test_phone_channel import phone
from tests.engine.builders import Person, SimpleRenderer, campaign, users
from tests.engine.test_dispatch import Clock, running, until

AST = ZoneInfo("Europe/Astrakhan")
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=AST)
INSTANTS = {
    "19:59:59": (datetime(2026, 12, 7, 19, 59, 59, tzinfo=AST), True),
    "20:00:00": (datetime(2026, 12, 7, 20, 0, 0, tzinfo=AST), False),
    "sunday": (datetime(2026, 12, 6, 12, 0, tzinfo=AST), False),
    "moved_day_off": (datetime(2025, 11, 3, 12, 0, tzinfo=AST), False),  # Monday, moved from Saturday 1 Nov
    "ordinary_saturday": (datetime(2026, 12, 5, 12, 0, tzinfo=AST), True),
}


@pytest.fixture
def db_url(tmp_path: object) -> str:
    """SQLite only: the window's rule is the engine's, not the backend's (both are covered in tests/engine)."""
    return f"sqlite:///{tmp_path}/test.db"


class HeldFirst:
    """The phone channel, the first send held on its worker (after its Originate) until `gate`."""

    def __init__(self, inner: object, clock: Clock) -> None:
        self.inner = inner
        self.clock = clock
        self.gate = asyncio.Event()
        self.sent: list[tuple[int, datetime, SendResult]] = []

    async def start(self) -> None: ...

    async def send(self, item: Outgoing) -> SendResult:
        at = self.clock()
        result: SendResult = await self.inner.send(item)  # type: ignore[attr-defined]
        self.sent.append((item.attempt_id, at, result))
        if len(self.sent) == 1:
            await self.gate.wait()
        return result

    async def poll(self, provider_id: str) -> ProviderStatus | None:
        return None

    async def close(self) -> None: ...


@pytest.mark.parametrize("case", list(INSTANTS))
async def test_window_decides_at_the_instant_of_the_originate(rt: Runtime, asterisk: AsteriskInstance,
                                                              case: str) -> None:
    """Issue 10 item 3, AI-13: 19:59:59 and an ordinary Saturday originate; 20:00:00, a Sunday and a
    moved day off do not (Asterisk never sees the call), the delivery released to the next opening."""
    instant, allowed = INSTANTS[case]
    users(rt)
    rt.settings.dispatch.phone = ChannelLimits(concurrency=1)
    # The clock jumps by hours (or back a year): the claim's lease must not be what holds the call.
    rt.settings.dispatch.lease_s = 400 * 86400
    people = [Person(f"93{case[:2]}0{i}", phone=f"+7900000{2100 + i:04d}") for i in (1, 2)]
    built = campaign(rt, people, channels=[Channel.PHONE], start=datetime(2025, 10, 1, 12, 0, tzinfo=AST),
                     end=datetime(2027, 3, 1, tzinfo=AST), name=f"window-{case}")
    clock = Clock(MONDAY_NOON)
    originated: list[str] = []
    async with phone(asterisk) as (channel, _reports), \
            AmiClient(asterisk.ami_settings(admin=True)) as admin:
        admin.subscribe("OriginateResponse", callback=lambda e: originated.append(e.get("Uniqueid")))
        held = HeldFirst(channel, clock)
        d = Dispatcher(rt, {Channel.PHONE: held}, SimpleRenderer(), worker="w1", clock=clock)
        async with running(d, release=held.gate):
            await until(lambda: d.stats.claimed == 2 and len(held.sent) == 1, 20)
            clock.now = instant
            held.gate.set()
            await until(lambda: len(held.sent) == 2 or sum(d.stats.held.values()) == 1, 20)
        first_id = held.sent[0][0]
    with rt.sessions() as s:
        attempts = list(s.scalars(select(Attempt).join(Delivery).where(Delivery.campaign_id == built.campaign_id)
                                  .order_by(Attempt.id)))
        deliveries = {dl.id: dl for dl in s.scalars(select(Delivery).where(Delivery.campaign_id == built.campaign_id))}
    assert held.sent[0][1] == MONDAY_NOON and attempts[0].id == first_id
    assert any(uid.startswith(f"ai-{first_id}-") for uid in originated)
    if allowed:
        assert len(held.sent) == 2 and held.sent[1][1] == instant
        second = held.sent[1][0]
        assert any(uid.startswith(f"ai-{second}-") for uid in originated)  # Asterisk placed it
        assert [a.reason for a in attempts] == ["busy", "busy"]
    else:
        assert len(held.sent) == 1 and d.stats.held == {"window_closed_before_send": 1}
        assert len(originated) == 1
        # never reached Asterisk: its attempt (written before the send) says so, and why
        assert [(a.reason, a.disposition) for a in attempts] == [
            ("busy", "reason 5 cause 17"), ("window_closed_before_send", "not_sent")]
        (waiting,) = [dl for i, dl in deliveries.items() if i != attempts[0].delivery_id]
        assert waiting.state is DeliveryState.PENDING
        assert waiting.next_attempt_at == rt.window.next_allowed(instant)
