"""Replay every recorded Asterisk 22 AGI session byte for byte (issue 4; AI-10, HL-4 groundwork).

Each S>A line is rebuilt with ivr.commands and must encode to exactly the recorded bytes; each A>S
read is fed as recorded and one byte at a time, and must give the same events. The same recordings
are then replayed against the real FastAGI server over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest

from autoinform.config import IvrSettings
from ivr import commands as cmds
from ivr.commands import (
    ChannelStatus,
    Completed,
    DigitPressed,
    Digits,
    Failed,
    Recorded,
    Timeout,
)
from ivr.errors import AgiError
from ivr.protocol import (
    ENV_KEYS,
    AgiConnection,
    Command,
    EndOfStream,
    Environment,
    Event,
    HangupLine,
    Reply,
    Request,
)
from ivr.router import Router
from ivr.server import FastAgiServer
from ivr.session import AgiSession
from tests.ivr import transcripts
from tests.ivr.transcripts import rebuild


def replay(records: list[transcripts.Record], bytewise: bool) -> tuple[list[Event], list[Command]]:
    conn = AgiConnection()
    events: list[Event] = []
    sent: list[Command] = []
    for rec in records:
        if rec.direction == "S>A":
            command = rebuild(rec.data)
            assert command.wire == rec.data
            assert conn.send(command) == rec.data
            sent.append(command)
        elif rec.data == b"":
            events += conn.receive_eof()
        elif bytewise:
            for i in range(len(rec.data)):
                events += conn.receive_data(rec.data[i:i + 1])
        else:
            events += conn.receive_data(rec.data)
    return events, sent


@pytest.mark.parametrize("path", transcripts.params())
def test_transcript_parses_and_encodes_byte_for_byte(path: Path) -> None:
    records = transcripts.load(path)
    events, sent = replay(records, bytewise=False)
    assert replay(records, bytewise=True)[0] == events

    env = events[0]
    assert isinstance(env, Environment)
    assert tuple(env.variables)[:22] == ENV_KEYS
    assert env.version == "22.10.1" and env.network
    replies = [e for e in events if isinstance(e, Reply)]
    assert len(replies) == len(sent)  # every command got exactly one final reply
    inbound = b"".join(r.data for r in records if r.direction == "A>S")
    assert sum(isinstance(e, HangupLine) for e in events) == inbound.split(b"\n").count(b"HANGUP")
    assert any(isinstance(e, EndOfStream) for e in events) == any(
        r.direction == "A>S" and r.data == b"" for r in records)
    for reply in replies:
        assert reply.text.encode() in inbound


def _outcomes(path: str) -> list[tuple[str, object]]:
    records = transcripts.load(transcripts.TRANSCRIPTS / path)
    events, sent = replay(records, bytewise=False)
    replies = [e for e in events if isinstance(e, Reply)]
    out: list[tuple[str, object]] = []
    for command, reply in zip(sent, replies, strict=True):
        interpret: Callable[[Reply], object] = {
            "STREAM FILE": cmds.playback_outcome, "SAY NUMBER": cmds.playback_outcome,
            "SAY DIGITS": cmds.playback_outcome, "SAY DATE": cmds.playback_outcome,
            "GET DATA": cmds.get_data_outcome, "WAIT FOR DIGIT": cmds.digit_outcome,
            "RECORD FILE": cmds.record_outcome, "GET VARIABLE": cmds.variable_value,
            "GET FULL VARIABLE": cmds.variable_value,
        }.get(command.name, lambda r: r.code if r.code != 200 else r.result)
        if command.name == "CHANNEL STATUS" and reply.code == 200:
            interpret = cmds.channel_status_value
        out.append((command.line, reply.code if reply.code in (510, 511) else interpret(reply)))
    return out


def test_typed_outcomes_of_the_full_hotline_session() -> None:
    """Digits pressed, timeouts, hang-up and end positions come out typed (AI-10 playback)."""
    transcripts.require()
    assert _outcomes("agi_full_hotline_session.txt") == [
        ("ANSWER", "0"),
        ('STREAM FILE hello-world ""', Completed(8023)),
        ("GET DATA beep 6000 1", Digits("1")),
        ("WAIT FOR DIGIT 6000", DigitPressed("1")),
        ("GET DATA silence/1 8000 10", Digits("234567")),
        ("WAIT FOR DIGIT 2000", Timeout()),
        ("GET DATA beep 2000 3", Timeout("")),
        ('SAY NUMBER 1234 ""', Completed()),
        ('SAY DIGITS 89001234567 ""', Completed()),
        ('SAY DATE 1700000000 ""', Completed()),
        ('RECORD FILE /var/spool/asterisk/recording/rec1 wav "#" 3000', Recorded(24000, "timeout")),
        ('SET VARIABLE PROBE_VAR "hello world"', "1"),
        ("GET VARIABLE PROBE_VAR", "hello world"),
        ("GET VARIABLE PROBE_UNSET_VAR", None),
        ('GET FULL VARIABLE "${CHANNEL(language)}|${PROBE_VAR}"', "ru|hello world"),
        ("EXEC Playback beep", "0"),
        ("EXEC Playback no-such-file-xyz", "0"),
        ('STREAM FILE no-such-file-xyz ""', Failed("-1", 0)),
        ("EXEC NoSuchApplication foo", "-2"),
        ("BOGUS COMMAND here", 510),
        ("CHANNEL STATUS", ChannelStatus.UP),
        ('VERBOSE "probe reached tail" 1', "1"),
        ('STREAM FILE demo-instruct ""', Failed("-1", 93280)),
        ('STREAM FILE beep ""', 511),
        ("GET VARIABLE PROBE_VAR", "hello world"),
        ("CHANNEL STATUS", 511),
        ("WAIT FOR DIGIT 1000", 511),
        ('VERBOSE "after hangup" 1', "1"),
    ]


def test_keys_during_noninterruptible_prompt_and_520_usage() -> None:
    transcripts.require()
    assert _outcomes("agi_dtmf_during_noninterruptible_prompt.txt")[1:5] == [
        ('STREAM FILE demo-nomatch ""', Completed(28931)),
        ("WAIT FOR DIGIT 1000", Timeout()),  # the key pressed during the prompt was lost
        ('STREAM FILE demo-congrats "0123456789#*"', DigitPressed("1", 4160)),
        ("GET DATA beep 5000 10", Digits("234567")),
    ]
    events, sent = replay(transcripts.load(transcripts.TRANSCRIPTS / "agi_invalid_commands.txt"), False)
    usage = {c.line: r for c, r in zip(sent, [e for e in events if isinstance(e, Reply)], strict=True)
             if r.code == 520}
    assert set(usage) == {"STREAM FILE", 'SAY NUMBER abc ""', "WAIT FOR DIGIT", "GET DATA",
                          "SET VARIABLE ONLYNAME"}
    assert usage["SET VARIABLE ONLYNAME"].usage == "Sets a variable to the current channel."
    assert usage["STREAM FILE"].text == "Invalid command syntax.  Proper usage follows:"
    assert usage["STREAM FILE"].usage is not None
    assert usage["STREAM FILE"].usage.endswith("    <value>FAILED</value>")


def test_arguments_and_query_string() -> None:
    transcripts.require()
    events, _ = replay(transcripts.load(transcripts.TRANSCRIPTS / "agi_args_and_querystring.txt"), False)
    env = events[0]
    assert isinstance(env, Environment)
    assert env.script == "args?lang=ru&id=42"
    assert env.args == ("first", "second arg")
    assert env.uniqueid == "1795789088.31" and env.callingpres == 67 and env.accountcode == ""
    request = Request.from_environment(env)
    assert (request.path, dict(request.query), request.args) == (
        "args", {"lang": "ru", "id": "42"}, ("first", "second arg"))


# --- the same recordings through the real server ------------------------------------------------

async def _replay_peer(port: int, records: list[transcripts.Record]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    last_out = max(i for i, r in enumerate(records) if r.direction == "S>A")
    try:
        for i, rec in enumerate(records):
            if rec.direction == "S>A":
                got = await asyncio.wait_for(reader.readexactly(len(rec.data)), 5)
                assert got == rec.data
            elif rec.data == b"":
                writer.write_eof()
            else:
                try:
                    writer.write(rec.data)
                    await writer.drain()
                except ConnectionError:
                    assert i > last_out  # only trailing bytes may find the server gone
                await asyncio.sleep(0.001)  # keep the recorded read boundaries
        rest = await asyncio.wait_for(reader.read(), 5)  # the server closes the socket
        assert rest == b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.mark.parametrize("path", transcripts.params())
async def test_server_replays_transcript(path: Path) -> None:
    records = transcripts.load(path)
    to_send = [rebuild(r.data) for r in records if r.direction == "S>A"]
    first = records[0].data + records[1].data
    script = Environment(dict(
        line.split(": ", 1) for line in first.decode().split("\n") if ": " in line)).script
    replies: list[Reply] = []

    async def replay_flow(session: AgiSession) -> None:
        for command in to_send:  # the raw path: send exactly what the probe sent
            try:
                replies.append(await session.transport.execute(command, 5))
            except AgiError:
                return

    router = Router()
    router.add(Request.parse(script).path, replay_flow)
    async with FastAgiServer(IvrSettings(port=0), router) as server:
        await _replay_peer(server.port, records)
        while server.stats.active:
            await asyncio.sleep(0.001)
    assert [r.code for r in replies] == [int(r.data[:3]) for r in records
                                         if r.direction == "A>S" and r.data[:1].isdigit()]
    assert server.stats.ended == 1 and server.stats.by_reason["completed"] == 1
