"""AgiSession: what a flow talks to. Typed async methods over any AGI transport.

The same session runs over a FastAGI socket (ivr.server) and over a classic AGI's stdin/stdout
(ivr.classic_agi), so flows are written once. Rules every method follows, from the transcripts:
- once the channel is known to be gone (HANGUP line, 511, our own HANGUP), channel commands raise
  CallerHangup without being sent, while variable commands (SET/GET VARIABLE, VERBOSE, EXEC) still
  go out: Asterisk answers them on a dead channel;
- `result=-1` means "hung up" or "failed" (a missing prompt is `-1 endpos=0` on a live channel):
  the session asks `CHANNEL STATUS`; 511 or a HANGUP means CallerHangup, else CommandFailed;
- every command has a timeout; a timed-out session is closed (a late reply would desynchronise it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from typing import NoReturn, Protocol

from ivr import commands as cmds
from ivr.commands import ChannelStatus, DigitPressed, Failed, Recorded, Timeout
from ivr.errors import CallerHangup, CommandError, CommandFailed, HangupReason
from ivr.prompts import playback_name
from ivr.protocol import Command, Environment, Reply, Request

logger = logging.getLogger(__name__)

WAIT_FOREVER_S = 24 * 3600.0
"""The timeout of a command asked to wait for ever (`WAIT FOR DIGIT -1`)."""


class AgiTransport(Protocol):
    """Sends one command and resolves with its final reply.

    Raises CallerHangup(END_OF_STREAM) when the peer has gone, CommandTimeout when no reply came
    in `timeout_s`, SessionClosed after this side closed.
    """

    @property
    def hung_up(self) -> bool:
        """Asterisk said the channel is gone (HANGUP line, 511, or SIGHUP for classic AGI)."""
        ...

    def execute(self, command: Command, timeout_s: float) -> Awaitable[Reply]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Playback:
    """STREAM FILE's outcome: the key that stopped it (None if it played out) and the sample
    position reached."""

    digit: str | None
    endpos: int | None = None


@dataclass(frozen=True, slots=True)
class DigitsRead:
    """GET DATA's outcome: what the caller typed, and whether it ended by timeout."""

    digits: str
    timed_out: bool


