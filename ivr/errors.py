"""One exception tree for the ivr package; every class carries the data a caller needs.

    AgiError
    ├── ProtocolError       the peer sent bytes that are not AGI (carries them)
    ├── InvalidArgument     a value cannot be put on the wire (newline, control character, ...)
    ├── LocalProtocolError  our side misused the connection (two commands at once, ...)
    ├── CallerHangup        the one "caller hung up" exception flows see
    ├── CommandError        Asterisk refused a command: 510, 520 (with usage), 503, ...
    │   └── CommandFailed   a 200 reply whose result says the command failed (missing file, ...)
    ├── CommandTimeout      no reply in time; the connection is then closed
    ├── SessionClosed       the session can no longer send (closed after a timeout or an error)
    └── AmiError            the Asterisk Manager Interface client (ivr.ami)
        ├── AmiProtocolError        Asterisk sent bytes that are not AMI (also a ProtocolError)
        ├── AmiAuthenticationFailed the Login was refused (the user name, never the secret)
        ├── AmiActionError          `Response: Error` to an action (action, message, response)
        ├── AmiTimeout              no reply to an action, or no event awaited, in time
        ├── AmiDisconnected         not connected, or the connection dropped while waiting
        └── AmiSubscriptionOverflow a subscriber fell so far behind that events were dropped
"""

from __future__ import annotations

from enum import StrEnum


class AgiError(Exception):
    """Base of every error the ivr package raises on purpose."""


class ProtocolError(AgiError):
    """The peer broke the AGI protocol; `data` holds (the start of) the offending bytes."""

    def __init__(self, message: str, data: bytes = b"") -> None:
        shown = data[:80]
        super().__init__(f"{message}: {shown!r}" if data else message)
        self.reason = message
        self.data = data


class InvalidArgument(AgiError, ValueError):
    """A command argument that Asterisk would misparse or that could inject a second command."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"cannot send {value[:60]!r}: {reason}")
        self.value = value
        self.reason = reason


class LocalProtocolError(AgiError):
    """This side used the connection out of order, e.g. a second command before the first reply."""


class HangupReason(StrEnum):
    RESULT = "result=-1"  # the running command ended because the channel went away
    HANGUP_LINE = "HANGUP"  # Asterisk's unsolicited `HANGUP` line
    DEAD_CHANNEL = "511"  # `511 Command Not Permitted on a dead channel`
    END_OF_STREAM = "eof"  # Asterisk closed the socket (AGIEXITONHANGUP) or the pipe
    HANGUP_SENT = "hangup sent"  # this side hung up; the flow should not play anything more


class CallerHangup(AgiError):
    """The channel is gone; the flow should stop talking to it (variable commands still work)."""

    def __init__(self, reason: HangupReason, command: str | None = None) -> None:
        during = f" during {command}" if command else ""
        super().__init__(f"caller hung up ({reason}){during}")
        self.reason = reason
        self.command = command


class CommandError(AgiError):
    """Asterisk answered a command with an error code (510 unknown, 520 bad syntax, ...)."""

    def __init__(self, code: int, command: str, message: str, usage: str | None = None) -> None:
        super().__init__(f"{command}: {code} {message}")
        self.code = code
        self.command = command
        self.message = message
        self.usage = usage


class CommandFailed(CommandError):
    """`200 result=-1` on a live channel (e.g. a missing prompt file) or `-2` (no such application)."""

    def __init__(self, command: str, result: str, message: str) -> None:
        super().__init__(200, command, message)
        self.result = result


class CommandTimeout(AgiError):
    def __init__(self, command: str, timeout_s: float) -> None:
        super().__init__(f"no reply to {command} within {timeout_s:g} s")
        self.command = command
        self.timeout_s = timeout_s


class SessionClosed(AgiError):
    """The session was closed by this side (after a timeout, a protocol error or shutdown)."""

    def __init__(self, command: str, why: str) -> None:
        super().__init__(f"cannot send {command}: session closed ({why})")
        self.command = command
        self.why = why


# --- AMI ----------------------------------------------------------------------------------------

class AmiError(AgiError):
    """Base of the AMI client's errors (ivr.ami)."""


class AmiProtocolError(ProtocolError, AmiError):
    """Asterisk's manager sent bytes that are not AMI (no banner, a line without a colon, a block
    over the length caps); the connection is dropped and reconnected."""


class AmiAuthenticationFailed(AmiError):
    def __init__(self, username: str, message: str) -> None:
        super().__init__(f"AMI login of {username!r} refused: {message}")
        self.username = username
        self.message = message


class AmiActionError(AmiError):
    """Asterisk answered `Response: Error`; `response` is the whole reply (a ivr.ami Response)."""

    def __init__(self, action: str, message: str, response: object = None) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message
        self.response = response


class AmiTimeout(AmiError):
    def __init__(self, action: str, timeout_s: float) -> None:
        super().__init__(f"no reply to {action} within {timeout_s:g} s")
        self.action = action
        self.timeout_s = timeout_s


class AmiDisconnected(AmiError):
    """The action could not be sent, or its reply will never come: `why` says which."""

    def __init__(self, action: str, why: str) -> None:
        super().__init__(f"{action}: AMI {why}")
        self.action = action
        self.why = why


class AmiSubscriptionOverflow(AmiError):
    """Raised to a subscriber at the point where it lost events: it must reconcile (CoreShowChannels)."""

    def __init__(self, dropped: int) -> None:
        super().__init__(f"{dropped} AMI events dropped: the subscriber fell behind")
        self.dropped = dropped
