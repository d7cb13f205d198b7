"""An SMTP server on 127.0.0.1 that accepts everything and keeps each message as an .eml file."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class _Handler:
    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.count = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.count += 1
            n = self.count
        data = envelope.original_content or b""
        (self.outbox / f"{n:06d}.eml").write_bytes(data)
        return "250 OK"


class PortZeroController(Controller):
    """aiosmtpd's Controller connects to self.port to check the server is up; with port 0 it must
    learn the bound port first."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpOutbox:
    """Start with `with SmtpOutbox(folder) as box:`; box.port is the port to send to."""

    def __init__(self, outbox: Path) -> None:
        outbox.mkdir(parents=True, exist_ok=True)
        self.outbox = outbox
        self._handler = _Handler(outbox)
        self._controller = PortZeroController(self._handler, hostname="127.0.0.1", port=0,
                                              ready_timeout=10.0)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def count(self) -> int:
        return self._handler.count

    def __enter__(self) -> SmtpOutbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
