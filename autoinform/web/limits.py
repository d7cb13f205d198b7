"""A cap on request bodies for the whole web app, enforced before any endpoint parses a byte.

A body whose Content-Length is over the limit is refused with 413 without reading it; a chunked or
undeclared body is counted as it streams in and refused with 413 as soon as it passes the limit,
so no endpoint ever holds more than the limit in memory (issue 8 item 10: one unauthenticated
400 MB POST to the SMS callback used to be read whole). The 413 says `Connection: close`, so the
server drops the connection instead of reading the rest. Refusals are counted and logged without
the body. Limits are per path prefix, longest first, with one default.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

_BODY = b"request body too large\n"


@dataclass
class BodyLimitCounters:
    """Shown by /api/metrics as "web"."""

    refused_declared: int = 0  # Content-Length over the limit: 413 before reading anything
    refused_streamed: int = 0  # chunked or undeclared body that passed the limit while streaming


class _TooLarge(Exception):
    def __init__(self, read: int) -> None:
        super().__init__(f"request body over the limit after {read} bytes")
        self.read = read


class BodyLimitMiddleware:
    """Pure ASGI middleware: `max_bytes` everywhere, `per_path` (path prefix -> bytes) overrides."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, per_path: Mapping[str, int] | None = None,
                 counters: BodyLimitCounters | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = sorted((per_path or {}).items(), key=lambda kv: len(kv[0]), reverse=True)
        self.counters = counters if counters is not None else BodyLimitCounters()

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.per_path:
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            self.counters.refused_declared += 1
            _log_refusal(scope, "declared", declared, limit)
            await _refuse(send)
            return

        read = 0
        started = refused = False

        async def capped_receive() -> Message:
            nonlocal read, started, refused
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    if not refused:
                        # Answer here, not where the exception lands: FastAPI turns an error while
                        # reading a JSON or form body into its own 400.
                        refused = True
                        self.counters.refused_streamed += 1
                        _log_refusal(scope, "read", read, limit)
                        if not started:  # a response already under way cannot be replaced
                            started = True
                            await _refuse(send)
                    raise _TooLarge(read)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the app's own answer to the body it could not finish is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, capped_receive, watched_send)


def _content_length(scope: Scope) -> int | None:
    """The declared length, if any (the HTTP server has already refused one that is not a number)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(send: Send, body: bytes = _BODY) -> None:
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _log_refusal(scope: Scope, how: str, size: int, limit: int) -> None:
    client: Any = scope.get("client")
    peer = client[0] if client else "?"
    # Method, path and sizes only: never the body or the query string.
    log.warning("request body refused with 413: %s %s %s %d bytes, limit %d",
                scope.get("method", "?"), scope.get("path", "?"), how, size, limit,
                extra={"peer": peer})
