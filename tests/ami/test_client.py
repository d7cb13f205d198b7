"""The asyncio AMI client against a loopback peer that replays Asterisk 22's recordings or scripts
what they do not hold (issue 10 part 1, AI-1, AI-9)."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import SecretStr

from autoinform.config import AmiSettings
from ivr.ami import AmiClient, AmiState, Event, OriginateReason
from ivr.errors import (
    AmiActionError,
    AmiAuthenticationFailed,
    AmiDisconnected,
    AmiSubscriptionOverflow,
    AmiTimeout,
)
from tests.ami.peer import (
    AmiPeer,
    Handler,
    PeerConnection,
    Script,
    ami_peer,
    block,
    core_show_channels,
    fields_of,
    load,
    replay,
)


def _settings(port: int, **overrides: Any) -> AmiSettings:
    values: dict[str, Any] = {"port": port, "username": "ref", "secret": SecretStr("ref"),
                              "reconnect_base_s": 0.01, "reconnect_max_s": 0.05, "connect_timeout_s": 5.0,
                              "action_timeout_s": 5.0, **overrides}
    return AmiSettings(**values)


@asynccontextmanager
async def connected(handler: Handler, **overrides: Any) -> AsyncIterator[tuple[AmiPeer, AmiClient]]:
    async with ami_peer(handler) as peer, AmiClient(_settings(peer.port, **overrides),
                                                    rng=random.Random(7)) as client:
        yield peer, client


# --- the recordings, replayed ---------------------------------------------------------------------

# transcript -> (OriginateResponse Reason, Response, Hangup causes of the channels, in order)
OUTCOMES: dict[str, tuple[int, str, list[tuple[str, str]]]] = {
    "ami_originate_app_answer": (OriginateReason.ANSWERED, "Success", [("0", "Unknown"), ("0", "Unknown")]),
    "ami_originate_success_hotline": (OriginateReason.ANSWERED, "Success",
                                      [("16", "Normal Clearing"), ("16", "Normal Clearing")]),
    "ami_originate_busy": (OriginateReason.BUSY, "Failure", [("0", "Unknown"), ("17", "User busy")]),
    "ami_originate_congestion": (OriginateReason.CONGESTION, "Failure",
                                 [("0", "Unknown"), ("34", "Circuit/channel congestion")]),
    "ami_originate_noanswer_timeout": (OriginateReason.RING_TIMEOUT, "Failure",
                                       [("19", "User alerting, no answer"), ("19", "User alerting, no answer")]),
    "ami_originate_reject_hangup21": (OriginateReason.FAILED, "Failure",
                                      [("21", "Call Rejected"), ("21", "Call Rejected")]),
    "ami_originate_fail_nodriver": (OriginateReason.FAILED, "Failure", []),
    "ami_originate_fail_noexten": (OriginateReason.FAILED, "Failure", [("0", "Unknown"), ("0", "Unknown")]),
    "ami_originate_fail_nocontext": (OriginateReason.FAILED, "Failure", [("0", "Unknown"), ("0", "Unknown")]),
}


def _recorded_originate(name: str) -> dict[str, str]:
    (data,) = [r.data for r in load(name) if r.direction == "C>A" and r.data.startswith(b"Action: Originate")]
    return dict(fields_of(data))


def _originate_kwargs(fields: dict[str, str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"action_id": fields["ActionID"],
                              "timeout_ms": int(fields["Timeout"]) if "Timeout" in fields else None}
    if "Application" in fields:
        kwargs |= {"application": fields["Application"], "data": fields.get("Data")}
    else:
        kwargs |= {"context": fields["Context"], "exten": fields["Exten"], "priority": int(fields["Priority"])}
    for key, arg in (("CallerID", "caller_id"), ("ChannelId", "channel_id"), ("OtherChannelId", "other_channel_id")):
        if key in fields:
            kwargs[arg] = fields[key]
    if "Variable" in fields:
        name, _, value = fields["Variable"].partition("=")
        kwargs["variables"] = {name: value}
    return kwargs


@pytest.mark.parametrize("chunk", [None, 7], ids=["as-recorded", "7-byte-pieces"])
@pytest.mark.parametrize("name", sorted(OUTCOMES))
async def test_recorded_originate_outcomes(name: str, chunk: int | None) -> None:
    """Each recorded Originate: the client's bytes equal the probe's (ActionIDs aside), and it gets
    the recorded OriginateResponse Reason and the Hangup causes (issue 10 part 1)."""
    reason, response, causes = OUTCOMES[name]
    records = load(name)
    fields = _recorded_originate(name)
    seen: list[bytes] = []

    async with connected(replay(records, chunk=chunk, seen=seen)) as (_, client):
        hangups = client.subscribe("Hangup")
        call = await client.originate(fields["Channel"], **_originate_kwargs(fields))
        result = await call.result(timeout_s=5)
        assert (result.reason, result.event["Response"], result.answered) == (reason, response, response == "Success")
        assert result.reason_name == OriginateReason(reason).name.lower()
        if not result.answered:
            assert result.uniqueid is None  # `Uniqueid: <unknown>` on every failure
        got = []
        for _ in causes:
            event = await asyncio.wait_for(anext(hangups), 5)
            got.append((event["Cause"], event["Cause-txt"]))
        assert got == causes
    recorded = [r.data for r in records if r.direction == "C>A"]
    assert seen == recorded  # Login, Originate, Logoff: byte for byte


async def test_recorded_bad_channel_is_an_action_error() -> None:
    name = "ami_originate_fail_badchannel"
    fields = _recorded_originate(name)

    async with connected(replay(load(name))) as (_, client):
        with pytest.raises(AmiActionError) as info:
            await client.originate(fields["Channel"], **_originate_kwargs(fields))
        assert (info.value.action, info.value.message) == ("Originate", "Invalid channel")


async def test_recorded_sync_originate_failure() -> None:
    """A synchronous Originate to a missing context answers `Response: Error / Originate failed`."""
    name = "ami_originate_sync_fail_nocontext"
    fields = _recorded_originate(name)

    async with connected(replay(load(name))) as (_, client):
        aid = fields.pop("ActionID")
        fields.pop("Action")
        with pytest.raises(AmiActionError, match="Originate failed"):
            await client.action("Originate", fields, action_id=aid)


# --- scripted Asterisk ----------------------------------------------------------------------------

class OutOfOrder(Script):
    """Holds the first Echo until the second arrives, then answers the second first."""

    held: tuple[str, str] | None = None

    async def on_action(self, conn: PeerConnection, name: str, aid: str, fields: list[tuple[str, str]]) -> None:
        if name != "Echo":
            return await super().on_action(conn, name, aid, fields)
        value = dict(fields)["Value"]
        if self.held is None:
            self.held = (aid, value)
            return None
        first_aid, first_value = self.held
        conn.send(block(("Response", "Success"), ("ActionID", aid), ("Value", value)))
        conn.send(block(("Event", "Hangup"), ("Uniqueid", "x"), ("Cause", "16")))
        conn.send(block(("Response", "Success"), ("ActionID", first_aid), ("Value", first_value)))
        return None


async def test_replies_out_of_order_are_matched_by_action_id() -> None:
    """Two actions in flight, answered in the opposite order: each gets its own reply (issue 10 part 1)."""
    async with connected(OutOfOrder()) as (_, client):
        a, b = await asyncio.gather(client.action("Echo", {"Value": "first"}),
                                    client.action("Echo", {"Value": "second"}))
        assert (a.response["Value"], b.response["Value"]) == ("first", "second")


class ListWithNoise(Script):
    async def on_action(self, conn: PeerConnection, name: str, aid: str, fields: list[tuple[str, str]]) -> None:
        if name == "Ping":
            return None
        assert name == "CoreShowChannels"
        reply = core_show_channels(aid, [[("Channel", "Local/s@a-1;1"), ("Uniqueid", "ai-1"),
                                          ("ChanVariable", "ATTEMPT_ID=1")],
                                         [("Channel", "Local/s@a-1;2"), ("Uniqueid", "ai-1;2")]])
        parts = reply.split(b"\r\n\r\n")
        noise = block(("Event", "Hangup"), ("Uniqueid", "ai-9"), ("Cause", "17"), ("Cause-txt", "User busy"))
        conn.send(b"\r\n\r\n".join(parts[:2]) + b"\r\n\r\n" + noise + b"\r\n\r\n".join(parts[2:]))
        return None


async def test_event_list_with_interleaved_events() -> None:
    """CoreShowChannels gathered into one result while a Hangup arrives in the middle of it; the
    Hangup reaches subscribers, the list items do not (issue 10 part 1)."""
    async with connected(ListWithNoise()) as (_, client):
        events = client.subscribe()
        channels = await client.core_show_channels()
        assert [c["Uniqueid"] for c in channels] == ["ai-1", "ai-1;2"]
        assert channels[0].chan_variables == {"ATTEMPT_ID": "1"}
        names: list[str] = []
        while "Hangup" not in names:
            names.append((await asyncio.wait_for(anext(events), 5)).name)
        assert "CoreShowChannel" not in names


class Oversize(Script):
    async def on_action(self, conn: PeerConnection, name: str, aid: str, fields: list[tuple[str, str]]) -> None:
        conn.send(b"Event: Flood\r\n" + b"Key: " + b"x" * 1000 + b"\r\n" * 1)
        conn.send((b"Key: " + b"x" * 1000 + b"\r\n") * 300)


async def test_oversize_block_drops_the_link_and_the_client_reconnects() -> None:
    """An oversize block is refused: the action waiting fails with AmiDisconnected, the link is
    dropped and a new one logs in (issue 10 part 1)."""
    script = Oversize()
    async with connected(script) as (_, client):
        with pytest.raises(AmiDisconnected) as info:
            await client.action("Flood")
        assert "message too long" in info.value.why
        await client.wait_up(5)
        assert client.connects == 2 and script.logins == 2


async def test_login_refused(caplog: pytest.LogCaptureFixture) -> None:
    """A wrong secret fails the start at once with AmiAuthenticationFailed; the secret is never
    logged, even at debug level (issue 10 part 1, AI-19)."""
    caplog.set_level(logging.DEBUG)
    async with ami_peer(Script(secret="right")) as peer:
        client = AmiClient(_settings(peer.port, secret=SecretStr("wrong-secret-123")))
        with pytest.raises(AmiAuthenticationFailed) as info:
            async with client:
                pass
        assert (info.value.username, info.value.message) == ("ref", "Authentication failed")
        assert client.state is AmiState.DOWN
    assert "wrong-secret-123" not in caplog.text
    assert "Secret: ***" in caplog.text


async def test_md5_challenge_login(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(secret="s3cret-value")
    async with connected(script, auth="md5", secret=SecretStr("s3cret-value")) as (peer, client):
        assert client.state is AmiState.UP
        actions = b"".join(peer.connections[0].actions)
        assert b"s3cret-value" not in actions and b"AuthType: MD5" in actions
    assert "s3cret-value" not in caplog.text


async def test_reconnect_after_the_peer_drops() -> None:
    """The peer drops the link: whatever waited fails with AmiDisconnected, the state goes
    down, then connecting, then up again on a new login; listeners are told each step."""
    script = Script(answer_ping=False)
    async with connected(script) as (peer, client):
        states: list[AmiState] = []
        client.add_listener(states.append)
        hangup = client.expect("Hangup", {"Uniqueid": "ai-5"})
        ping = asyncio.ensure_future(client.ping())
        await peer.wait_connections(1)
        while script.pings == 0:
            await asyncio.sleep(0)
        peer.drop_all()
        with pytest.raises(AmiDisconnected):
            await ping
        with pytest.raises(AmiDisconnected):
            await hangup
        await client.wait_state(AmiState.DOWN, 5)
        await client.wait_up(5)
        assert states[:3] == [AmiState.DOWN, AmiState.CONNECTING, AmiState.UP]
        assert client.connects == 2 and len(peer.connections) == 2


async def test_reconnect_keeps_trying_while_asterisk_is_away() -> None:
    """No listener at all for a while: attempts repeat with bounded backoff until one succeeds."""
    async with ami_peer(Script()) as peer:
        port = peer.port
    client = AmiClient(_settings(port, reconnect_base_s=0.001, reconnect_max_s=0.002))
    client.start()
    try:
        with pytest.raises(AmiTimeout):
            await client.wait_up(0.2)
        assert isinstance(client.last_error, OSError)
        server = await asyncio.start_server(lambda r, w: Script()(PeerConnection(r, w)), "127.0.0.1", port)
        async with server:
            await client.wait_up(5)
            assert client.state is AmiState.UP
    finally:
        await client.close()


def test_backoff_is_exponential_capped_and_jittered() -> None:
    client = AmiClient(AmiSettings(reconnect_base_s=0.5, reconnect_max_s=30), rng=random.Random(1))
    delays = [client.backoff(n) for n in range(12)]
    assert all(0.25 <= d <= 0.5 for d in delays[:1])
    assert all(0.5 * min(30, 0.5 * 2**n) <= d <= min(30, 0.5 * 2**n) for n, d in enumerate(delays))
    assert max(delays) <= 30 and len(set(delays)) == len(delays)


async def test_ping_timeout_marks_the_link_down() -> None:
    """Asterisk stops answering Ping: the link is marked down (and then re-established)."""
    script = Script(answer_ping=False)
    async with connected(script, ping_interval_s=0.01, ping_timeout_s=0.05) as (_, client):
        states: list[AmiState] = []
        client.add_listener(states.append)
        await client.wait_state(AmiState.DOWN, 5)
        assert states[0] is AmiState.DOWN
        assert script.pings >= 1
        await client.wait_up(5)


async def test_actions_while_down_fail_at_once() -> None:
    client = AmiClient(AmiSettings(port=9, username="x"))
    with pytest.raises(AmiDisconnected, match="not connected"):
        await client.ping()
    with pytest.raises(AmiDisconnected):
        await client.originate("Local/s@x", context="c", exten="s")


class Events(Script):
    """`Flood` sends N UserEvents, then answers."""

    async def on_action(self, conn: PeerConnection, name: str, aid: str, fields: list[tuple[str, str]]) -> None:
        n = int(dict(fields)["Count"])
        conn.send(b"".join(block(("Event", "UserEvent"), ("Seq", str(i))) for i in range(n)))
        conn.send(block(("Response", "Success"), ("ActionID", aid)))


async def test_a_slow_subscriber_does_not_block_the_reader() -> None:
    """One subscriber's callback never returns: actions still get replies and another subscriber
    gets every event; a subscriber that falls behind its limit is told where it lost events."""
    release = asyncio.Event()
    stuck: list[Event] = []

    async def slow(event: Event) -> None:
        stuck.append(event)
        await release.wait()

    async with connected(Events()) as (_, client):
        client.subscribe("UserEvent", callback=slow)
        fast = client.subscribe("UserEvent")
        small = client.subscribe("userevent", limit=3)
        await client.action("Flood", {"Count": "50"})
        assert (await client.ping())["Ping"] == "Pong"
        seqs = [(await asyncio.wait_for(anext(fast), 5))["Seq"] for _ in range(50)]
        assert seqs == [str(i) for i in range(50)]
        assert [(await anext(small))["Seq"] for _ in range(3)] == ["0", "1", "2"]
        with pytest.raises(AmiSubscriptionOverflow) as info:
            await anext(small)
        assert info.value.dropped == 47
        assert len(stuck) == 1
        release.set()


async def test_expect_matches_fields_and_channel_variables() -> None:
    class Hangups(Script):
        async def on_action(self, conn: PeerConnection, name: str, aid: str, fields: list[tuple[str, str]]) -> None:
            conn.send(block(("Response", "Success"), ("ActionID", aid)))
            conn.send(block(("Event", "Hangup"), ("Uniqueid", "ai-1"), ("ChanVariable", "ATTEMPT_ID=1"),
                            ("Cause", "16")))
            conn.send(block(("Event", "Hangup"), ("Uniqueid", "ai-2"), ("ChanVariable", "ATTEMPT_ID=2"),
                            ("Cause", "17")))

    async with connected(Hangups()) as (_, client):
        by_var = client.expect("Hangup", chan_vars={"ATTEMPT_ID": "2"})
        by_id = client.expect("Hangup", {"Uniqueid": "ai-1"})
        await client.action("Go")
        assert (await asyncio.wait_for(by_var, 5))["Cause"] == "17"
        assert (await asyncio.wait_for(by_id, 5))["Cause"] == "16"


async def test_debug_log_masks_numbers(caplog: pytest.LogCaptureFixture) -> None:
    """An Originate to a customer's number appears in debug logs with the number masked (AI-19)."""
    caplog.set_level(logging.DEBUG, logger="ivr.ami")

    class Queued(Script):
        async def on_action(self, conn: PeerConnection, name: str, aid: str, fields: list[tuple[str, str]]) -> None:
            conn.send(block(("Response", "Success"), ("ActionID", aid), ("Message", "Originate successfully queued")))

    async with connected(Queued()) as (_, client):
        await client.originate("PJSIP/89001234567@trunk", context="autoinform-notify", exten="s",
                               variables={"ATTEMPT_ID": 5, "PHONE": "+79001234567"})
    assert "89001234567" not in caplog.text and "9001234567" not in caplog.text
    assert re.search(r"PJSIP/\*+67@trunk", caplog.text)
