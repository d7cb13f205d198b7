"""The FastAGI server: asyncio, one `asyncio.Protocol` per connection, one task per call.

A raw Protocol rather than streams because it is the fastest asyncio shape (shared/BASELINES.md):
bytes go straight into the sans-IO `AgiConnection`; the flow's task awaits one future per command.
The connection object is also the session's transport (see ivr.session.AgiTransport).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast

from autoinform.config import IvrSettings
from ivr.call import EndReason, run_call
from ivr.errors import CallerHangup, CommandTimeout, HangupReason, ProtocolError, SessionClosed
from ivr.protocol import AgiConnection, Command, Environment, Reply, State
from ivr.router import Router
from ivr.session import AgiSession

logger = logging.getLogger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class SessionStats:
    """Counters for tests and metrics. Every accepted connection ends exactly once."""

    started: int = 0
    ended: int = 0
    rejected_peers: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def active(self) -> int:
        return self.started - self.ended


class PeerFilter:
    """`allowed_peers`: addresses or networks ("127.0.0.1", "10.0.0.0/8"); empty allows nobody."""

    def __init__(self, allowed: list[str]) -> None:
        self._networks: list[IpNetwork] = [ipaddress.ip_network(a, strict=False) for a in allowed]
        self._seen: dict[str, bool] = {}

    def allows(self, host: str) -> bool:
        verdict = self._seen.get(host)
        if verdict is None:
            verdict = self._check(host)
            if len(self._seen) < 4096:  # a bounded cache: scanners must not grow it for ever
                self._seen[host] = verdict
        return verdict

    def _check(self, host: str) -> bool:
        try:
            addr = ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self._networks)


class _Connection(asyncio.Protocol):
    """One Asterisk connection: parses what arrives, runs the call, is the session's transport."""

    def __init__(self, server: FastAgiServer) -> None:
        self._server = server
        self._loop = server.loop
        self._agi = AgiConnection()
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Reply] | None = None
        self._timer: asyncio.TimerHandle | None = None  # the environment's, then the commands'
        self._deadline = 0.0  # loop time by which the pending command must be answered
        self._pending: tuple[Command, float] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed: str | None = None  # why this side closed, once it has
        self._ended = False
        self.call_id = "-"
        self._log_extra: dict[str, str] = {}

    # --- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if peer else ""
        server = self._server
        if not server.peers.allows(host):
            server.stats.rejected_peers += 1
            logger.warning("connection from %s refused: not in allowed_peers", host, extra={"peer": host})
            self._closed = "peer refused"
            self._ended = True
            transport.abort()
            return
        self._transport = transport
        self._log_extra = {"peer": host}
        server.stats.started += 1
        server.connections.add(self)
        self._timer = self._loop.call_later(server.settings.env_timeout_s, self._env_timed_out)

    def data_received(self, data: bytes) -> None:
        try:
            events = self._agi.receive_data(data)
        except ProtocolError as exc:
            self._protocol_error(exc)
            return
        for event in events:
            kind = type(event)
            if kind is Reply:
                self._resolve(event)  # type: ignore[arg-type]
            elif kind is Environment:
                self._start(event)  # type: ignore[arg-type]

    def eof_received(self) -> bool:
        with contextlib.suppress(ProtocolError):  # already reported by data_received
            self._agi.receive_eof()
        return False  # let the transport close; nothing more can be sent after a peer's EOF

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed is None:
            self._closed = "connection lost"
        if self._timer is not None:
            self._timer.cancel()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            pending = self._agi.pending
            waiter.set_exception(CallerHangup(HangupReason.END_OF_STREAM, pending.name if pending else None))
        self._server.connections.discard(self)
        if self._task is None:
            self._end(EndReason.DISCONNECTED)

    # --- AgiTransport ---------------------------------------------------------------------------

    @property
    def hung_up(self) -> bool:
        return self._agi.hung_up

    def execute(self, command: Command, timeout_s: float) -> asyncio.Future[Reply]:
        if self._closed is not None or self._agi.state is State.CLOSED:
            if self._agi.state is State.CLOSED or self._closed == "connection lost":
                raise CallerHangup(HangupReason.END_OF_STREAM, command.name)
            raise SessionClosed(command.name, self._closed or "closed")
        data = self._agi.send(command)
        assert self._transport is not None
        self._transport.write(data)
        loop = self._loop
        waiter = self._waiter = loop.create_future()
        self._pending = (command, timeout_s)
        self._deadline = deadline = loop.time() + timeout_s
        # One timer per connection, moved only when a deadline comes earlier, instead of a timer
        # created and cancelled per command (which stood out in the server's profile).
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(deadline, self._check_deadline)
        return waiter

    def close(self) -> None:
        if self._closed is None:
            self._closed = "closed"
        if self._transport is not None:
            self._transport.close()

    # --- internals ------------------------------------------------------------------------------

    def _resolve(self, reply: Reply) -> None:
        self._pending = None
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(reply)

    def _start(self, env: Environment) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        server = self._server
        session = AgiSession(self, env, command_timeout_s=server.settings.command_timeout_s)
        self.call_id = session.call_id
        self._log_extra = {"call_id": self.call_id}
        task = self._loop.create_task(self._run(session))
        self._task = task
        server.tasks.add(task)
        task.add_done_callback(server.tasks.discard)

    async def _run(self, session: AgiSession) -> None:
        reason = EndReason.SHUTDOWN  # stays so only if the task is cancelled
        try:
            reason = await run_call(session, self._server.router)
        finally:
            self._end(reason)
            self.close()

    def _end(self, reason: EndReason) -> None:
        if self._ended:
            return
        self._ended = True
        stats = self._server.stats
        stats.ended += 1
        stats.by_reason[reason] += 1
        logger.info("call ended: %s", reason, extra=self._log_extra)

    def _env_timed_out(self) -> None:
        logger.warning("no complete AGI environment within %gs", self._server.settings.env_timeout_s,
                       extra=self._log_extra)
        self._closed = "environment timeout"
        self._end(EndReason.ENV_TIMEOUT)
        if self._transport is not None:
            self._transport.abort()

    def _check_deadline(self) -> None:
        self._timer = None
        if self._pending is None or self._closed is not None:
            return
        if self._loop.time() + 0.001 < self._deadline:  # a later command moved the deadline
            self._timer = self._loop.call_at(self._deadline, self._check_deadline)
            return
        self._command_timed_out(*self._pending)

    def _command_timed_out(self, command: Command, timeout_s: float) -> None:
        self._closed = "command timeout"
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(CommandTimeout(command.name, timeout_s))
        if self._transport is not None:
            self._transport.close()

    def _protocol_error(self, exc: ProtocolError) -> None:
        logger.warning("protocol error: %s", exc, extra=self._log_extra)
        self._closed = "protocol error"
        if self._timer is not None:
            self._timer.cancel()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self._task is None:
            self._end(EndReason.PROTOCOL_ERROR)
        if self._transport is not None:
            self._transport.abort()

    @property
    def has_call(self) -> bool:
        """The environment arrived and a flow task runs (or ran) for this connection."""
        return self._task is not None

    def drop(self) -> None:
        """Shutdown: abort the connection; a call that never started ends here."""
        if self._task is None:
            self._end(EndReason.SHUTDOWN)
        if self._transport is not None:
            self._transport.abort()


