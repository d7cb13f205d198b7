"""The /notify flow end to end on the real Asterisk 22 (issue 10 items 1 and 2; AI-1, AI-2, AI-8, AI-14).

A phone campaign through the dispatcher: the PhoneChannel originates each call on the test
Asterisk into the project's own [autoinform-notify] context (AMD, then AGI to the engine's FastAGI
server with the real notify route), which plays the project's prompt audio (cut short by the
fixture). Customers are Local channels into tests/asterisk/extensions-test.conf: they press 1, hang
up during step 2, listen without a key (with and without required steps), are an answering
machine, or press 0 for an operator who answers, or hang up in the queue before one does. Each
delivery ends with its outcome, and the evidence reaches the attempt's detail."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from autoinform.channels.phone import PhoneChannel
from autoinform.config import AsteriskServer, ChannelLimits, IvrSettings, PhoneSettings
from autoinform.content import Content, PhoneContent, PhoneStep, Recipient
from autoinform.dispatch import Dispatcher
from autoinform.models import Attempt, Channel, Customer, Delivery
from autoinform.runtime import Runtime
from ivr.flows.notify import notify_flow
from ivr.router import Router
from ivr.server import FastAgiServer
from tests.asterisk.prebuilt import AsteriskInstance
from tests.engine.builders import Person, campaign, users
from tests.engine.test_dispatch import Clock, running, until

AST = ZoneInfo("Europe/Astrakhan")
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=AST)
# account -> (the customer's number: its behaviour in [test-phone], expected outcome and reason)
CUSTOMERS = {
    "7300001": ("+79000003001", "positive", "confirmed"),
    "7300002": ("+79000003002", "negative", "hung_up_early"),
    "7300003": ("+79000003003", "negative", "no_input"),  # no step required
    "7300004": ("+79000003004", "positive", "heard"),  # every required step heard
    "7300005": ("+79000003005", "negative", "answering_machine"),
    "7300006": ("+79000003006", "positive", "transferred"),
    "7300007": ("+79000003007", "positive", "transferred"),
}
STEP_2 = ("debt_reminder/debt_intro", "debt_reminder/request", "common/account_intro", "common/hotline_intro",
          "cutoff_warning/warning", "cutoff_warning/request", "common/greeting", "debt_reminder/debt_intro",
          "debt_reminder/request", "common/account_intro")  # ten prompts of 0.3 s: 3 s


class Renderer:
    """Project prompts (installed by the fixture); step 2 required except for the no-input customer."""

    def render(self, scenario_id: int, channel: Channel, r: Recipient) -> Content:
        required = r.account != "7300003"
        return PhoneContent(steps=(PhoneStep("greeting", ("common/greeting",), "Здравствуйте.", required=required),
                                   PhoneStep("debt", STEP_2, "Долг.", required=required)),
                            confirm_key="1", operator_key="0", repeat_key="9")


@pytest.fixture
def db_url(tmp_path: object) -> str:
    """SQLite only: the calls are what is tested here (both backends store attempts in tests/engine)."""
    return f"sqlite:///{tmp_path}/test.db"


@contextlib.asynccontextmanager
async def engine(rt: Runtime, asterisk: AsteriskInstance, *, dial_template: str = "Local/{number}@test-phone",
                 variables: dict[str, str] | None = None) -> AsyncIterator[Dispatcher]:
    """Dispatcher + PhoneChannel on the test Asterisk + FastAGI with the real notify route."""
    agi = FastAgiServer(IvrSettings(port=0, command_timeout_s=20, shutdown_grace_s=1), Router())
    await agi.start()
    server = AsteriskServer(**asterisk.ami_settings().model_dump(), name="ast1",
                            dial_template=dial_template, number_format="8XXXXXXXXXX",
                            max_channels=10, calls_per_second=50,
                            variables={"AUTOINFORM_AGI": f"agi://127.0.0.1:{agi.port}", **(variables or {})})
    channel = PhoneChannel(PhoneSettings(servers=[server], ring_timeout_s=5, max_call_s=30))
    router = Router()
    router.add("notify", notify_flow(channel, key_timeout_ms=500, replays=0))
    agi.router = router
    d = Dispatcher(rt, {Channel.PHONE: channel}, Renderer(), worker="w1", clock=Clock(MONDAY_NOON))
    channel.bind_status_sink(d.on_status)
    await channel.start()
    try:
        async with running(d):
            yield d
            await channel.wait_idle(30)
    finally:
        await channel.close()
        await agi.shutdown()


def attempts(rt: Runtime, campaign_id: int) -> dict[str, Attempt]:
    with rt.sessions() as s:
        rows = s.execute(select(Customer.account, Attempt).join(Delivery, Attempt.delivery_id == Delivery.id)
                         .join(Customer, Delivery.customer_id == Customer.id)
                         .where(Delivery.campaign_id == campaign_id)).all()
        return {acc: a for acc, a in rows}


async def test_notify_flow_end_to_end(rt: Runtime, asterisk: AsteriskInstance) -> None:
    """Issue 10 items 1-2 (AI-2, AI-8, AI-14): seven customers called at once; each delivery ends
    with the flow's outcome and reason, the call's evidence (AMD status, prompts, keys with times,
    Uniqueid, server) on its attempt, and the operator transfer's outcome from the queue's events:
    answered after about 2 s, or abandoned by the caller."""
    users(rt)
    rt.settings.dispatch.phone = ChannelLimits(concurrency=10, max_attempts=1)
    people = [Person(acc, phone=number) for acc, (number, _, _) in CUSTOMERS.items()]
    built = campaign(rt, people, channels=[Channel.PHONE], start=MONDAY_NOON)

    def finished() -> bool:
        got = attempts(rt, built.campaign_id)
        return len(got) == len(CUSTOMERS) and all(a.outcome is not None for a in got.values()) and all(
            "transfer" in got[acc].detail for acc in ("7300006", "7300007"))

    async with engine(rt, asterisk):
        await until(finished, 40)
    got = attempts(rt, built.campaign_id)
    assert {acc: (a.outcome.value if a.outcome else None, a.reason) for acc, a in got.items()} == {
        acc: (outcome, reason) for acc, (_, outcome, reason) in CUSTOMERS.items()}, asterisk.log_tail()
    for acc, a in got.items():
        d: dict[str, Any] = a.detail
        assert d["server"] == "ast1" and d["uniqueid"].startswith(f"ai-{a.id}-"), (acc, d)
        assert d["uniqueid"] == d.get("uniqueid") and "amd" in d and "ended_at" in d, (acc, d)
    amd = {acc: a.detail["amd"] for acc, a in got.items()}
    assert amd["7300005"] == "MACHINE" and amd["7300001"] == "NOTSURE", amd
    confirmed = got["7300001"].detail
    assert [k["key"] for k in confirmed["keys"]] == ["1"] and confirmed["keys"][0]["at"]
    assert [p["step"] for p in confirmed["prompts"]] == ["greeting", "debt"]
    assert got["7300002"].detail["hung_up_step"] == "debt" and got["7300002"].detail["heard_steps"] == ["greeting"]
    assert got["7300003"].detail["keys"] == [] and got["7300004"].detail["heard_steps"] == ["debt", "greeting"]
    assert got["7300005"].detail["prompts"] == []  # a machine hears nothing
    answered, abandoned = got["7300006"].detail["transfer"], got["7300007"].detail["transfer"]
    assert (answered["result"], answered["answered"], answered["queue"]) == ("answered", True, "operators")
    assert 1 <= answered["wait_s"] <= 4 and answered["operator"]
    assert (abandoned["result"], abandoned["answered"]) == ("abandoned", False)
    assert abandoned["wait_s"] <= 2
    assert [k["key"] for k in got["7300006"].detail["keys"]] == ["0"]


async def _one_call(rt: Runtime, asterisk: AsteriskInstance, account: str, number: str, *, done: str = "",
                    **engine_args: Any) -> Attempt:
    """One customer called through the engine until the attempt has its outcome (and `done` in
    its detail, when given)."""
    users(rt)
    rt.settings.dispatch.phone = ChannelLimits(concurrency=1, max_attempts=1)
    built = campaign(rt, [Person(account, phone=number)], channels=[Channel.PHONE], start=MONDAY_NOON)

    def finished() -> bool:
        got = attempts(rt, built.campaign_id)
        return account in got and got[account].outcome is not None and (not done or done in got[account].detail)

    async with engine(rt, asterisk, **engine_args):
        await until(finished, 40)
    return attempts(rt, built.campaign_id)[account]


async def test_real_sip_call_confirmed_by_rfc4733_key(rt: Runtime, asterisk: AsteriskInstance) -> None:
    """Issue 10 part 4 (AI-1, AI-14): one real SIP call. The Originate dials PJSIP/<number>@loop
    (SIP to the same Asterisk, RTP media); the far side ([from-loop]) answers and presses 1 as an
    RFC 4733 event; the notify flow hears the key during step 2: positive, `confirmed`."""
    assert "rfc4733" in asterisk.cli("pjsip show endpoint loop").lower()
    a = await _one_call(rt, asterisk, "7300011", "+79000004001", dial_template="PJSIP/{number}@loop")
    d: dict[str, Any] = a.detail
    assert (a.outcome.value if a.outcome else None, a.reason) == ("positive", "confirmed"), (d, asterisk.log_tail())
    assert d["channel_name"].startswith("PJSIP/loop-"), d
    assert [k["key"] for k in d["keys"]] == ["1"] and d["amd"] in ("HUMAN", "NOTSURE")
    assert [p["step"] for p in d["prompts"]] == ["greeting", "debt"]


async def test_operator_queue_timeout(rt: Runtime, asterisk: AsteriskInstance) -> None:
    """Issue 10 part 3 (AI-8): key 0, and no operator answers within the queue's wait (3 s here,
    AUTOINFORM_OPERATOR_WAIT; queue `operators-away` of tests/asterisk/prebuilt.py): the attempt is
    `transferred` and its transfer `timeout`, not answered, after about 3 s in the queue."""
    a = await _one_call(rt, asterisk, "7300008", "+79000003008", done="transfer",
                        variables={"AUTOINFORM_OPERATORS": "operators-away", "AUTOINFORM_OPERATOR_WAIT": "3"})
    assert (a.outcome.value if a.outcome else None, a.reason) == ("positive", "transferred"), a.detail
    transfer = a.detail["transfer"]
    assert (transfer["result"], transfer["answered"], transfer["queue"]) == ("timeout", False, "operators-away")
    assert 2 <= transfer["wait_s"] <= 5 and "operator" not in transfer, transfer
