"""E-mail bounces at engine level (issue 8 item 8, AI-9/AI-12/AI-14): an e-mail → SMS campaign
through a relay (aiosmtpd), bounces dropped into the bounce maildir in the shapes real MTAs send.
A bounced customer moves on to SMS with the DSN status on the e-mail attempt; the others end
positive `delivered_no_bounce` once the quiet period has passed on the dispatcher's clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from autoinform.channels.email import EmailChannel
from autoinform.config import SmtpSettings
from autoinform.dispatch import Dispatcher
from autoinform.models import Attempt, Channel, Customer, Delivery, DeliveryState, Outcome
from autoinform.runtime import Runtime
from tests.channels.test_bounces import FIXTURES, SECRET
from tests.engine.builders import Person, SimpleRenderer, campaign
from tests.engine.test_dispatch import MONDAY_NOON, Clock, ScriptedChannel, running, states, until
from tests.fakes.smtp_sink import SmtpSink

QUIET = timedelta(hours=2)
FIXTURE_TOKENS = {"postfix": b"ai4243.4b58da28a2a448f6", "exim": b"ai4244.12c3466b1f4dd665"}


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


def drop_bounce(box: Path, token: str, shape: str, n: int) -> None:
    data = (FIXTURES / f"{shape}.eml").read_bytes().replace(FIXTURE_TOKENS[shape], token.encode())
    (box / "new" / f"1764572533.M{n}.mx").write_bytes(data)


def email_attempts(rt: Runtime) -> dict[str, Attempt]:
    with rt.sessions() as s:
        acc = dict(s.execute(select(Customer.id, Customer.account)).all())
        rows = s.execute(select(Attempt, Delivery.customer_id).join(Delivery, Attempt.delivery_id == Delivery.id)
                         .where(Attempt.channel == Channel.EMAIL)).all()
        return {acc[cid]: a for a, cid in rows}


async def test_bounced_customer_moves_to_sms_and_the_rest_end_delivered_no_bounce(
        fast_rt: Runtime, sink: SmtpSink, tmp_path: Path) -> None:
    """Issue 8 item 8, AI-9/AI-14: a relay's 250 leaves e-mail awaiting; a Postfix bounce found by
    the periodic scan moves its customer to SMS at once, an Exim bounce (matched by Message-ID)
    found by the poll at the quiet period's end does the same, and the others end positive
    delivered_no_bounce after the quiet period, not before."""
    box = tmp_path / "bounces"
    for d in ("new", "cur", "tmp"):
        (box / d).mkdir(parents=True)
    people = [Person("910001", email="ok1@example.ru", mobile="+79001230001"),
              Person("910002", email="gone@example.ru", mobile="+79001230002"),
              Person("910003", email="late@example.ru", mobile="+79001230003"),
              Person("910004", email="ok2@example.ru", mobile="+79001230004")]
    b = campaign(fast_rt, people, channels=[Channel.EMAIL, Channel.SMS], start=MONDAY_NOON)
    clock = Clock(MONDAY_NOON)
    email = EmailChannel(SmtpSettings(port=sink.port, sender="info@energo.example.ru", timeout=5,
                                      bounce_address="bounces@energo.example.ru", bounce_secret=SECRET,
                                      bounce_maildir=box, quiet_period_s=QUIET.total_seconds()),
                         local_hostname="autoinform.test")
    sms = ScriptedChannel(Channel.SMS)
    d = Dispatcher(fast_rt, {Channel.EMAIL: email, Channel.SMS: sms}, SimpleRenderer(), worker="w1", clock=clock)
    email.bind_status_sink(d.on_status)
    await email.start()
    try:
        async with running(d):
            await until(lambda: set(v[0] for v in states(fast_rt, b.campaign_id).values()) == {"awaiting"})
            assert len(sink.messages) == 4 and sms.sent == []
            tokens = {a: att.provider_id for a, att in email_attempts(fast_rt).items()}
            envelopes = {m.rcpt_tos[0]: m.mail_from for m in sink.messages}
            assert envelopes["gone@example.ru"] == f"bounces+{tokens['910002']}@energo.example.ru"

            # A bounce arrives during the quiet period; the scheduler's periodic scan reads it.
            drop_bounce(box, tokens["910002"] or "", "postfix", 1)
            assert await email.scan_bounces()
            await until(lambda: states(fast_rt, b.campaign_id)["910002"][0] == "done")
            assert [o.destination for o in sms.sent] == ["+79001230002"]

            # Another comes in before the deadline but no scan ran since; half-way nothing is final.
            drop_bounce(box, tokens["910003"] or "", "exim", 2)
            clock.now += QUIET / 2
            await d.housekeeping()
            assert states(fast_rt, b.campaign_id)["910001"][0] == "awaiting"

            clock.now += QUIET / 2 + timedelta(seconds=1)
            await d.housekeeping()  # deadline passed: polls read the mailbox first, then "no bounce"
            d.wake()
            await until(lambda: all(v[0] == "done" for v in states(fast_rt, b.campaign_id).values()))
    finally:
        await email.close()

    final = states(fast_rt, b.campaign_id)
    assert final["910001"] == final["910004"] == ("done", "positive", "delivered_no_bounce")
    assert final["910002"] == final["910003"] == ("done", "positive", "accepted")  # by SMS (AI-12)
    assert sorted(o.destination for o in sms.sent) == ["+79001230002", "+79001230003"]
    attempts = email_attempts(fast_rt)
    gone, late = attempts["910002"], attempts["910003"]
    assert (gone.outcome, gone.reason, gone.disposition) == (Outcome.NEGATIVE, "invalid_address", "5.1.1")
    assert (late.outcome, late.reason, late.detail.get("error_code")) == (Outcome.NEGATIVE, "invalid_address",
                                                                          "5.1.1")
    assert attempts["910001"].outcome is Outcome.POSITIVE
    with fast_rt.sessions() as s:
        channels = {d.channel for d in s.scalars(select(Delivery).where(Delivery.campaign_id == b.campaign_id,
                                                                        Delivery.state == DeliveryState.DONE))}
    assert channels == {Channel.EMAIL, Channel.SMS}
    assert email.bounces is not None and email.bounces.counters.final == 2


async def test_engine_binds_bounces_to_the_dispatcher_and_schedules_the_scan(fast_rt: Runtime, tmp_path: Path) -> None:
    """Issue 8 item 8: in `autoinform run` the e-mail channel's bounces go to the dispatcher, and
    the scheduler reads the bounce mailbox every smtp.bounce_scan_s."""
    from autoinform.engine import Engine, EngineOptions

    box = tmp_path / "bounces"
    for d in ("new", "cur", "tmp"):
        (box / d).mkdir(parents=True)
    email = EmailChannel(SmtpSettings(bounce_secret=SECRET, bounce_maildir=box, bounce_scan_s=60))
    engine = Engine(fast_rt, senders={Channel.EMAIL: email}, options=EngineOptions(web=False, ivr=False))
    drop_bounce(box, "ai1.0000000000000000", "postfix", 1)  # forged: counted, never applied
    assert await email.scan_bounces()
    assert email.bounces is not None and email.bounces.counters.forged == 1
    await engine.scheduler.start()
    try:
        assert "bounces-email" in engine.scheduler.jobs()
    finally:
        engine.scheduler.shutdown()
