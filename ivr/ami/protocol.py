"""The Asterisk Manager Interface wire protocol, free of I/O: bytes in, messages out; actions in,
bytes out; replies matched to their actions by ActionID.

What Asterisk 22 really sends (shared/asterisk/transcripts/ami_*.txt, tests/fixtures/asterisk/):
one banner line `Asterisk Call Manager/11.0.0\\r\\n`, then blocks of `Key: Value\\r\\n` lines, each
ended by an empty line. A block is a `Response:` (to the action named by its `ActionID:`) or an
`Event:`; keys repeat (`ChanVariable: NAME=value`, `Variable: ...`) and are all kept, in order.
Blocks arrive split anywhere and several to a read. Multi-event replies (CoreShowChannels, Status)
answer `Response: Success` with `EventList: start`, then events carrying the same ActionID, then a
`...Complete` event with `EventList: Complete`; events of other sources interleave freely.

Lines and blocks are capped so a broken or hostile peer gets a ProtocolError instead of unbounded
memory; actions are encoded with control characters refused (a CR/LF in a value would end the
action and start another one, chosen by whoever controls the value).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from autoinform.logs import scrub
from ivr.errors import AmiProtocolError, InvalidArgument

MAX_LINE: Final = 16 * 1024
"""Longest line accepted from Asterisk (variable values included)."""
MAX_MESSAGE: Final = 256 * 1024
"""Longest block accepted; Asterisk's biggest ordinary events are a few KiB."""
MAX_FIELDS: Final = 1024
"""Most `Key: Value` lines in one block."""
MAX_ACTION_LINE: Final = 1022
"""Asterisk reads action lines into a 1025-byte buffer (manager.c `inbuf`), CRLF included."""
MAX_ACTION_FIELDS: Final = 128
"""Asterisk keeps at most AST_MAX_MANHEADERS (128) lines of one action, the rest are dropped."""

BANNER_PREFIX: Final = "Asterisk Call Manager/"
SECRET_KEYS: Final = frozenset({"secret", "key"})
"""Action fields never written to a log, whatever their value."""

Fields = Sequence[tuple[str, str]]


