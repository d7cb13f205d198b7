"""The sans-IO AGI protocol: reply forms, caps, quoting, state, and a fuzzed parser (issue 4)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr import commands as cmds
from ivr.commands import DigitPressed, Digits, Failed, Recorded, Timeout
from ivr.errors import InvalidArgument, LocalProtocolError, ProtocolError
from ivr.protocol import (
    AgiConnection,
    AgiParser,
    EndOfStream,
    Environment,
    HangupLine,
    Reply,
    Request,
    State,
    Trying,
    quote,
)
from tests.ivr.peer import environment, split_args

ENV = environment("hotline?lang=ru", args=["a b", "c"])


def _ready() -> AgiConnection:
    conn = AgiConnection()
    conn.receive_data(ENV)
    return conn


def _reply(line: bytes) -> Reply:
    conn = _ready()
    conn.send(cmds.answer())
    (event,) = conn.receive_data(line)
    assert isinstance(event, Reply)
    return event


@pytest.mark.parametrize(("line", "expected"), [
    (b"200 result=0\n", Reply(200, "0", text="result=0")),
    (b"200 result=49 endpos=4160\n", Reply(200, "49", None, 4160, "result=49 endpos=4160")),
    (b"200 result= (timeout)\n", Reply(200, "", "timeout", None, "result= (timeout)")),
    (b"200 result=0 (timeout) endpos=24000\n",
     Reply(200, "0", "timeout", 24000, "result=0 (timeout) endpos=24000")),
    (b"200 result=1 (ru|hello world)\n", Reply(200, "1", "ru|hello world", None, "result=1 (ru|hello world)")),
    (b"200 result=0 Gosub complete\n", Reply(200, "0", None, None, "result=0 Gosub complete")),
    (b"510 Invalid or unknown command\n", Reply(510, text="Invalid or unknown command")),
    (b"511 Command Not Permitted on a dead channel or intercept routine\n",
     Reply(511, text="Command Not Permitted on a dead channel or intercept routine")),
    (b"520 Invalid command syntax.  Proper usage not available.\n",
     Reply(520, text="Invalid command syntax.  Proper usage not available.")),
    (b"200 result=0\r\n", Reply(200, "0", text="result=0")),
])
def test_reply_forms(line: bytes, expected: Reply) -> None:
    assert _reply(line) == expected


def test_trying_then_final_reply_and_unsolicited_hangup() -> None:
    conn = _ready()
    conn.send(cmds.exec_("Gosub", "sub,s,1"))
    events = conn.receive_data(b"100 result=0 Trying...\nHANGUP\n")
    assert events == [Trying("result=0 Trying..."), HangupLine()]
    assert conn.state is State.AWAIT_REPLY and conn.hung_up
    assert conn.receive_data(b"200 result=0 Gosub complete\n")[0].code == 200  # type: ignore[union-attr]
    assert conn.state is State.READY


def test_511_marks_the_channel_dead() -> None:
    conn = _ready()
    conn.send(cmds.channel_status())
    conn.receive_data(b"511 Command Not Permitted on a dead channel or intercept routine\n")
    assert conn.hung_up


def test_three_part_520_in_any_chunking() -> None:
    block = (b"520-Invalid command syntax.  Proper usage follows:\nSets a variable.\nSecond line.\n"
             b"520 End of proper usage.\n")
    for step in (1, 3, len(block)):
        conn = _ready()
        conn.send(cmds.set_variable("X", ""))
        events = []
        for i in range(0, len(block), step):
            events += conn.receive_data(block[i:i + step])
        assert events == [Reply(520, text="Invalid command syntax.  Proper usage follows:",
                                usage="Sets a variable.\nSecond line.")]


def test_truncated_520_block_ends_instead_of_looping() -> None:
    """pyst2 reads a cut-off 520 block for ever; here the end of stream ends it."""
    conn = _ready()
    conn.send(cmds.get_data("beep"))
    assert conn.receive_data(b"520-Invalid command syntax.  Proper usage follows:\nStream the") == []
    (end,) = conn.receive_eof()
    assert isinstance(end, EndOfStream)
    assert end.truncated == b"Invalid command syntax.  Proper usage follows:\nStream the"
    assert conn.state is State.CLOSED


def test_length_caps() -> None:
    parser = AgiParser(max_line=100, max_block=300)
    with pytest.raises(ProtocolError, match="line too long"):
        parser.feed(b"agi_network: " + b"y" * 200)
    with pytest.raises(ProtocolError):  # broken stays broken
        parser.feed(b"\n")
    conn = AgiConnection(AgiParser(max_block=300))
    conn.receive_data(ENV)
    conn.send(cmds.answer())
    with pytest.raises(ProtocolError, match="520 usage block too long"):
        conn.receive_data(b"520-x\n" + b"usage line\n" * 40)
    assert conn.state is State.BROKEN
    with pytest.raises(ProtocolError, match="too many environment lines"):
        AgiParser(max_env_lines=3).feed(b"agi_a: 1\nagi_b: 2\nagi_c: 3\nagi_d: 4\n")


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\r\n", b"\n", b"agi_x: 1\nagi_x: 2\n", b"agi_network yes\n", b"agi_n\xff: 1\n",
])
def test_bad_environment_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        AgiConnection().receive_data(data)
    assert info.value.data or info.value.reason


@pytest.mark.parametrize("line", [b"200 ok\n", b"hello\n", b"20 result=0\n", b"200+result=0\n"])
def test_bad_reply_is_a_protocol_error(line: bytes) -> None:
    conn = _ready()
    conn.send(cmds.answer())
    with pytest.raises(ProtocolError):
        conn.receive_data(line)


def test_unsolicited_reply_and_second_command_are_refused() -> None:
    conn = _ready()
    with pytest.raises(ProtocolError, match="unexpected Reply while ready"):
        conn.receive_data(b"200 result=0\n")
    conn = _ready()
    conn.send(cmds.answer())
    with pytest.raises(LocalProtocolError):
        conn.send(cmds.answer())
    with pytest.raises(LocalProtocolError):
        AgiConnection().send(cmds.answer())


def test_environment_typed_accessors() -> None:
    (env,) = AgiConnection().receive_data(ENV)
    assert isinstance(env, Environment)
    assert env.uniqueid == "1795788722.1" and env.language == "ru" and env.callingpres == 67
    assert env.threadid == 140412684912320 and not env.enhanced and env.accountcode == ""
    assert env.args == ("a b", "c")
    request = Request.from_environment(env)
    assert (request.path, dict(request.query), request.args) == ("hotline", {"lang": "ru"}, ("a b", "c"))


def test_classic_agi_request_comes_from_the_first_argument() -> None:
    (env,) = AgiConnection().receive_data(environment("x", network=False, args=["/hotline/?id=%D0%AF", "7"]))
    assert isinstance(env, Environment) and not env.network
    request = Request.from_environment(env)
    assert (request.path, dict(request.query), request.args) == ("hotline", {"id": "Я"}, ("7",))


# --- encoding -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "wire"), [
    ("hello world", '"hello world"'), ('say "hi"', r'"say \"hi\""'), ("a\\b", r'"a\\b"'), ("", '""'),
    ("привет", '"привет"'),
])
def test_quote_escapes_quotes_and_backslashes(value: str, wire: str) -> None:
    assert quote(value) == wire
    assert split_args(wire) == [(value, True)]  # Asterisk reads back what was meant


@pytest.mark.parametrize("value", ["two\nlines", "cr\r", "tab\t", "nul\x00", "del\x7f"])
def test_control_characters_are_refused(value: str) -> None:
    with pytest.raises(InvalidArgument):
        cmds.set_variable("X", value)
    with pytest.raises(InvalidArgument):
        cmds.stream_file(value)


@pytest.mark.parametrize("build", [
    lambda: cmds.stream_file("two words"), lambda: cmds.stream_file('q"uote'), lambda: cmds.get_variable(""),
    lambda: cmds.stream_file("beep", "12x"), lambda: cmds.say_digits("12a"), lambda: cmds.wait_for_digit(True),
    lambda: cmds.set_variable("X", "v" * 3000),
])
def test_unsafe_arguments_are_refused(build: object) -> None:
    with pytest.raises(InvalidArgument):
        build()  # type: ignore[operator]


def test_command_forms() -> None:
    assert cmds.stream_file("beep").wire == b'STREAM FILE beep ""\n'
    assert cmds.stream_file("autoinform/num/5", "0#", 800).wire == b'STREAM FILE autoinform/num/5 "0#" 800\n'
    assert cmds.get_data("beep").wire == b"GET DATA beep\n"
    assert cmds.get_data("beep", max_digits=4).wire == b"GET DATA beep 0 4\n"
    assert cmds.exec_("Dial", "PJSIP/100,30").wire == b"EXEC Dial PJSIP/100,30\n"
    assert cmds.exec_("Playback", "a&b c").wire == b'EXEC Playback "a&b c"\n'
    assert cmds.record_file("/tmp/r", "wav", "#", 5000, beep=True, silence_s=3).wire == \
        b'RECORD FILE /tmp/r wav "#" 5000 BEEP s=3\n'
    assert cmds.set_variable("X", "1").dead_ok and not cmds.stream_file("x").dead_ok


# --- typed outcomes -----------------------------------------------------------------------------

def test_outcomes() -> None:
    assert cmds.get_data_outcome(Reply(200, "0042")) == Digits("0042")
    assert cmds.get_data_outcome(Reply(200, "12", "timeout")) == Timeout("12")
    assert cmds.get_data_outcome(Reply(200, "-1")) == Failed("-1")
    assert cmds.digit_outcome(Reply(200, "35")) == DigitPressed("#")
    assert cmds.record_outcome(Reply(200, "35", "dtmf", 800)) == Recorded(800, "dtmf", "#")
    assert cmds.record_outcome(Reply(200, "-1", "hangup", 1600)) == Recorded(1600, "hangup")
    assert cmds.variable_value(Reply(200, "1", "x", 5, text="result=1 (a) endpos=5)")) == "a) endpos=5"
    for bad in (Reply(200, "abc"), Reply(200, "7"), Reply(200, "99999999999999999999")):
        with pytest.raises(ProtocolError):
            cmds.digit_outcome(bad)
    with pytest.raises(ProtocolError):
        cmds.get_data_outcome(Reply(200, "12x"))


# --- fuzz ---------------------------------------------------------------------------------------

_PIECES = st.sampled_from([
    b"agi_network: yes\n", b"agi_uniqueid: 1.2\n", b"\n", b"200 result=", b"0", b"-1", b" (timeout)",
    b" endpos=", b"9" * 30, b"HANGUP\n", b"520-", b"520 End\n", b"511 x\n", b"100 result=0 Trying\n",
    b"(", b")", b"\r", b"\xff\xfe", b"agi_arg_1: x\n",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=40), _PIECES), max_size=30),
       st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=8), st.booleans())
def test_fuzz_parser_raises_only_protocol_error(pieces: list[bytes], cuts: list[int], eof: bool) -> None:
    """Any bytes in any chunking: events or ProtocolError, nothing else, and it always returns."""
    data = b"".join(pieces)
    conn = AgiConnection(AgiParser(max_line=256, max_block=512))
    try:
        pos, i = 0, 0
        while pos < len(data):
            step = cuts[i % len(cuts)]
            events = conn.receive_data(data[pos:pos + step])
            pos, i = pos + step, i + 1
            for event in events:
                if isinstance(event, Reply):
                    for interpret in (cmds.playback_outcome, cmds.get_data_outcome, cmds.record_outcome,
                                      cmds.variable_value, cmds.digit_outcome, cmds.channel_status_value):
                        with contextlib.suppress(ProtocolError):
                            interpret(event)
            if conn.state is State.READY:
                conn.send(cmds.answer())  # keep it expecting replies
        if eof:
            conn.receive_eof()
    except ProtocolError:
        pass
