"""The AGI wire protocol, free of I/O (h11 style): bytes in, events out; commands in, bytes out.

What Asterisk 22 really sends (see shared/asterisk/transcripts/): an environment of `agi_*: value`
lines ended by a blank line, possibly split over many reads; then one reply per command:
`200 result=N [(data)] [endpos=N]`, `100 result=0 Trying...` before a later final reply,
`510 ...`, `511 ...` (dead channel), a three-part `520-.../usage.../520 End of proper usage.`, and
at any time after a hang-up an unsolicited `HANGUP` line. Every line is capped in length so a
broken or hostile peer gets a ProtocolError instead of unbounded memory, and a 520 block cut off by
the end of the stream ends as `EndOfStream` instead of a read loop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property
from types import MappingProxyType
from typing import Final, NamedTuple
from urllib.parse import parse_qsl

from ivr.errors import InvalidArgument, LocalProtocolError, ProtocolError

MAX_LINE: Final = 16 * 1024
"""Longest line accepted; Asterisk's own buffers are 2-8 KiB, variable values included."""
MAX_BLOCK: Final = 64 * 1024
"""Longest 520 usage block accepted."""
MAX_ENV_LINES: Final = 256
"""22 standard variables plus up to Asterisk's 128 arguments, with room to spare."""
MAX_COMMAND: Final = 2047
"""Asterisk reads commands into a 2048-byte buffer (AGI_BUF_LEN), newline included."""

ENV_KEYS: Final = (
    "agi_network", "agi_network_script", "agi_request", "agi_channel", "agi_language", "agi_type",
    "agi_uniqueid", "agi_version", "agi_callerid", "agi_calleridname", "agi_callingpres",
    "agi_callingani2", "agi_callington", "agi_callingtns", "agi_dnid", "agi_rdnis", "agi_context",
    "agi_extension", "agi_priority", "agi_enhanced", "agi_accountcode", "agi_threadid",
)
"""The 22 variables of a FastAGI environment, in the order Asterisk 22 sends them."""
_ENV_KEYSET: Final = frozenset(ENV_KEYS)


# --- events -------------------------------------------------------------------------------------

class Environment:
    """The `agi_*` variables of one call, with typed accessors for the ones flows use."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self.variables: Mapping[str, str] = MappingProxyType(dict(variables))

    def __repr__(self) -> str:
        return f"Environment(uniqueid={self.uniqueid!r}, script={self.script!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Environment) and self.variables == other.variables

    __hash__ = None  # type: ignore[assignment]

    def get(self, name: str, default: str = "") -> str:
        return self.variables.get(name, default)

    def _int(self, name: str) -> int | None:
        value = self.variables.get(name, "")
        return int(value) if value.lstrip("-").isdigit() and len(value) < 19 else None

    @property
    def network(self) -> bool:
        """True for FastAGI (`agi_network: yes`), False for a classic stdin/stdout AGI."""
        return self.variables.get("agi_network") == "yes"

    @property
    def script(self) -> str:
        """`agi_network_script` as sent, query string included (FastAGI only)."""
        return self.variables.get("agi_network_script", "")

    @property
    def request(self) -> str:
        return self.get("agi_request")

    @property
    def channel(self) -> str:
        return self.get("agi_channel")

    @property
    def language(self) -> str:
        return self.get("agi_language")

    @property
    def type(self) -> str:
        return self.get("agi_type")

    @property
    def uniqueid(self) -> str:
        return self.get("agi_uniqueid")

    @property
    def version(self) -> str:
        return self.get("agi_version")

    @property
    def callerid(self) -> str:
        return self.get("agi_callerid")

    @property
    def calleridname(self) -> str:
        return self.get("agi_calleridname")

    @property
    def callingpres(self) -> int | None:
        return self._int("agi_callingpres")

    @property
    def callingani2(self) -> int | None:
        return self._int("agi_callingani2")

    @property
    def callington(self) -> int | None:
        return self._int("agi_callington")

    @property
    def callingtns(self) -> int | None:
        return self._int("agi_callingtns")

    @property
    def dnid(self) -> str:
        return self.get("agi_dnid")

    @property
    def rdnis(self) -> str:
        return self.get("agi_rdnis")

    @property
    def context(self) -> str:
        return self.get("agi_context")

    @property
    def extension(self) -> str:
        return self.get("agi_extension")

    @property
    def priority(self) -> str:
        """A number or a dialplan label, hence a string."""
        return self.get("agi_priority")

    @property
    def enhanced(self) -> bool:
        """True for EAGI (audio on fd 3)."""
        return self.get("agi_enhanced", "0.0") not in ("0", "0.0", "")

    @property
    def accountcode(self) -> str:
        return self.get("agi_accountcode")

    @property
    def threadid(self) -> int | None:
        return self._int("agi_threadid")

    @cached_property
    def args(self) -> tuple[str, ...]:
        """`agi_arg_1`, `agi_arg_2`, ... in order (arguments after the script in AGI())."""
        out: list[str] = []
        while (value := self.variables.get(f"agi_arg_{len(out) + 1}")) is not None:
            out.append(value)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Request:
    """What the call asks for: a route path, its query string and the AGI() arguments.

    FastAGI: `AGI(agi://host/hotline?lang=ru,a,b)` -> path "hotline", query {"lang": "ru"},
    args ("a", "b"). Classic AGI has no URL, so the first argument names the route:
    `AGI(ivr-agi,hotline?lang=ru,a)` -> the same Request.
    """

    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()

    @classmethod
    def parse(cls, target: str, args: tuple[str, ...] = ()) -> Request:
        path, _, query = target.partition("?")
        pairs = parse_qsl(query, keep_blank_values=True) if query else []
        return cls(path.strip("/"), MappingProxyType(dict(pairs)), args)

    @classmethod
    def from_environment(cls, env: Environment) -> Request:
        if env.network:
            return cls.parse(env.script, env.args)
        args = env.args
        return cls.parse(args[0], args[1:]) if args else cls("")


class Reply(NamedTuple):
    """One final reply. `result` is the raw text after `result=` (GET DATA digits keep leading
    zeros; `""` on a GET DATA timeout), None for replies without one (510, 511, 520).

    A NamedTuple: immutable, and three times cheaper to build than a frozen dataclass.
    """

    code: int
    result: str | None = None
    data: str | None = None
    endpos: int | None = None
    text: str = ""
    """The line after the code, as sent (for 520: the first line)."""
    usage: str | None = None
    """520 only: the usage text between the first line and `520 End of proper usage.`."""

    @property
    def result_int(self) -> int | None:
        r = self.result
        if r is None or not r.lstrip("-").isdigit() or len(r) > 18:
            return None
        return int(r)


@dataclass(frozen=True, slots=True)
class Trying:
    """`100 result=0 Trying...`: a provisional reply (GOSUB); the final one follows."""

    text: str


@dataclass(frozen=True, slots=True)
class HangupLine:
    """The unsolicited `HANGUP` line Asterisk sends when the channel hangs up."""


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The peer closed the stream; `truncated` holds any unfinished line or 520 block."""

    truncated: bytes = b""


