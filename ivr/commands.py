"""The AGI commands flows use: builders that quote each argument the way Asterisk parses it, and
interpreters that turn a `Reply` into a typed outcome instead of a string.

The argument forms match what Asterisk 22 was recorded accepting (transcripts): file and variable
names as bare words, escape digits and free text always quoted (`STREAM FILE beep ""`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Final, Literal

from ivr.errors import InvalidArgument, ProtocolError
from ivr.protocol import Command, Reply, integer, quote, word

DTMF: Final = frozenset("0123456789*#ABCD")
_DTMF_CODES: Final = frozenset(ord(c) for c in DTMF)


def _digits(escape_digits: str) -> str:
    bad = set(escape_digits) - DTMF
    if bad:
        raise InvalidArgument(escape_digits, f"not DTMF digits: {''.join(sorted(bad))}")
    return quote(escape_digits)


def _word_or_quoted(value: str) -> str:
    try:
        return word(value)
    except InvalidArgument:
        return quote(value)


# --- builders -----------------------------------------------------------------------------------
# Commands are immutable, and flows send the same prompts again and again: the common builders
# are cached (typed, so that True is not taken for 1).
_cached = lru_cache(maxsize=4096, typed=True)


@_cached
def answer() -> Command:
    return Command.build("ANSWER")


@_cached
def hangup(channel: str | None = None) -> Command:
    return Command.build("HANGUP", *([word(channel)] if channel else []), dead_ok=True)


@_cached
def noop() -> Command:
    return Command.build("NOOP", dead_ok=True)


@_cached
def stream_file(filename: str, escape_digits: str = "", offset: int | None = None) -> Command:
    args = [word(filename), _digits(escape_digits)]
    if offset is not None:
        args.append(integer(offset))
    return Command.build("STREAM FILE", *args)


@_cached
def get_data(filename: str, timeout_ms: int | None = None, max_digits: int | None = None) -> Command:
    args = [word(filename)]
    if timeout_ms is not None or max_digits is not None:
        args.append(integer(timeout_ms if timeout_ms is not None else 0))  # 0: Asterisk's default
    if max_digits is not None:
        args.append(integer(max_digits))
    return Command.build("GET DATA", *args)


@_cached
def wait_for_digit(timeout_ms: int) -> Command:
    return Command.build("WAIT FOR DIGIT", integer(timeout_ms))


def say_number(number: int, escape_digits: str = "", gender: str | None = None) -> Command:
    args = [integer(number), _digits(escape_digits)]
    if gender is not None:
        args.append(word(gender))
    return Command.build("SAY NUMBER", *args)


def say_digits(digits: str, escape_digits: str = "") -> Command:
    if not digits or set(digits) - DTMF:
        raise InvalidArgument(digits, "SAY DIGITS takes digits")
    return Command.build("SAY DIGITS", digits, _digits(escape_digits))


def say_alpha(text: str, escape_digits: str = "") -> Command:
    return Command.build("SAY ALPHA", word(text), _digits(escape_digits))


def say_date(epoch: int, escape_digits: str = "") -> Command:
    return Command.build("SAY DATE", integer(epoch), _digits(escape_digits))


def say_time(epoch: int, escape_digits: str = "") -> Command:
    return Command.build("SAY TIME", integer(epoch), _digits(escape_digits))


def exec_(application: str, options: str | None = None) -> Command:
    """`EXEC app options`; options are the application's comma-separated arguments."""
    args = [word(application)]
    if options is not None:
        args.append(_word_or_quoted(options))
    return Command.build("EXEC", *args, dead_ok=True)


def set_variable(name: str, value: str) -> Command:
    return Command.build("SET VARIABLE", word(name), quote(value), dead_ok=True)


@_cached
def get_variable(name: str) -> Command:
    return Command.build("GET VARIABLE", word(name), dead_ok=True)


def get_full_variable(expression: str, channel: str | None = None) -> Command:
    args = [quote(expression)]
    if channel is not None:
        args.append(word(channel))
    return Command.build("GET FULL VARIABLE", *args, dead_ok=True)


def record_file(path: str, fmt: str = "wav", escape_digits: str = "#", timeout_ms: int = -1,
                *, offset: int | None = None, beep: bool = False, silence_s: int | None = None) -> Command:
    args = [word(path), word(fmt), _digits(escape_digits), integer(timeout_ms)]
    if offset is not None:
        args.append(integer(offset))
    if beep:
        args.append("BEEP")
    if silence_s is not None:
        args.append("s=" + integer(silence_s))
    return Command.build("RECORD FILE", *args)