class AgiSession:
    """One call. Flows get it as their only argument: `async def flow(session) -> None`."""

    def __init__(self, transport: AgiTransport, env: Environment, *, command_timeout_s: float = 60.0,
                 request: Request | None = None, prompt_base: str = "autoinform") -> None:
        self.env = env
        self.request = request if request is not None else Request.from_environment(env)
        self.call_id = env.uniqueid or "-"
        self.command_timeout_s = command_timeout_s
        self.prompt_base = prompt_base
        """Folder of the project's prompts under Asterisk's sounds/<language>/ (see ivr.prompts)."""
        self.log_extra: Mapping[str, str] = {"call_id": self.call_id}
        self._transport = transport
        self._ended_here: HangupReason | None = None  # our HANGUP, or a recording ended by one

    def __repr__(self) -> str:
        return f"AgiSession(call_id={self.call_id!r}, path={self.request.path!r})"

    @property
    def transport(self) -> AgiTransport:
        """The raw exchange, for tools and tests that must send exactly what they are given."""
        return self._transport

    @property
    def args(self) -> tuple[str, ...]:
        return self.request.args

    @property
    def query(self) -> Mapping[str, str]:
        return self.request.query

    @property
    def hung_up(self) -> bool:
        """The channel is gone (the caller hung up, or this side sent HANGUP)."""
        return self._ended_here is not None or self._transport.hung_up

    # --- the raw path ---------------------------------------------------------------------------

    async def command(self, command: Command, *, timeout_s: float | None = None) -> Reply:
        """Send any command; 200 comes back as a Reply, 511 as CallerHangup, other codes as
        CommandError (510 unknown, 520 bad syntax with the usage text)."""
        if not command.dead_ok and self.hung_up:
            raise CallerHangup(self._hangup_reason(), command.name)
        reply = await self._transport.execute(
            command, self.command_timeout_s if timeout_s is None else timeout_s)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s -> %d %s", command.line, reply.code, reply.text, extra=self.log_extra)
        if reply.code == 200:
            return reply
        if reply.code == 511:
            raise CallerHangup(HangupReason.DEAD_CHANNEL, command.name)
        raise CommandError(reply.code, command.name, reply.text, reply.usage)

    def _hangup_reason(self) -> HangupReason:
        if self._transport.hung_up or self._ended_here is None:
            return HangupReason.HANGUP_LINE
        return self._ended_here

    def _media_timeout(self, media_ms: int | None) -> float:
        """Commands that wait on the caller get their own wait on top of the command timeout."""
        return self.command_timeout_s + max(media_ms or 0, 0) / 1000

    async def _failed(self, command: Command, outcome: Failed) -> NoReturn:
        """`result=-1`: find out whether the channel is still there (see the module doc)."""
        if not self.hung_up:
            try:
                await self.command(cmds.channel_status())
            except CallerHangup:
                pass
            else:
                raise CommandFailed(command.name, outcome.result,
                                    "failed on a live channel (missing prompt file?)")
        raise CallerHangup(HangupReason.RESULT, command.name)

    # --- channel commands -----------------------------------------------------------------------

    async def answer(self) -> None:
        command = cmds.answer()
        reply = await self.command(command)
        if reply.result == "-1":
            await self._failed(command, Failed("-1"))

    async def hangup(self) -> None:
        """Hang up the channel. Later channel commands raise CallerHangup without being sent."""
        if self.hung_up:
            return
        await self.command(cmds.hangup())
        self._ended_here = HangupReason.HANGUP_SENT

    async def stream_file(self, prompt: str, escape_digits: str = "", *, offset: int | None = None,
                          timeout_s: float | None = None) -> Playback:
        command = cmds.stream_file(prompt, escape_digits, offset)
        outcome = cmds.playback_outcome(await self.command(command, timeout_s=timeout_s))
        if isinstance(outcome, Failed):
            await self._failed(command, outcome)
        return Playback(outcome.digit if isinstance(outcome, DigitPressed) else None, outcome.endpos)

    async def play_sequence(self, prompt_ids: Iterable[str], escape_digits: str = "") -> str | None:
        """Play prompts (ids of the catalogue, e.g. `say.money(...).prompts`) one after another;
        returns the key that interrupted one and stopped the rest, or None."""
        for prompt_id in prompt_ids:
            played = await self.stream_file(playback_name(prompt_id, self.prompt_base), escape_digits)
            if played.digit is not None:
                return played.digit
        return None

    async def get_data(self, prompt: str, timeout_ms: int | None = None,
                       max_digits: int | None = None) -> DigitsRead:
        command = cmds.get_data(prompt, timeout_ms, max_digits)
        reply = await self.command(command, timeout_s=self._media_timeout(
            (timeout_ms or 6000) * max(max_digits or 1, 1)))
        outcome = cmds.get_data_outcome(reply)
        if isinstance(outcome, Failed):
            await self._failed(command, outcome)
        return DigitsRead(outcome.digits, isinstance(outcome, Timeout))

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """The key pressed within `timeout_ms` (-1 waits for ever), or None."""
        command = cmds.wait_for_digit(timeout_ms)
        timeout_s = self._media_timeout(timeout_ms) if timeout_ms >= 0 else WAIT_FOREVER_S
        outcome = cmds.digit_outcome(await self.command(command, timeout_s=timeout_s))
        if isinstance(outcome, Failed):
            await self._failed(command, outcome)
        return outcome.digit if isinstance(outcome, DigitPressed) else None

    async def _say(self, command: Command) -> str | None:
        outcome = cmds.playback_outcome(await self.command(command))
        if isinstance(outcome, Failed):
            await self._failed(command, outcome)
        return outcome.digit if isinstance(outcome, DigitPressed) else None

    async def say_number(self, number: int, escape_digits: str = "", gender: str | None = None) -> str | None:
        """Asterisk's own SAY NUMBER; Russian speech should use ivr.say and play_sequence."""
        return await self._say(cmds.say_number(number, escape_digits, gender))

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        return await self._say(cmds.say_digits(digits, escape_digits))

    async def say_alpha(self, text: str, escape_digits: str = "") -> str | None:
        return await self._say(cmds.say_alpha(text, escape_digits))

    async def say_date(self, epoch: int, escape_digits: str = "") -> str | None:
        return await self._say(cmds.say_date(epoch, escape_digits))

    async def say_time(self, epoch: int, escape_digits: str = "") -> str | None:
        return await self._say(cmds.say_time(epoch, escape_digits))

    async def record_file(self, path: str, fmt: str = "wav", escape_digits: str = "#",
                          timeout_ms: int = -1, *, beep: bool = False,
                          silence_s: int | None = None) -> Recorded:
        """Record until a key, `timeout_ms` or silence. A hang-up ends the recording but does not
        raise: what was recorded is kept (the caller's message, HL-2/HL-9); the session is then
        hung up and the next channel command raises CallerHangup."""
        command = cmds.record_file(path, fmt, escape_digits, timeout_ms, beep=beep, silence_s=silence_s)
        outcome = cmds.record_outcome(await self.command(command, timeout_s=self._media_timeout(timeout_ms)))
        if isinstance(outcome, Failed):
            await self._failed(command, outcome)
        if outcome.ended_by == "hangup":
            self._ended_here = HangupReason.RESULT
        return outcome

    async def channel_status(self) -> ChannelStatus:
        return cmds.channel_status_value(await self.command(cmds.channel_status()))

    # --- commands that also work on a dead channel ----------------------------------------------

    async def exec(self, application: str, *args: str) -> int:
        """EXEC an application (its arguments joined by commas); returns its result code.

        Asterisk runs EXEC after a hang-up too (Playback then "succeeds" silently).
        """
        command = cmds.exec_(application, ",".join(args) if args else None)
        reply = await self.command(command)
        result = reply.result_int
        if result == -2:
            raise CommandFailed(command.name, "-2", f"no such application {application!r}")
        if result is None:
            raise CommandFailed(command.name, reply.result or "", "no numeric result")
        return result

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(cmds.set_variable(name, value))

    async def get_variable(self, name: str) -> str | None:
        """The channel variable's value, None when unset."""
        return cmds.variable_value(await self.command(cmds.get_variable(name)))

    async def get_full_variable(self, expression: str, channel: str | None = None) -> str | None:
        """Evaluate a dialplan expression such as `${CHANNEL(language)}`."""
        return cmds.variable_value(await self.command(cmds.get_full_variable(expression, channel)))

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command(cmds.verbose(message, level))


__all__ = ["AgiSession", "AgiTransport", "DigitsRead", "Playback", "Recorded"]
