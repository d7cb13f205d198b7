"""The FastAGI server driven by the test Asterisk peer over loopback TCP (issue 4, HL-2/HL-4 groundwork)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoinform.config import IvrSettings
from ivr.errors import CallerHangup, CommandFailed, CommandTimeout, HangupReason
from ivr.router import Router
from ivr.server import FastAgiServer, serve_ivr
from ivr.session import AgiSession
from tests.ivr.conftest import ServerFactory, settle
from tests.ivr.peer import AsteriskModel, Caller, call, environment


async def test_hangup_mid_prompt_reaches_the_flow_once_and_finally_runs(agi_server: ServerFactory) -> None:
    """result=-1, then HANGUP ~40 ms later: the flow sees one CallerHangup; in its finally block
    variable commands still work and channel commands raise without being sent."""
    seen: list[object] = []

    async def flow(session: AgiSession) -> None:
        await session.answer()
        try:
            await session.stream_file("demo-instruct", "0123456789#*")
            seen.append("played")
        except CallerHangup as exc:
            seen.append(exc.reason)
            raise
        finally:
            await session.set_variable("RESULT", "hung up")
            seen.append(await session.get_variable("RESULT"))
            with pytest.raises(CallerHangup):
                await session.stream_file("beep")
            seen.append("finally done")

    async with agi_server({"hotline": flow}) as server:
        model = AsteriskModel(Caller(hangup_at_ms=2500, prompt_ms={"demo-instruct": 5000}))
        result = await call(server.port, model, script="hotline")
        await settle(server)
    assert seen == [HangupReason.RESULT, "hung up", "finally done"]
    assert result.commands == ["ANSWER", 'STREAM FILE demo-instruct "0123456789#*"', "CHANNEL STATUS",
                               'SET VARIABLE RESULT "hung up"', "GET VARIABLE RESULT"]
    assert result.closed_by_server and not result.closed_by_peer
    assert server.stats.by_reason == {"caller_hangup": 1}


async def test_agiexitonhangup_closes_and_the_flow_still_ends_cleanly(agi_server: ServerFactory) -> None:
    finally_ran = asyncio.Event()

    async def flow(session: AgiSession) -> None:
        try:
            await session.play_sequence(["hotline/welcome", "hotline/recording_notice"])
        finally:
            with pytest.raises(CallerHangup):
                await session.set_variable("X", "1")  # the socket is gone: even this cannot go
            finally_ran.set()

    async with agi_server({"hotline": flow}) as server:
        model = AsteriskModel(Caller(hangup_at_ms=300), exit_on_hangup=True)
        result = await call(server.port, model, script="hotline")
        await settle(server)
    assert finally_ran.is_set() and result.closed_by_peer
    assert result.commands == ['STREAM FILE autoinform/hotline/welcome ""']
    assert server.stats.by_reason == {"caller_hangup": 1}


async def test_keys_pressed_while_nothing_reads_them_are_lost(agi_server: ServerFactory) -> None:
    got: list[object] = []

    async def flow(session: AgiSession) -> None:
        got.append((await session.stream_file("demo-nomatch")).digit)  # not interruptible
        got.append(await session.get_data("beep", 1000, 2))
        got.append(await session.play_sequence(["hotline/menu_info", "hotline/menu_readings"], "12"))
        await session.hangup()

    async with agi_server({"hotline": flow}) as server:
        # "5" during the first prompt is lost; "7" comes during GET DATA; "2" interrupts the 2nd menu prompt.
        caller = Caller(keys=[(400, "5"), (1500, "7"), (4500, "2")], default_prompt_ms=1000)
        result = await call(server.port, AsteriskModel(caller), script="hotline")
        await settle(server)
    assert result.lost_keys == ["5"]
    assert got[0] is None
    assert got[1].digits == "7" and got[1].timed_out  # type: ignore[attr-defined]
    assert got[2] == "2"
    assert result.commands[-1] == "HANGUP"
    assert sum(c.startswith("STREAM FILE autoinform/hotline/menu") for c in result.commands) == 2
    assert server.stats.by_reason == {"completed": 1}


async def test_missing_prompt_on_a_live_channel_is_an_error_not_a_hangup(agi_server: ServerFactory) -> None:
    errors: list[CommandFailed] = []

    async def flow(session: AgiSession) -> None:
        try:
            await session.stream_file("no-such-file-xyz")
        except CommandFailed as exc:
            errors.append(exc)
        await session.hangup()

    async with agi_server({"hotline": flow}) as server:
        caller = Caller(missing_files=frozenset({"no-such-file-xyz"}))
        result = await call(server.port, AsteriskModel(caller), script="hotline")
        await settle(server)
    assert [e.result for e in errors] == ["-1"]
    assert result.commands == ['STREAM FILE no-such-file-xyz ""', "CHANNEL STATUS", "HANGUP"]


async def test_crashing_flow_ends_its_call_only(agi_server: ServerFactory,
                                                caplog: pytest.LogCaptureFixture) -> None:
    async def boom(session: AgiSession) -> None:
        await session.answer()
        raise RuntimeError("bug in a flow")

    async def fine(session: AgiSession) -> None:
        await session.answer()

    caplog.set_level(logging.INFO)
    async with agi_server({"boom": boom, "fine": fine}) as server:
        crashed = await call(server.port, script="boom", uniqueid="crash.1")
        ok = await call(server.port, script="fine", uniqueid="ok.2")
        await settle(server)
    assert crashed.commands == ["ANSWER", "HANGUP"] and crashed.closed_by_server
    assert ok.commands == ["ANSWER"]
    assert server.stats.by_reason == {"flow_error": 1, "completed": 1}
    crash_logs = [r for r in caplog.records if r.exc_info and getattr(r, "call_id", None) == "crash.1"]
    assert crash_logs and "bug in a flow" in str(crash_logs[0].exc_info[1])  # type: ignore[index]


async def test_unknown_route_hangs_up(agi_server: ServerFactory) -> None:
    async with agi_server({"hotline": lambda s: s.answer()}) as server:
        result = await call(server.port, script="nope?x=1")
        await settle(server)
    assert result.commands == ["HANGUP"] and result.closed_by_server
    assert server.stats.by_reason == {"no_route": 1}


async def test_route_query_and_arguments_reach_the_flow(agi_server: ServerFactory) -> None:
    seen: list[object] = []

    async def flow(session: AgiSession) -> None:
        seen.append((session.request.path, dict(session.query), session.args, session.call_id))

    async with agi_server({"notify/debt": flow}) as server:
        await call(server.port, script="/notify/debt?delivery=42&lang=ru", args=["a b", "c"],
                   uniqueid="u.7", env_pieces=12)
        await settle(server)
    assert seen == [("notify/debt", {"delivery": "42", "lang": "ru"}, ("a b", "c"), "u.7")]


async def test_peer_not_allowed_is_refused(agi_server: ServerFactory) -> None:
    async with agi_server({"x": lambda s: s.answer()}, allowed_peers=["10.1.2.3", "192.168.0.0/16"]) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with contextlib.suppress(ConnectionError):
            writer.write(environment("x"))
            assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        await settle(server)
    assert server.stats.rejected_peers == 1 and server.stats.started == 0


async def _raw(port: int, data: bytes, *, read_line: bool = False) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        if read_line:
            return await asyncio.wait_for(reader.readline(), 5)
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


async def test_environment_timeout_and_garbage(agi_server: ServerFactory) -> None:
    async with agi_server({"x": lambda s: s.answer()}, env_timeout_s=0.05) as server:
        assert await _raw(server.port, b"agi_network: yes\nagi_netw") == b""
        assert await _raw(server.port, b"GET / HTTP/1.1\r\n\r\n") == b""
        await settle(server)
    assert server.stats.by_reason == {"env_timeout": 1, "protocol_error": 1}


async def test_command_timeout_closes_the_session(agi_server: ServerFactory) -> None:
    errors: list[Exception] = []

    async def flow(session: AgiSession) -> None:
        try:
            await session.answer()
        except CommandTimeout as exc:
            errors.append(exc)
            raise

    async with agi_server({"x": flow}, command_timeout_s=0.05) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(environment("x"))
        assert await asyncio.wait_for(reader.readline(), 5) == b"ANSWER\n"
        assert await asyncio.wait_for(reader.read(), 5) == b""  # never answered: the server closes
        writer.close()
        await settle(server)
    assert len(errors) == 1 and server.stats.by_reason == {"command_timeout": 1}


async def test_graceful_shutdown_waits_then_cancels(agi_server: ServerFactory) -> None:
    cleaned: list[str] = []
    started = asyncio.Event()

    async def slow(session: AgiSession) -> None:
        try:
            started.set()
            await session.wait_for_digit(-1)  # the peer below never answers
        finally:
            cleaned.append(session.call_id)

    settings = IvrSettings(port=0, shutdown_grace_s=0.1)
    router = Router()
    router.add("slow", slow)
    server = FastAgiServer(settings, router)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(environment("slow", uniqueid="slow.1"))
    await started.wait()
    await server.shutdown()
    assert cleaned == ["slow.1"]
    assert server.stats.by_reason == {"shutdown": 1} and not server.tasks and not server.connections
    assert await asyncio.wait_for(reader.read(), 5) == b"WAIT FOR DIGIT -1\n"
    writer.close()


async def test_serve_ivr_runs_until_stopped() -> None:
    stop = asyncio.Event()
    ports: list[int] = []
    router = Router()

    async def flow(session: AgiSession) -> None:
        await session.verbose("hi")
        stop.set()

    router.add("x", flow)
    serving = asyncio.create_task(serve_ivr(IvrSettings(port=0), router, stop,
                                            on_started=lambda server: ports.append(server.port)))
    while not ports:
        await asyncio.sleep(0.001)
    result = await call(ports[0], script="x")
    stats = await asyncio.wait_for(serving, 5)
    assert result.commands == ['VERBOSE "hi" 1'] and stats.by_reason == {"completed": 1}


def test_cli_lists_the_configured_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from autoinform.cli import app

    monkeypatch.setenv("AUTOINFORM_CONFIG", "does-not-exist.toml")
    monkeypatch.setenv("AUTOINFORM_IVR__ROUTER", "tests.ivr.classic_flows:router")
    result = CliRunner().invoke(app, ["ivr", "routes"])
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["hangup_probe", "replay", "selftest"]


async def test_session_methods_against_the_peer(agi_server: ServerFactory) -> None:
    """Every AgiSession method a flow uses, with the replies the transcripts show (HL-2 recording)."""
    from ivr import commands as cmds
    from ivr.commands import ChannelStatus, Recorded
    from ivr.errors import CommandError
    from ivr.protocol import Command, word

    seen: dict[str, object] = {}

    async def flow(session: AgiSession) -> None:
        await session.answer()
        seen["number"] = await session.say_number(1234, "#")
        seen["digits"] = await session.say_digits("89001234567")
        seen["date"] = await session.say_date(1700000000)
        seen["status"] = await session.channel_status()
        seen["wait"] = await session.wait_for_digit(2000)
        seen["record"] = await session.record_file("/tmp/rec1", "wav", "#", 3000)
        seen["exec"] = await session.exec("Playback", "beep")
        with pytest.raises(CommandFailed) as no_app:
            await session.exec("NoSuchApplication", "foo")
        seen["no_app"] = no_app.value.result
        await session.set_variable("PROBE_VAR", 'hello "world"')
        seen["var"] = await session.get_variable("PROBE_VAR")
        seen["unset"] = await session.get_variable("PROBE_UNSET_VAR")
        seen["full"] = await session.get_full_variable("${CHANNEL(language)}|${PROBE_VAR}")
        with pytest.raises(CommandError) as unknown:
            await session.command(Command.build("BOGUS", word("here")))
        seen["unknown"] = unknown.value.code
        with pytest.raises(CommandError) as usage:
            await session.command(Command.build("SET VARIABLE", word("ONLYNAME")))
        seen["usage"] = (usage.value.code, usage.value.usage)
        seen["recorded_hangup"] = await session.record_file("/tmp/rec2", "wav", "#", 10_000)
        seen["hung_up"] = session.hung_up
        await session.verbose("after hangup")
        with pytest.raises(CallerHangup):
            await session.stream_file("beep")
        assert cmds.answer() is cmds.answer()  # cached builders

    async with agi_server({"probe": flow}) as server:
        # SAY: 500 ms a character; the key comes during SAY DIGITS (no escape digits: lost); the
        # caller hangs up 0.7 s into the second recording.
        caller = Caller(keys=[(3000, "7")], hangup_at_ms=19_200)
        result = await call(server.port, AsteriskModel(caller), script="probe")
        await settle(server)
    assert seen == {
        "number": None, "digits": None, "date": None, "status": ChannelStatus.UP, "wait": None,
        "record": Recorded(24000, "timeout"), "exec": 0, "no_app": "-2", "var": 'hello "world"',
        "unset": None, "full": 'ru|hello "world"', "unknown": 510,
        "usage": (520, "Sets a variable to the current channel."),
        "recorded_hangup": Recorded(5600, "hangup"), "hung_up": True,
    }
    assert 'SET VARIABLE PROBE_VAR "hello \\"world\\""' in result.commands
    assert result.commands[-1] == 'VERBOSE "after hangup" 1' and result.lost_keys == ["7"]
    assert server.stats.by_reason == {"completed": 1}


def test_peer_filter_addresses_and_networks() -> None:
    from ivr.server import PeerFilter

    peers = PeerFilter(["127.0.0.1", "10.0.0.0/8", "::1"])
    assert peers.allows("127.0.0.1") and peers.allows("::ffff:127.0.0.1") and peers.allows("10.20.30.40")
    assert peers.allows("::1") and not peers.allows("192.168.1.1") and not peers.allows("not an address")
    assert not PeerFilter([]).allows("127.0.0.1")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(min_size=1, max_size=30), min_size=1, max_size=6), st.booleans())
def test_fuzzed_replies_end_the_call_cleanly(replies: list[bytes], close: bool) -> None:
    """Whatever a broken peer answers, the call ends with a recorded reason and the server lives."""

    async def flow(session: AgiSession) -> None:
        for _ in range(len(replies)):
            await session.stream_file("beep", "1")

    async def run() -> FastAgiServer:
        router = Router()
        router.add("x", flow)
        async with FastAgiServer(IvrSettings(port=0, command_timeout_s=0.2, shutdown_grace_s=0.5),
                                 router) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(environment("x"))
            with contextlib.suppress(ConnectionError, TimeoutError):
                for data in replies:
                    if not await asyncio.wait_for(reader.readline(), 2):
                        break
                    writer.write(data if data.endswith(b"\n") else data + b"\n")
                if close:
                    writer.write_eof()
                await asyncio.wait_for(reader.read(), 2)
            writer.close()
            await settle(server)
        return server

    server = asyncio.run(run())
    assert server.stats.started == server.stats.ended == 1
    assert set(server.stats.by_reason) <= {"completed", "caller_hangup", "protocol_error",
                                           "command_timeout", "flow_error"}