Event = Environment | Reply | Trying | HangupLine | EndOfStream

_HANGUP: Final = HangupLine()
_TAIL = re.compile(r"(?:\((?P<data>.*)\))?\s*(?:endpos=(?P<endpos>-?\d{1,18})(?!\d))?\s*(?P<extra>.*)\Z",
                   re.DOTALL)


# --- parser -------------------------------------------------------------------------------------

class AgiParser:
    """Incremental parser: `feed(bytes)` in any chunking returns the complete events so far.

    After a ProtocolError the parser is broken and keeps raising it: the stream cannot be trusted.
    """

    __slots__ = ("_block", "_block_code", "_block_size", "_broken", "_buf", "_ended", "_env",
                 "_in_env", "_max_block", "_max_env_lines", "_max_line")

    def __init__(self, *, max_line: int = MAX_LINE, max_block: int = MAX_BLOCK,
                 max_env_lines: int = MAX_ENV_LINES) -> None:
        self._buf = bytearray()
        self._in_env = True
        self._env: dict[str, str] = {}
        self._block: list[str] | None = None
        self._block_code = b""
        self._block_size = 0
        self._broken: ProtocolError | None = None
        self._ended = False
        self._max_line = max_line
        self._max_block = max_block
        self._max_env_lines = max_env_lines

    def feed(self, data: bytes) -> list[Event]:
        if self._broken is not None:
            raise self._broken
        if self._ended:
            raise self._fail(ProtocolError("data after end of stream", data))
        buf = self._buf
        if data and not buf and not self._in_env and self._block is None and data.find(b"\n") == len(data) - 1:
            # The usual read: exactly one whole reply line, nothing buffered.
            try:
                if len(data) > self._max_line:
                    raise ProtocolError("line too long", data[:80])
                event = self._line(data[:-1])
            except ProtocolError as exc:
                raise self._fail(exc) from None
            return [event] if event is not None else []
        buf += data
        events: list[Event] = []
        start = 0
        try:
            if self._in_env:
                start = self._environment(buf, events)
            while (nl := buf.find(b"\n", start)) >= 0:
                if nl - start > self._max_line:
                    raise ProtocolError("line too long", bytes(buf[start:start + 80]))
                event = self._line(bytes(buf[start:nl]))
                start = nl + 1
                if event is not None:
                    events.append(event)
            if len(buf) - start > self._max_line:
                raise ProtocolError("line too long", bytes(buf[start:start + 80]))
        except ProtocolError as exc:
            raise self._fail(exc) from None
        del buf[:start]
        return events

    def _environment(self, buf: bytearray, events: list[Event]) -> int:
        """Parse the complete environment lines in `buf` in one go (the environment is most of
        the bytes of a call); returns where the unparsed rest starts."""
        start = 0
        while True:
            if buf[start:start + 1] == b"\n":  # the blank line: the environment is complete
                if not self._env:
                    raise ProtocolError("empty AGI environment")
                events.append(Environment(self._env))
                self._env, self._in_env = {}, False
                return start + 1
            end = buf.find(b"\n\n", start)
            if end < 0:
                end = buf.rfind(b"\n", start)
                if end >= 0:
                    self._env_lines(bytes(buf[start:end]))
                return end + 1 if end >= 0 else start
            self._env_lines(bytes(buf[start:end]))
            start = end + 1

    def _env_lines(self, block: bytes) -> None:
        env, max_line = self._env, self._max_line
        for line in block.decode("utf-8", "replace").split("\n"):
            key, sep, value = line.partition(":")
            if key not in _ENV_KEYSET:
                name = key[4:].replace("_", "")
                if not sep or not key.startswith("agi_") or not (name.isascii() and name.isalnum()):
                    raise ProtocolError("not an AGI environment line", line.encode())
            if key in env:
                raise ProtocolError("variable repeated in the environment", line.encode())
            if len(env) >= self._max_env_lines:
                raise ProtocolError("too many environment lines", line.encode())
            if len(line) > max_line:
                raise ProtocolError("line too long", line[:80].encode())
            env[key] = value[1:] if value[:1] == " " else value

    def feed_eof(self) -> list[Event]:
        if self._broken is not None:
            raise self._broken
        if self._ended:
            return []
        self._ended = True
        truncated = bytes(self._buf)
        if self._block is not None:
            truncated = "\n".join(self._block).encode() + b"\n" + truncated
        self._buf.clear()
        self._block = None
        return [EndOfStream(truncated)]

    def _fail(self, exc: ProtocolError) -> ProtocolError:
        self._broken = exc
        self._buf.clear()
        return exc

    def _line(self, raw: bytes) -> Event | None:
        if raw[-1:] == b"\r":
            raw = raw[:-1]
        if self._block is not None:
            return self._block_line(raw)
        return self._reply_line(raw)

    def _block_line(self, raw: bytes) -> Reply | None:
        assert self._block is not None
        self._block_size += len(raw) + 1
        if self._block_size > self._max_block:
            raise ProtocolError("520 usage block too long", raw)
        text = raw.decode("utf-8", "replace")
        if raw[:3] == self._block_code and raw[3:4] in (b" ", b""):
            first, *usage = self._block
            self._block = None
            return Reply(int(self._block_code), text=first, usage="\n".join(usage))
        self._block.append(text)
        return None

    def _reply_line(self, raw: bytes) -> Reply | Trying | HangupLine | None:
        if raw == b"HANGUP":
            return _HANGUP
        code_b, sep = raw[:3], raw[3:4]
        if len(code_b) != 3 or not code_b.isdigit() or sep not in (b" ", b"-", b""):
            raise ProtocolError("not an AGI reply", raw)
        text = raw[4:].decode("utf-8", "replace")
        if sep == b"-":
            self._block, self._block_code, self._block_size = [text], code_b, len(raw)
            return None
        if code_b == b"200":
            return _parse_200(text, raw)
        if code_b == b"100":
            return Trying(text)
        return Reply(int(code_b), text=text)