def verbose(message: str, level: int = 1) -> Command:
    return Command.build("VERBOSE", quote(message), integer(level), dead_ok=True)


@_cached
def channel_status(channel: str | None = None) -> Command:
    return Command.build("CHANNEL STATUS", *([word(channel)] if channel else []))


# --- typed outcomes -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Completed:
    """Playback ran to its end (or until stopped) without a key."""

    endpos: int | None = None


@dataclass(frozen=True, slots=True)
class DigitPressed:
    """A key ended the command; it is consumed by it."""

    digit: str
    endpos: int | None = None


@dataclass(frozen=True, slots=True)
class Timeout:
    """No (or not enough) keys in time; `digits` holds what GET DATA collected before."""

    digits: str = ""


@dataclass(frozen=True, slots=True)
class Digits:
    """GET DATA collected its digits (max reached or `#` pressed)."""

    digits: str


@dataclass(frozen=True, slots=True)
class Failed:
    """`result=-1`: Asterisk says the channel hung up OR the command failed (a missing prompt file
    gives `result=-1 endpos=0` on a live channel). AgiSession asks the channel which it was."""

    result: str
    endpos: int | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """RECORD FILE wrote `endpos` samples and stopped for `ended_by`."""

    endpos: int
    ended_by: Literal["timeout", "dtmf", "hangup", "silence"]
    digit: str | None = None


class ChannelStatus(IntEnum):
    DOWN_AVAILABLE = 0
    DOWN_RESERVED = 1
    OFF_HOOK = 2
    DIGITS_DIALED = 3
    RINGING = 4
    REMOTE_RINGING = 5
    UP = 6
    BUSY = 7


def _int_result(reply: Reply) -> int:
    value = reply.result_int
    if value is None:
        raise ProtocolError("result is not a number", reply.text.encode())
    return value


def _digit(code: int, reply: Reply) -> str:
    if code not in _DTMF_CODES:
        raise ProtocolError("result is not a DTMF digit", reply.text.encode())
    return chr(code)


def playback_outcome(reply: Reply) -> Completed | DigitPressed | Failed:
    """STREAM FILE and SAY *: 0 finished, the digit's ASCII code, or -1."""
    code = _int_result(reply)
    if code < 0:
        return Failed(reply.result or "", reply.endpos)
    if code == 0:
        return Completed(reply.endpos)
    return DigitPressed(_digit(code, reply), reply.endpos)


def digit_outcome(reply: Reply) -> DigitPressed | Timeout | Failed:
    """WAIT FOR DIGIT: 0 on timeout, the digit's ASCII code, or -1."""
    code = _int_result(reply)
    if code < 0:
        return Failed(reply.result or "")
    if code == 0:
        return Timeout()
    return DigitPressed(_digit(code, reply))


def get_data_outcome(reply: Reply) -> Digits | Timeout | Failed:
    """GET DATA: the digits themselves (`result=0042` keeps its zeros), `(timeout)`, or -1."""
    digits = reply.result or ""
    if digits == "-1":
        return Failed(digits)
    if set(digits) - DTMF:
        raise ProtocolError("GET DATA result is not digits", reply.text.encode())
    if reply.data == "timeout":
        return Timeout(digits)
    return Digits(digits)


def record_outcome(reply: Reply) -> Recorded | Failed:
    """RECORD FILE: `0 (timeout)`, `<code> (dtmf)`, `-1 (hangup)` with endpos; else -1."""
    code = _int_result(reply)
    endpos = reply.endpos or 0
    if reply.data == "hangup":
        return Recorded(endpos, "hangup")
    if code < 0:
        return Failed(reply.result or "", reply.endpos)
    if reply.data == "dtmf" or code > 0:
        return Recorded(endpos, "dtmf", _digit(code, reply))
    return Recorded(endpos, "timeout" if reply.data == "timeout" else "silence")


def variable_value(reply: Reply) -> str | None:
    """GET [FULL] VARIABLE: `result=1 (value)` or `result=0` when unset.

    The value is everything between the first `(` and the last `)` of the line, so values that
    contain parentheses or `endpos=` survive.
    """
    if reply.result == "0":
        return None
    if reply.result != "1":
        raise ProtocolError("unexpected GET VARIABLE result", reply.text.encode())
    text = reply.text
    start, end = text.find("("), text.rfind(")")
    if start < 0 or end < start:
        raise ProtocolError("GET VARIABLE reply without (value)", text.encode())
    return text[start + 1:end]


def channel_status_value(reply: Reply) -> ChannelStatus:
    code = _int_result(reply)
    try:
        return ChannelStatus(code)
    except ValueError:
        raise ProtocolError("unknown channel status", reply.text.encode()) from None