# --- messages -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Message:
    """One block as received: every `Key: Value` pair in order, repeats kept.

    Lookup is case-insensitive (Asterisk itself is) and returns the first value of a key.
    """

    fields: Fields
    _index: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for key, value in self.fields:
            index.setdefault(key.lower(), value)
        object.__setattr__(self, "_index", index)

    def get(self, key: str, default: str = "") -> str:
        return self._index.get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return self._index[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated key (`ChanVariable`, `Variable`, `Output`), in order."""
        k = key.lower()
        return [v for name, v in self.fields if name.lower() == k]

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    @property
    def chan_variables(self) -> dict[str, str]:
        """`ChanVariable: NAME=value` lines (manager.conf `channelvars`) as a dict."""
        return _pairs(self.get_all("ChanVariable"))

    @property
    def variables(self) -> dict[str, str]:
        """`Variable: NAME=value` lines (Status with AllVariables) as a dict."""
        return _pairs(self.get_all("Variable"))

    def masked(self) -> str:
        """A log-safe one-line rendering: secrets hidden, phone numbers masked."""
        return masked(self.fields)


def _pairs(values: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, _, value = item.partition("=")
        out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class Response(Message):
    """`Response: Success|Error|Goodbye|Follows` to the action with the same ActionID."""

    @property
    def status(self) -> str:
        return self.get("Response")

    @property
    def ok(self) -> bool:
        return self.status.lower() in ("success", "goodbye", "follows")

    @property
    def message(self) -> str:
        return self.get("Message")

    @property
    def starts_list(self) -> bool:
        return self.get("EventList").lower() == "start"


@dataclass(frozen=True, slots=True)
class Event(Message):
    """`Event: Name` with its fields."""

    @property
    def name(self) -> str:
        return self.get("Event")

    @property
    def completes_list(self) -> bool:
        return self.get("EventList").lower() == "complete"


@dataclass(frozen=True, slots=True)
class Banner:
    """The first line: `Asterisk Call Manager/11.0.0` (the AMI version, not Asterisk's)."""

    text: str

    @property
    def version(self) -> str:
        return self.text.removeprefix(BANNER_PREFIX)


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The peer closed the stream; `truncated` holds any unfinished block."""

    truncated: bytes = b""


Received = Banner | Response | Event | EndOfStream


# --- parser -------------------------------------------------------------------------------------

class AmiParser:
    """Incremental parser: `feed(bytes)` in any chunking returns the complete messages so far.

    After a ProtocolError the parser is broken and keeps raising it: the stream cannot be trusted.
    """

    __slots__ = ("_banner", "_broken", "_buf", "_ended", "_fields", "_max_fields", "_max_line",
                 "_max_message", "_size")

    def __init__(self, *, max_line: int = MAX_LINE, max_message: int = MAX_MESSAGE,
                 max_fields: int = MAX_FIELDS) -> None:
        self._buf = bytearray()
        self._banner = False
        self._fields: list[tuple[str, str]] = []
        self._size = 0
        self._broken: AmiProtocolError | None = None
        self._ended = False
        self._max_line = max_line
        self._max_message = max_message
        self._max_fields = max_fields

    def feed(self, data: bytes) -> list[Banner | Response | Event]:
        if self._broken is not None:
            raise self._broken
        if self._ended:
            raise self._fail(AmiProtocolError("data after end of stream", data))
        buf = self._buf
        buf += data
        out: list[Banner | Response | Event] = []
        start = 0
        try:
            while (nl := buf.find(b"\n", start)) >= 0:
                end = nl - 1 if nl > start and buf[nl - 1] == 0x0D else nl
                if end - start > self._max_line:
                    raise AmiProtocolError("line too long", bytes(buf[start:start + 80]))
                message = self._line(bytes(buf[start:end]))
                start = nl + 1
                if message is not None:
                    out.append(message)
            if len(buf) - start > self._max_line:
                raise AmiProtocolError("line too long", bytes(buf[start:start + 80]))
            if self._size + len(buf) - start > self._max_message:
                raise AmiProtocolError("message too long", bytes(buf[start:start + 80]))
        except AmiProtocolError as exc:
            raise self._fail(exc) from None
        del buf[:start]
        return out

    def feed_eof(self) -> list[EndOfStream]:
        if self._broken is not None:
            raise self._broken
        if self._ended:
            return []
        self._ended = True
        pending = "".join(f"{k}: {v}\r\n" for k, v in self._fields).encode() + bytes(self._buf)
        self._buf.clear()
        self._fields = []
        return [EndOfStream(pending)]

    def _fail(self, exc: AmiProtocolError) -> AmiProtocolError:
        self._broken = exc
        self._buf.clear()
        self._fields = []
        return exc

    def _line(self, raw: bytes) -> Banner | Response | Event | None:
        text = raw.decode("utf-8", "replace")
        if not self._banner:
            if not text.startswith(BANNER_PREFIX):
                raise AmiProtocolError("no Asterisk Call Manager banner", raw)
            self._banner = True
            return Banner(text)
        if not raw:
            return self._block() if self._fields else None  # extra blank lines are harmless
        self._size += len(raw) + 2
        if self._size > self._max_message:
            raise AmiProtocolError("message too long", raw)
        if len(self._fields) >= self._max_fields:
            raise AmiProtocolError("too many fields in one message", raw)
        key, sep, value = text.partition(":")
        if not sep or not key or not _KEY.fullmatch(key):
            raise AmiProtocolError("not a 'Key: Value' line", raw)
        self._fields.append((key, value[1:] if value[:1] == " " else value))
        return None

    def _block(self) -> Response | Event:
        fields, self._fields, self._size = tuple(self._fields), [], 0
        first = fields[0][0].lower()
        if first == "response":
            return Response(fields)
        if first == "event":
            return Event(fields)
        # Asterisk puts Response/Event first; be tolerant of a reordered block, not of a headless one.
        kinds = {k.lower() for k, _ in fields}
        if "response" in kinds:
            return Response(fields)
        if "event" in kinds:
            return Event(fields)
        raise AmiProtocolError("block is neither a Response nor an Event",
                               "".join(f"{k}: {v}\r\n" for k, v in fields).encode())


# Header names Asterisk sends: letters, digits, '-', '_', '(', ')', '/', '.' (`Cause-txt`,
# `CID-CallingPres`, old `ChanVariable(SIP/x)`), never a space.
_KEY = re.compile(r"[A-Za-z0-9_\-()/.@;]+")


# --- encoding -----------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ACTION_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*\Z")

FieldValue = str | int | Sequence[str]
ActionFields = Mapping[str, FieldValue] | Iterable[tuple[str, str]]


def _items(fields: ActionFields | None) -> Iterator[tuple[str, str]]:
    if fields is None:
        return
    if isinstance(fields, Mapping):
        for key, value in fields.items():
            if isinstance(value, bool):
                yield key, "true" if value else "false"
            elif isinstance(value, (str, int)):
                yield key, str(value)
            else:  # a list: the key repeated (Variable: A=1, Variable: B=2)
                for item in value:
                    yield key, item
    else:
        yield from fields


@dataclass(frozen=True, slots=True)
class Action:
    """One encoded action. `fields` excludes Action and ActionID, which lead the block."""

    name: str
    action_id: str
    fields: Fields
    wire: bytes = field(repr=False, compare=False)

    def masked(self) -> str:
        return masked((("Action", self.name), ("ActionID", self.action_id), *self.fields))


def encode_action(name: str, action_id: str, fields: ActionFields | None = None) -> Action:
    """`Action: name`, `ActionID: action_id`, then `fields` (a mapping, lists repeat the key).

    Raises InvalidArgument for a key that is not a header name, a value with a control character
    or line break, a line longer than Asterisk reads, or more lines than it keeps.
    """
    pairs = [("Action", name), ("ActionID", action_id), *_items(fields)]
    if len(pairs) > MAX_ACTION_FIELDS:
        raise InvalidArgument(name, f"more than {MAX_ACTION_FIELDS} lines in one action")
    lines = []
    for key, value in pairs:
        if not _ACTION_KEY.match(key):
            raise InvalidArgument(key, "an AMI field name is letters, digits, '-' and '_'")
        if _CONTROL.search(value):
            raise InvalidArgument(value, "control characters and line breaks cannot be sent to Asterisk")
        line = f"{key}: {value}"
        if len(line.encode()) > MAX_ACTION_LINE:
            raise InvalidArgument(line, f"an action line is at most {MAX_ACTION_LINE} bytes")
        lines.append(line)
    if not name or not action_id:
        raise InvalidArgument(name or action_id, "an action needs a name and an ActionID")
    wire = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return Action(name, action_id, tuple(pairs[2:]), wire)


def masked(fields: Iterable[tuple[str, str]]) -> str:
    """`Key: value` pairs for a log line: Secret/Key hidden, phone numbers and e-mails masked."""
    return ", ".join(f"{k}: {'***' if k.lower() in SECRET_KEYS else scrub(v)}" for k, v in fields)


# --- replies matched by ActionID ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ActionResult:
    """A complete reply: the Response and, for a multi-event reply, its events and the Complete one."""

    response: Response
    events: tuple[Event, ...] = ()
    complete: Event | None = None

    @property
    def ok(self) -> bool:
        return self.response.ok


@dataclass(slots=True)
class _Pending:
    action: str
    response: Response | None = None
    events: list[Event] = field(default_factory=list)


class ReplyTracker:
    """Matches replies to actions by ActionID, never by arrival order, and gathers EventLists.

    `feed(message)` returns `(finished, event)`: the (action id, result) pairs completed by this
    message, and the message if it is an event for the subscribers (list items are not).
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}

    def expect(self, action_id: str, action: str) -> None:
        if action_id in self._pending:
            raise InvalidArgument(action_id, "ActionID already in use by an action awaiting its reply")
        self._pending[action_id] = _Pending(action)

    def forget(self, action_id: str) -> None:
        self._pending.pop(action_id, None)

    def __contains__(self, action_id: str) -> bool:
        return action_id in self._pending

    def __len__(self) -> int:
        return len(self._pending)

    def pending(self) -> list[tuple[str, str]]:
        """(action id, action name) of every action still waiting."""
        return [(aid, p.action) for aid, p in self._pending.items()]

    def clear(self) -> list[tuple[str, str]]:
        out = self.pending()
        self._pending.clear()
        return out

    def feed(self, message: Response | Event) -> tuple[list[tuple[str, ActionResult]], Event | None]:
        aid = message.action_id
        pending = self._pending.get(aid) if aid else None
        if isinstance(message, Response):
            if pending is None or pending.response is not None:
                return [], None  # a reply to nothing we wait for (timed out, or not ours)
            if message.ok and message.starts_list:
                pending.response = message
                return [], None
            del self._pending[aid]
            return [(aid, ActionResult(message))], None
        if pending is None or pending.response is None:
            return [], message  # an ordinary event (OriginateResponse carries its ActionID too)
        if message.completes_list:
            del self._pending[aid]
            return [(aid, ActionResult(pending.response, tuple(pending.events), message))], None
        pending.events.append(message)
        return [], None
