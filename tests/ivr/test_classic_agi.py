"""The classic `ivr-agi` entry point on pyst2 behind SafeAGI: run as a subprocess over pipes, the
way Asterisk's AGI() runs it, and the pyst2 defects of shared/DESIGN.md checked one by one (issue 4)."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path

import pytest
from asterisk.agi import AGI, AGIResultHangup

from ivr.classic_agi import SafeAGI
from ivr.errors import InvalidArgument
from tests.ivr import transcripts
from tests.ivr.classic_flows import TRANSCRIPT_ENV
from tests.ivr.conftest import ServerFactory, settle
from tests.ivr.peer import AsteriskModel, Caller, call, environment, pipe_call, start_agi

ENV = environment("", network=False, args=["selftest"])


async def test_selftest_runs_the_same_flow_as_fastagi(agi_server: ServerFactory) -> None:
    from ivr.flows import default_router

    piped = await pipe_call("selftest", AsteriskModel(Caller(keys=[(1500, "7")])), uniqueid="c.1")
    async with agi_server(default_router()) as server:
        networked = await call(server.port, AsteriskModel(Caller(keys=[(1500, "7")])), script="selftest")
        await settle(server)
    assert piped.returncode == 0
    assert piped.commands == networked.commands
    assert piped.commands[-1] == "HANGUP" and "autoinform/num/7" in " ".join(piped.commands)
    assert "call ended: completed" in piped.stderr and "call_id=c.1" in piped.stderr


async def test_sighup_hangup_mid_prompt_runs_finally_with_variables_only() -> None:
    model = AsteriskModel(Caller(hangup_at_ms=500, prompt_ms={"demo-instruct": 5000}))
    result = await pipe_call("hangup_probe", model)
    assert result.returncode == 0
    assert result.commands == ["ANSWER", 'STREAM FILE demo-instruct "#"', "CHANNEL STATUS",
                               'SET VARIABLE FINALLY "ran"', 'VERBOSE "channel command refused after hang-up" 1']
    assert "call ended: caller_hangup" in result.stderr


async def test_truncated_520_then_end_of_stream_exits_instead_of_looping() -> None:
    proc = await start_agi(["selftest"])
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(ENV)
    assert await asyncio.wait_for(proc.stdout.readline(), 20) == b"ANSWER\n"
    proc.stdin.write(b"520-Invalid command syntax.  Proper usage follows:\nAnswers chan")
    proc.stdin.close()
    assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert "call ended: caller_hangup" in (await proc.stderr.read()).decode()


@pytest.mark.parametrize("path", transcripts.params())
async def test_transcript_replayed_over_pipes(path: Path) -> None:
    """The recorded replies fed to the child; what it writes must be the recorded bytes."""
    records = transcripts.load(path)
    first_command = next(i for i, r in enumerate(records) if r.direction == "S>A")
    proc = await start_agi(["replay"], {TRANSCRIPT_ENV: str(path)})
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stderr = asyncio.create_task(proc.stderr.read())
    proc.stdin.write(environment("", network=False, args=["replay"]))
    for rec in records[first_command:]:
        if rec.direction == "S>A":
            assert await asyncio.wait_for(proc.stdout.readexactly(len(rec.data)), 20) == rec.data
        elif rec.data == b"":
            proc.stdin.close()
        elif not proc.stdin.is_closing():
            proc.stdin.write(rec.data)
    assert await asyncio.wait_for(proc.wait(), 20) == 0, await stderr
    assert await proc.stdout.read() == b""


# --- SafeAGI: pyst2's API with its defects fixed --------------------------------------------------

def _agi(replies: bytes) -> tuple[SafeAGI, io.BytesIO]:
    out = io.BytesIO()
    return SafeAGI(io.BytesIO(ENV + replies), out, install_sighup=False), out


def test_construction_outside_the_main_thread() -> None:
    """pyst2's AGI() installs a SIGHUP handler and fails in any thread but the main one."""
    errors: list[BaseException] = []
    made: list[SafeAGI] = []

    def work() -> None:
        try:
            AGI(stdin=io.StringIO("\n"), stdout=io.StringIO(), stderr=io.StringIO())
        except ValueError as exc:
            errors.append(exc)
        made.append(SafeAGI(io.BytesIO(ENV), io.BytesIO()))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors and "main thread" in str(errors[0])
    assert made[0].env["agi_arg_1"] == "selftest" and made[0].environment.args == ("selftest",)


def test_hangup_line_is_noted_not_a_value_error() -> None:
    agi, out = _agi(b"HANGUP\n200 result=1 (v)\n")
    assert agi.get_variable("X") == "v"
    assert agi.hung_up and out.getvalue() == b'GET VARIABLE "X"\n'


@pytest.mark.parametrize("replies", [
    b"511 Command Not Permitted on a dead channel or intercept routine\n",  # pyst2: unknown error
    b"",  # pyst2: ValueError
    b"520-Invalid command syntax.  Proper usage follows:\nSend the given",  # pyst2: loops for ever
])
def test_dead_channel_and_end_of_stream_are_hangups(replies: bytes) -> None:
    agi, _ = _agi(replies)
    with pytest.raises(AGIResultHangup):
        agi.stream_file("beep")


def test_quote_escapes_and_newlines_are_refused() -> None:
    agi, out = _agi(b"200 result=1\n")
    agi.set_variable("X", 'say "hi" \\o/')
    assert out.getvalue() == b'SET VARIABLE "X" "say \\"hi\\" \\\\o/"\n'
    agi, out = _agi(b"")
    with pytest.raises(InvalidArgument):
        agi.set_variable("X", "a\nHANGUP")
    assert out.getvalue() == b""