class FastAgiServer:
    """Listens, accepts allowed peers, runs a call per connection, shuts down gracefully."""

    def __init__(self, settings: IvrSettings, router: Router, *, stats: SessionStats | None = None) -> None:
        self.settings = settings
        self.router = router
        self.stats = stats or SessionStats()
        self.peers = PeerFilter(settings.allowed_peers)
        self.connections: set[_Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "server not started"
        return self._loop

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        assert self._server is not None and self._server.sockets, "server not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        s = self.settings
        self._server = await self._loop.create_server(
            lambda: _Connection(self), s.host, s.port, backlog=s.backlog, reuse_address=True)
        logger.info("FastAGI listening on %s:%d, routes: %s", s.host, self.port, ", ".join(self.router))

    async def shutdown(self, grace_s: float | None = None) -> None:
        """Stop accepting; let running calls finish for `grace_s` (settings.shutdown_grace_s),
        then cancel them (their flows' finally blocks run) and drop what is left."""
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if not conn.has_call:
                conn.drop()
        running = set(self.tasks)
        if running:
            logger.info("waiting up to %gs for %d running calls", grace, len(running))
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                logger.warning("cancelled %d calls still running after %gs", len(pending), grace)
                await asyncio.gather(*pending, return_exceptions=True)
        for conn in list(self.connections):
            conn.drop()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FastAgiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()


async def serve_ivr(settings: IvrSettings, router: Router, stop: asyncio.Event, *,
                    on_started: Callable[[FastAgiServer], Awaitable[None] | None] | None = None,
                    ) -> SessionStats:
    """Run the FastAGI server until `stop` is set, then shut down gracefully.

    The entry point `autoinform run` and `autoinform ivr serve` share; returns the final counters.
    """
    server = FastAgiServer(settings, router)
    await server.start()
    try:
        if on_started is not None:
            result = on_started(server)
            if result is not None:
                await result
        await stop.wait()
    finally:
        await server.shutdown()
        logger.info("FastAGI stopped: %d calls, %s", server.stats.ended, dict(server.stats.by_reason))
    return server.stats
