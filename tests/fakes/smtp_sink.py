"""A real aiosmtpd server on 127.0.0.1 (port 0) with per-recipient behaviour, for tests and benches.

    with SmtpSink() as sink:
        sink.set_rule("full@example.org", Action.TEMPFAIL)          # 451 at RCPT, every time
        sink.set_rule("flaky@example.org", Action.DROP, times=1)    # drop once, then accept
        ... send to 127.0.0.1:sink.port ...
        sink.messages  # [Received(mail_from, rcpt_tos, data)], in arrival order

Actions, by recipient address (case-insensitive); the first rule found among a message's
recipients applies:
- ACCEPT       250 (the default)
- TEMPFAIL     "451 4.3.0" at RCPT
- REJECT       "550 5.1.1 user unknown" at RCPT
- REJECT_DATA  "554 5.6.0" after the message body (content refused)
- DROP         the whole body is read, then the connection is aborted before any reply: the
               client cannot know whether the message was taken (it is not in .messages; it is
               in .dropped)
A rule with `times=n` applies n times and then reverts to ACCEPT.

The server runs in aiosmtpd's Controller thread, so it serves sync and async tests alike.
"""

from __future__ import annotations

import asyncio
import enum
import ssl
import threading
import weakref
from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from autoinform.sandbox.smtp_outbox import PortZeroController


class Action(enum.StrEnum):
    ACCEPT = "accept"
    TEMPFAIL = "tempfail"
    REJECT = "reject"
    REJECT_DATA = "reject_data"
    DROP = "drop"


REPLIES = {
    Action.TEMPFAIL: "451 4.3.0 Mailbox temporarily unavailable, try again later",
    Action.REJECT: "550 5.1.1 User unknown",
    Action.REJECT_DATA: "554 5.6.0 Message content rejected",
}


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer: tuple[str, int] = ("", 0)  # the client's address: tells pooled connections apart


@dataclass
class _Rule:
    action: Action
    times: int | None


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        self.sink._servers.add(server)
        session.host_name = hostname  # a handler's EHLO hook takes over this duty from aiosmtpd
        return responses

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        action = self.sink._take(address, (Action.TEMPFAIL, Action.REJECT))
        if action is not None:
            return REPLIES[action]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        peer = tuple(session.peer[:2]) if isinstance(session.peer, tuple) else ("", 0)
        received = Received(envelope.mail_from or "", tuple(envelope.rcpt_tos), data, peer)
        action = None
        for rcpt in envelope.rcpt_tos:
            action = self.sink._take(rcpt, (Action.DROP, Action.REJECT_DATA))
            if action is not None:
                break
        if action is Action.DROP:
            self.sink._record(received, dropped=True)
            cast(asyncio.Transport, server.transport).abort()
            return "250 OK"  # never reaches the client: the transport is gone
        if action is Action.REJECT_DATA:
            return REPLIES[action]
        self.sink._record(received, dropped=False)
        return "250 OK queued"


class SmtpSink:
    def __init__(self, *, hostname: str = "127.0.0.1", keep_messages: bool = True,
                 tls_context: ssl.SSLContext | None = None, implicit_tls: bool = False,
                 credentials: tuple[str, str] | None = None) -> None:
        """tls_context offers STARTTLS (required), or with implicit_tls wraps the listener itself.
        credentials makes AUTH PLAIN/LOGIN mandatory with that user and password."""
        self.hostname = hostname
        self.keep_messages = keep_messages
        self.messages: list[Received] = []
        self.dropped: list[Received] = []
        self.count = 0  # accepted messages, also when keep_messages is False
        self.auth_failures = 0
        self._rules: dict[str, _Rule] = {}
        self._lock = threading.Lock()
        self._credentials = credentials
        self._servers: weakref.WeakSet[SMTP] = weakref.WeakSet()
        kwargs: dict[str, Any] = {"hostname": hostname, "port": 0, "ready_timeout": 10.0}
        if tls_context is not None and implicit_tls:
            kwargs["ssl_context"] = tls_context
        elif tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        if credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=tls_context is not None)
        self._controller = PortZeroController(_Handler(self), **kwargs)

    @property
    def port(self) -> int:
        port: int = self._controller.port
        return port

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection; stopping twice is harmless."""
        if self._controller._thread is not None:
            self.drop_connections()
            self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def drop_connections(self) -> None:
        """Abort every open connection, as a server's idle timeout or restart would.

        Returns once the server side is closed; a client on another event loop only notices
        when its loop next runs, which lets tests catch a client holding a dead connection.
        """
        done = threading.Event()

        def abort_all() -> None:
            for server in list(self._servers):
                if server.transport is not None:
                    cast(asyncio.Transport, server.transport).abort()
            done.set()

        self._controller.loop.call_soon_threadsafe(abort_all)
        done.wait(5)

    def set_rule(self, address: str, action: Action, *, times: int | None = None) -> None:
        with self._lock:
            self._rules[address.lower()] = _Rule(action, times)

    def clear_rules(self) -> None:
        with self._lock:
            self._rules.clear()

    def _take(self, address: str, actions: tuple[Action, ...]) -> Action | None:
        """The rule's action if it is one of `actions`, using up one of its times."""
        with self._lock:
            rule = self._rules.get(address.lower())
            if rule is None or rule.action not in actions:
                return None
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    del self._rules[address.lower()]
            return rule.action

    def _record(self, received: Received, *, dropped: bool) -> None:
        with self._lock:
            if dropped:
                self.dropped.append(received)
                return
            self.count += 1
            if self.keep_messages:
                self.messages.append(received)

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        assert self._credentials is not None
        user, password = self._credentials
        login = getattr(auth_data, "login", b"")
        secret = getattr(auth_data, "password", b"")
        ok = login == user.encode() and secret == password.encode()
        if not ok:
            with self._lock:
                self.auth_failures += 1
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself
