"""Classic AGI entry point: `AGI(ivr-agi,hotline)` runs `ivr-agi` once per call on stdin/stdout.

Built on pyst2's `asterisk.agi.AGI` (the user named it) behind `SafeAGI`, an adapter that fixes
what this path would hit in pyst2 0.5.1 (see shared/DESIGN.md):
- `AGI()` installs a SIGHUP handler unconditionally, which raises outside the main thread:
  installed only in the main thread here;
- it writes the whole environment (the caller's number included) to stderr: not done (AI-19);
- a `HANGUP` line or end of stream raises `ValueError` (int('')), `511` is an "unknown error",
  a 520 block cut off by the end of the stream is read for ever: replies are read with
  ivr.protocol's parser instead, which knows all of these;
- `_quote` escapes nothing and `send_command` lets a newline start a second command: quoting and
  control-character checks come from ivr.protocol.
pyst2's own API (`agi.stream_file(...)`, `agi.get_variable(...)`) keeps working on top of the fixes.

The flows themselves do not use that API: `ClassicTransport` puts the adapter under the same
AgiSession the FastAGI server gives them, so one Router serves both paths. pyst2 reads blocking
pipes, so each command runs in one daemon I/O thread while the flow's event loop keeps its timeouts.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, BinaryIO, TypeVar

from asterisk.agi import AGI, AGIAppError, AGIInvalidCommand, AGIResultHangup, AGIUnknownError, AGIUsageError

from ivr.call import EndReason, run_call
from ivr.errors import AgiError, CallerHangup, CommandTimeout, HangupReason, SessionClosed
from ivr.protocol import MAX_LINE, AgiConnection, Command, EndOfStream, Environment, Reply, quote
from ivr.router import Router, load_router
from ivr.session import AgiSession

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SafeAGI(AGI):
    """pyst2's AGI class over binary streams, with the defects above fixed."""

    def __init__(self, stdin: BinaryIO, stdout: BinaryIO, *, install_sighup: bool = True) -> None:
        # AGI.__init__ is deliberately not called: it is the part that installs SIGHUP in any
        # thread, dumps the environment to stderr and reads a text stdin with readline().strip().
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = None
        self._got_sighup = False
        self._conn = AgiConnection()
        if install_sighup and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, self._handle_sighup)
        self.environment = self._read_environment()
        self.env: dict[str, str] = dict(self.environment.variables)

    def _handle_sighup(self, signum: int, frame: FrameType | None) -> None:
        # Classic AGI learns of a hang-up by SIGHUP (FastAGI by the HANGUP line).
        self._got_sighup = True

    @property
    def hung_up(self) -> bool:
        return self._got_sighup or self._conn.hung_up

    def _events(self) -> list[Any]:
        line = self.stdin.readline(MAX_LINE + 1)
        return self._conn.receive_data(line) if line else self._conn.receive_eof()

    def _read_environment(self) -> Environment:
        while True:
            for event in self._events():
                if isinstance(event, Environment):
                    return event
                if isinstance(event, EndOfStream):
                    raise CallerHangup(HangupReason.END_OF_STREAM, "environment")

    def read_reply(self, command: str) -> Reply:
        """The final reply to the command just sent; `HANGUP` lines and `100 Trying` are noted
        by the connection state and skipped; end of stream (even inside a 520 block) ends it."""
        while True:
            for event in self._events():
                if isinstance(event, Reply):
                    return event
                if isinstance(event, EndOfStream):
                    raise CallerHangup(HangupReason.END_OF_STREAM, command)

    def roundtrip(self, command: Command) -> Reply:
        """Send one command and read its reply (blocking)."""
        data = self._conn.send(command)
        try:
            self.stdout.write(data)
            self.stdout.flush()
        except BrokenPipeError:
            raise CallerHangup(HangupReason.END_OF_STREAM, command.name) from None
        return self.read_reply(command.name)

    # --- pyst2's API, fixed ------------------------------------------------------------------------

    def _quote(self, string: object) -> str:
        return quote(str(string))

    def send_command(self, command: str, *args: object) -> None:
        name = command.strip()
        line = " ".join([name, *(str(a) for a in args)]).strip()
        data = self._conn.send(Command(name, line))  # refuses control characters
        self.stdout.write(data)
        self.stdout.flush()

    def get_result(self, stdin: object = None) -> dict[str, tuple[str, str]]:
        """pyst2's result dict (`{'result': (value, data)}`), with pyst2's exceptions for errors."""
        pending = self._conn.pending
        try:
            reply = self.read_reply(pending.name if pending else "")
        except CallerHangup as exc:
            raise AGIResultHangup(str(exc)) from exc
        if reply.code == 200:
            if reply.data == "hangup":
                raise AGIResultHangup("User hungup during execution")
            if reply.result == "-1":
                raise AGIAppError("Error executing application, or hangup")
            result = {"result": (reply.result or "", reply.data or "")}
            if reply.endpos is not None:
                result["endpos"] = (str(reply.endpos), "")
            return result
        if reply.code == 511:
            raise AGIResultHangup(reply.text)
        if reply.code == 510:
            raise AGIInvalidCommand(reply.text)
        if reply.code == 520:
            raise AGIUsageError(f"{reply.text}\n{reply.usage or ''}\n")
        raise AGIUnknownError(reply.code, reply.text)


class _IoThread:
    """Runs blocking pipe I/O off the event loop. A daemon thread, so a read stuck on a pipe that
    Asterisk never answers cannot keep the process alive after the call has ended."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.AbstractEventLoop,
                                            asyncio.Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="agi-io", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, loop, future))
        return future

    def stop(self) -> None:
        self._jobs.put(None)

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, loop, future = item
            try:
                result = job()
            except BaseException as exc:  # handed to the awaiting coroutine, not lost in the thread
                loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():  # timed out meanwhile
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class ClassicTransport:
    """AgiTransport over SafeAGI: the same AgiSession, and so the same flows, as FastAGI."""

    def __init__(self, agi: SafeAGI) -> None:
        self._agi = agi
        self._io = _IoThread()
        self._closed: str | None = None

    @property
    def hung_up(self) -> bool:
        return bool(self._agi.hung_up)

    async def execute(self, command: Command, timeout_s: float) -> Reply:
        if self._closed is not None:
            raise SessionClosed(command.name, self._closed)
        pending = self._io.submit(lambda: self._agi.roundtrip(command))
        try:
            return await asyncio.wait_for(pending, timeout_s)
        except TimeoutError:
            self._closed = "command timeout"
            raise CommandTimeout(command.name, timeout_s) from None

    def close(self) -> None:
        if self._closed is None:
            self._closed = "closed"
        self._io.stop()


async def run_classic(agi: SafeAGI, router: Router, *, command_timeout_s: float) -> EndReason:
    transport = ClassicTransport(agi)
    session = AgiSession(transport, agi.environment, command_timeout_s=command_timeout_s)
    try:
        reason = await run_call(session, router)
    finally:
        transport.close()
    logger.info("call ended: %s", reason, extra=session.log_extra)
    return reason


def main(argv: list[str] | None = None) -> int:
    """`ivr-agi ROUTE [ARGS...]`, started by Asterisk's AGI() with the call on stdin/stdout.

    The route and its arguments are read from the environment (agi_arg_N), which carries the
    same values as argv. Logs go to stderr, which Asterisk shows on its console.
    """
    from autoinform.config import load_settings
    from autoinform.errors import ConfigError
    from autoinform.logs import configure

    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"ivr-agi: {exc}\n")
        return 1
    configure(settings.log_level, settings.log_json)
    try:
        router = load_router(settings.ivr.router)
        agi = SafeAGI(sys.stdin.buffer, sys.stdout.buffer)
    except (AgiError, ImportError, AttributeError, TypeError, ValueError) as exc:
        logger.error("ivr-agi cannot start: %s", exc)
        return 1
    asyncio.run(run_classic(agi, router, command_timeout_s=settings.ivr.command_timeout_s))
    # Asterisk may still send SIGHUP for the hang-up the flow itself sent; the call is over, and
    # Python restores the default (fatal) action while it shuts down.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