def _parse_200(text: str, raw: bytes) -> Reply:
    if text[:7] != "result=":
        raise ProtocolError("200 reply without result=", raw)
    rest = text[7:]
    space = rest.find(" ")
    if space < 0:  # the common case: `200 result=0`
        return Reply(200, rest, text=text)
    tail = rest[space + 1:]
    m = _TAIL.match(tail)
    if m is None:  # pragma: no cover - the pattern matches every string
        raise ProtocolError("unparsable 200 reply", raw)
    endpos = m.group("endpos")
    return Reply(200, rest[:space], m.group("data"), int(endpos) if endpos is not None else None, text)


# --- connection state ---------------------------------------------------------------------------

class State(IntEnum):
    """An IntEnum so the transition lookup, done for every line, hashes in C."""

    AWAIT_ENV = 1
    READY = 2
    AWAIT_REPLY = 3
    CLOSED = 4
    BROKEN = 5

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


class _CommandSent:
    """Marker for the one transition this side causes."""


# (state, event type) -> next state; a pair not listed is a protocol violation.
TRANSITIONS: Final[dict[tuple[State, type], State]] = {
    (State.AWAIT_ENV, Environment): State.READY,
    (State.READY, _CommandSent): State.AWAIT_REPLY,
    (State.AWAIT_REPLY, Reply): State.READY,
    (State.AWAIT_REPLY, Trying): State.AWAIT_REPLY,
    (State.READY, HangupLine): State.READY,
    (State.AWAIT_REPLY, HangupLine): State.AWAIT_REPLY,
    (State.AWAIT_ENV, EndOfStream): State.CLOSED,
    (State.READY, EndOfStream): State.CLOSED,
    (State.AWAIT_REPLY, EndOfStream): State.CLOSED,
}


