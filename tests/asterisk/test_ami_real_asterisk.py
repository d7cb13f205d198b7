"""The AMI client against a real Asterisk 22 with the project's manager.conf user and dialplan
(issue 10 parts 1 and 4; AI-1, AI-9, AI-14). Calls are Local channels into test contexts
(tests/asterisk/extensions-test.conf), a second or two each, run side by side."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from ivr.ami import AmiClient, AmiState, OriginateReason
from ivr.errors import AmiActionError, AmiAuthenticationFailed
from tests.asterisk.prebuilt import AsteriskInstance


def _cid() -> str:
    return f"ai-{uuid.uuid4().hex[:12]}"


async def test_login_ping_and_refused_secret(asterisk: AsteriskInstance) -> None:
    async with AmiClient(asterisk.ami_settings()) as ami:
        assert ami.state is AmiState.UP
        pong = await ami.ping()
        assert pong["Ping"] == "Pong"
    async with AmiClient(asterisk.ami_settings(auth="md5")) as ami:
        assert (await ami.ping())["Ping"] == "Pong"
    bad = asterisk.ami_settings(secret="not-the-secret")
    with pytest.raises(AmiAuthenticationFailed, match="Authentication failed"):
        async with AmiClient(bad):
            pass


async def _outcome(ami: AmiClient, target: str, *, timeout_ms: int = 10000) -> tuple[int, str, list[str]]:
    """Originate Local/s@target into test-hold; (Reason, Response, Hangup causes of both legs)."""
    cid = _cid()
    legs = [ami.expect("Hangup", {"Uniqueid": cid}), ami.expect("Hangup", {"Uniqueid": f"{cid};2"})]
    call = await ami.originate(f"Local/s@{target}", context="test-hold", exten="s", timeout_ms=timeout_ms,
                               channel_id=cid, variables={"ATTEMPT_ID": cid, "DELIVERY_ID": "1"})
    result = await call.result(timeout_s=15)
    hangups = await asyncio.wait_for(asyncio.gather(*legs), 15)
    for h in hangups:  # the dispatcher finds its attempt on the Hangup by channel variable
        assert h.chan_variables["ATTEMPT_ID"] == cid
    return result.reason, result.event["Response"], [h["Cause"] + " " + h["Cause-txt"] for h in hangups]


async def test_originate_outcomes_side_by_side(asterisk: AsteriskInstance) -> None:
    """Answered, busy, congestion, no answer and rejected calls at once, each with the
    OriginateResponse reason and Hangup cause the transcripts recorded (issue 10 part 1)."""
    async with AmiClient(asterisk.ami_settings()) as ami:
        answered, busy, congestion, noanswer, rejected = await asyncio.gather(
            _outcome(ami, "test-answer"), _outcome(ami, "test-busy"), _outcome(ami, "test-congestion"),
            _outcome(ami, "test-noanswer", timeout_ms=1000), _outcome(ami, "test-reject"))
    assert answered[:2] == (OriginateReason.ANSWERED, "Success")
    assert "16 Normal Clearing" in answered[2]
    assert busy[:2] == (OriginateReason.BUSY, "Failure") and "17 User busy" in busy[2]
    assert congestion[:2] == (OriginateReason.CONGESTION, "Failure")
    assert "34 Circuit/channel congestion" in congestion[2]
    assert noanswer[:2] == (OriginateReason.RING_TIMEOUT, "Failure")
    assert "19 User alerting, no answer" in noanswer[2]
    assert rejected[:2] == (OriginateReason.FAILED, "Failure") and "21 Call Rejected" in rejected[2]


async def test_bad_context_and_bad_channel_fail(asterisk: AsteriskInstance) -> None:
    async with AmiClient(asterisk.ami_settings()) as ami:
        call = await ami.originate("Local/s@no-such-context", context="test-hold", exten="s", timeout_ms=5000)
        result = await call.result(timeout_s=10)
        assert (result.reason, result.answered, result.uniqueid) == (OriginateReason.FAILED, False, None)
        with pytest.raises(AmiActionError, match="Invalid channel"):
            await ami.originate("bogus", context="test-hold", exten="s")


async def test_live_calls_seen_by_core_show_channels_and_status(asterisk: AsteriskInstance) -> None:
    """What the dispatcher reconciles with: a live call found in CoreShowChannels (an EventList)
    and Status by its channel id and ATTEMPT_ID variable, with the documented user's rights."""
    async with AmiClient(asterisk.ami_settings()) as ami:
        cid = _cid()
        ended = ami.expect("Hangup", {"Uniqueid": cid})
        call = await ami.originate("Local/s@test-long", context="test-long", exten="s", channel_id=cid,
                                   variables={"ATTEMPT_ID": cid})
        assert (await call.result(timeout_s=10)).answered
        channels = await ami.core_show_channels()
        mine = [c for c in channels if c.chan_variables.get("ATTEMPT_ID") == cid]
        assert sorted(c["Uniqueid"] for c in mine) == [cid, f"{cid};2"]
        status = await ami.status(variables=("ATTEMPT_ID",))
        assert any(s["Uniqueid"] == cid for s in status)
        (one,) = await ami.status(mine[0]["Channel"])
        assert one["Channel"] == mine[0]["Channel"]
        assert await ami.status("Local/s@nothing-00000000;1") == ()
        async with AmiClient(asterisk.ami_settings(admin=True)) as admin:  # `autoinform` may not hang up
            await admin.action("Hangup", {"Channel": mine[0]["Channel"], "Cause": "16"})
        assert (await asyncio.wait_for(ended, 10))["Cause"] == "16"
        # The call (its first leg) is gone at its Hangup; the Local second leg may linger a moment.
        assert not [c for c in await ami.core_show_channels()
                    if c.chan_variables.get("ATTEMPT_ID") == cid and ";" not in c["Uniqueid"]]


async def test_reconnects_after_asterisk_restarts(asterisk: AsteriskInstance) -> None:
    """Asterisk stopped and started: the link goes down, the client keeps trying with its backoff,
    and logs in again to the new process (issue 10 part 1)."""
    async with AmiClient(asterisk.ami_settings()) as ami:
        states: list[AmiState] = []
        ami.add_listener(states.append)
        await asyncio.to_thread(asterisk.stop)
        await ami.wait_state(AmiState.DOWN, 30)
        await asyncio.to_thread(asterisk.start)
        await ami.wait_up(60)
        assert ami.connects == 2
        assert (await ami.ping())["Ping"] == "Pong"
        assert states[0] is AmiState.DOWN and states[-1] is AmiState.UP
