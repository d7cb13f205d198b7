"""A call whose end the engine never saw is decided from Asterisk's CDR (issue 10 item 2; AI-2,
AI-14): cdr_csv's Master.csv, parsed (rows as Asterisk 22 writes them) and read on the real
Asterisk after the AMI link was lost while the call rang and ended."""

from __future__ import annotations

import asyncio
from pathlib import Path

from autoinform.channels import phone_cdr
from autoinform.channels.phone import PhoneChannel
from autoinform.models import Outcome
from ivr.ami import AmiClient
from tests.asterisk.prebuilt import AsteriskInstance
from tests.asterisk.tcp_proxy import TcpProxy
from tests.asterisk.test_phone_channel import item, phone

# Rows as Asterisk 22.10.1 wrote them (cdr.conf of tests/asterisk/prebuilt.py): a busy call's two
# Local legs, an answered one, one never answered (an earlier engine run's).
MASTER_CSV = (Path(__file__).resolve().parents[1] / "fixtures" / "asterisk" / "Master.csv").read_text()
BUSY_LATER, NO_ANSWER_LATER = "+79000005001", "+79000005002"


def test_parse_and_pick() -> None:
    records = phone_cdr.parse(MASTER_CSV + '"cut short","x"\n')
    assert len(records) == 4
    busy = phone_cdr.pick(records, uniqueid="ai-91-abc")
    assert busy is not None and busy.outcome() == (Outcome.NEGATIVE, "busy", True)
    assert busy.evidence()["disposition"] == "BUSY"
    answered = phone_cdr.pick(records, uniqueid="ai-90-abc")
    assert answered is not None and answered.answered and answered.outcome() is None and answered.billsec == 1
    # an earlier engine run's call: by the attempt's prefix, never its second leg
    later = phone_cdr.pick(records, prefix="ai-92-")
    assert later is not None and later.outcome() == (Outcome.NEGATIVE, "no_answer", True)
    assert phone_cdr.pick(records, uniqueid="ai-91-abc;2") is None
    assert phone_cdr.pick(records, prefix="ai-9-") is None


def test_read_tail_starts_at_a_line(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    assert phone_cdr.lookup(path, uniqueid="ai-91-abc") is None  # no file yet
    path.write_text(MASTER_CSV)
    tail = phone_cdr.read_tail(path, tail_bytes=len(MASTER_CSV.splitlines()[-1]) + 10)
    assert [r.uniqueid for r in phone_cdr.parse(tail)] == ["ai-92-def"]
    assert phone_cdr.lookup(path, uniqueid="ai-90-abc") is not None


async def _lose_link_while_ringing(channel: PhoneChannel, proxy: TcpProxy, asterisk: AsteriskInstance,
                                   attempt_id: int, number: str) -> str:
    """Send; once Asterisk has the call ringing, the link goes down until the call has ended there.
    Returns the send's disposition (the response never came)."""
    async with AmiClient(asterisk.ami_settings(admin=True)) as admin:
        send = asyncio.create_task(channel.send(item(attempt_id, number)))

        async def ours_live() -> bool:
            return any(c.get("Uniqueid", "").startswith(f"ai-{attempt_id}-") for c in await admin.core_show_channels())
        async with asyncio.timeout(10):
            while not await ours_live():
                await asyncio.sleep(0.05)
        assert proxy.hold() >= 1
        result = await asyncio.wait_for(send, 10)
        assert (result.outcome, result.reason, result.provider_id) == (None, "pending", f"call-{attempt_id}")
        async with asyncio.timeout(10):
            while await ours_live():
                await asyncio.sleep(0.1)
    proxy.resume()
    return str(result.disposition)


async def test_unseen_end_decided_from_the_cdr(asterisk: AsteriskInstance) -> None:
    """The AMI link lost while two calls ring; both end (busy, no answer) while it is down. On
    reconnect the calls are gone from CoreShowChannels, and their results come from the CDR at
    once (retried as busy / no answer), with the CDR's row as evidence; no slot is left held."""
    proxy = TcpProxy("127.0.0.1", asterisk.ami_port)
    await proxy.start()
    try:
        async with phone(asterisk, ami_port=proxy.port, cdr=True, ring_timeout_s=5) as (channel, reports):
            dispositions = [await _lose_link_while_ringing(channel, proxy, asterisk, 601, BUSY_LATER),
                            await _lose_link_while_ringing(channel, proxy, asterisk, 602, NO_ANSWER_LATER)]
            assert set(dispositions) <= {"response_lost", "originate_unconfirmed"}
            got = {s.provider_id: s for s in await reports.wait(2, timeout_s=20)}
            await channel.wait_idle(10)
    finally:
        await proxy.close()
    busy, no_answer = got["call-601"], got["call-602"]
    assert (busy.outcome, busy.reason, busy.retry) == (Outcome.NEGATIVE, "busy", True)
    assert busy.detail["cdr"]["disposition"] == "BUSY" and busy.detail["cdr"]["uniqueid"].startswith("ai-601-")
    assert (no_answer.outcome, no_answer.reason, no_answer.retry) == (Outcome.NEGATIVE, "no_answer", True)
    assert proxy.accepted >= 2


async def test_unseen_end_without_cdr_is_interrupted(asterisk: AsteriskInstance) -> None:
    """The same lost link on a server with no CDR configured: nothing tells how the call went, so
    nothing is reported by itself, and poll() ends it `interrupted`, retried (the dispatcher then
    records the next call as its possible duplicate), never a silent guess."""
    proxy = TcpProxy("127.0.0.1", asterisk.ami_port)
    await proxy.start()
    try:
        async with phone(asterisk, ami_port=proxy.port, cdr=False, ring_timeout_s=5) as (channel, reports):
            await _lose_link_while_ringing(channel, proxy, asterisk, 603, BUSY_LATER)
            await channel.wait_idle(10)  # the reconnect's reconcile freed the slot
            status = await channel.poll("call-603")
    finally:
        await proxy.close()
    assert not reports.items
    assert status is not None
    assert (status.outcome, status.reason, status.retry) == (Outcome.NEGATIVE, "interrupted", True)