class AgiConnection:
    """One AGI conversation as state: feed it what Asterisk sent, ask it for what to send.

    `hung_up` turns true on the `HANGUP` line or a 511 reply and stays true: from then on only
    commands that Asterisk runs on a dead channel (variables, VERBOSE, EXEC, HANGUP) make sense.
    """

    __slots__ = ("environment", "hung_up", "parser", "pending", "state")

    def __init__(self, parser: AgiParser | None = None) -> None:
        self.parser = parser or AgiParser()
        self.state = State.AWAIT_ENV
        self.environment: Environment | None = None
        self.pending: Command | None = None
        self.hung_up = False

    def receive_data(self, data: bytes) -> list[Event]:
        try:
            events = self.parser.feed(data)
        except ProtocolError:
            self.state = State.BROKEN
            raise
        for event in events:
            self._apply(event)
        return events

    def receive_eof(self) -> list[Event]:
        events = self.parser.feed_eof()
        for event in events:
            self._apply(event)
        return events

    def _apply(self, event: Event) -> None:
        kind = type(event)
        new = TRANSITIONS.get((self.state, kind))
        if new is None:
            error = ProtocolError(f"unexpected {kind.__name__} while {self.state.label}")
            self.state = State.BROKEN
            raise error
        if kind is Reply:
            self.pending = None
            if event.code == 511:  # type: ignore[union-attr]
                self.hung_up = True
        elif kind is HangupLine:
            self.hung_up = True
        elif kind is Environment:
            self.environment = event  # type: ignore[assignment]
        elif kind is EndOfStream:
            self.pending = None
        self.state = new

    def send(self, command: Command) -> bytes:
        """The bytes to write for `command`; one command at a time, as AGI requires."""
        if (self.state, _CommandSent) not in TRANSITIONS:
            raise LocalProtocolError(f"cannot send {command.name} while {self.state.label}")
        self.state = State.AWAIT_REPLY
        self.pending = command
        return command.wire


# --- encoding -----------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WORD = re.compile(r'[^\s"\\\x00-\x1f\x7f]+\Z')


def quote(value: str) -> str:
    """An argument as Asterisk parses it: in double quotes, `"` and `\\` escaped.

    Control characters are refused: a newline would end the command and start another one.
    """
    if _CONTROL.search(value):
        raise InvalidArgument(value, "control characters and line breaks cannot be sent to Asterisk")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def word(value: str) -> str:
    """A bare argument (file name, variable name, number): one token that needs no quoting."""
    if not _WORD.match(value):
        raise InvalidArgument(value, "must be one word without spaces, quotes, backslashes or "
                                     "control characters")
    return value


def integer(value: int) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(repr(value), "must be an int")
    return str(value)


@dataclass(frozen=True, slots=True)
class Command:
    """One encoded command. Build it with the functions in ivr.commands, not by pasting strings.

    `dead_ok`: Asterisk still runs it after the channel hung up (variables, VERBOSE, EXEC, HANGUP);
    other commands get `511` then.
    """

    name: str
    line: str
    dead_ok: bool = False
    wire: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        wire = self.line.encode() + b"\n"
        if len(wire) > MAX_COMMAND + 1:
            raise InvalidArgument(self.line, f"command longer than Asterisk's {MAX_COMMAND} bytes")
        if _CONTROL.search(self.line):
            raise InvalidArgument(self.line, "control characters in a command line")
        object.__setattr__(self, "wire", wire)

    @classmethod
    def build(cls, name: str, *args: str, dead_ok: bool = False) -> Command:
        """`args` must already be encoded with quote(), word() or integer()."""
        return cls(name, " ".join((name, *args)) if args else name, dead_ok)
