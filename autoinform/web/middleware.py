"""Who is asking (issue 12): puts a CurrentUser on request.state for a valid API token
(`Authorization: Bearer …`) or session cookie, and refuses an unsafe request from a session that
does not carry the session's CSRF token. Pure ASGI: nothing is read from a body but the token.

Token requests need no CSRF token (a browser never adds an Authorization header by itself); a bad
token is refused with 401 whatever the path, never treated as "no user".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autoinform.config import WebSettings
from autoinform.db import transaction
from autoinform.errors import AuthenticationError
from autoinform.models import Role
from autoinform.runtime import Runtime
from autoinform.tokens import user_for_token
from autoinform.web import csrf
from autoinform.web.auth import CurrentUser
from autoinform.web.sessions import cookie_name, load_session

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/login"
T = TypeVar("T")


@dataclass
class AccessCounters:
    """Shown by /api/metrics as "access"."""

    refused_token: int = 0  # an unknown, revoked or disabled user's API token: 401
    refused_csrf: int = 0  # an unsafe request from a session without its CSRF token: 403


class AuthMiddleware:
    def __init__(self, app: ASGIApp, *, rt: Runtime, counters: AccessCounters) -> None:
        self.app = app
        self.rt = rt
        self.cookie = cookie_name(rt.settings.web)
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        state = scope.setdefault("state", {})
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization[:7].lower() == "bearer ":
            try:
                user = await self._in_db(lambda s: user_for_token(s, authorization[7:]))
            except AuthenticationError as exc:
                self.counters.refused_token += 1
                await _json(send, 401, str(exc), {b"www-authenticate": b'Bearer realm="autoinform"'})
                return
            state["user"] = CurrentUser(user.login, user.role, via="token")
            await self.app(scope, receive, send)
            return
        secret = _cookie(headers.get(b"cookie", b""), self.cookie)
        opened = None
        if secret:
            web = self.rt.settings.web
            opened = await self._in_db(lambda s: _session_user(s, secret, web))
        if opened is None:
            await self.app(scope, receive, send)
            return
        login, role, token = opened
        state["user"] = CurrentUser(login, role, via="session")
        state["csrf_token"] = token
        state["session_secret"] = secret
        # POST /login does not act with this session's authority: it replaces the session (login.py
        # checks its Origin instead), so a second tab's log-in form is not refused.
        if scope["method"] in SAFE_METHODS or scope["path"] == LOGIN_PATH:
            await self.app(scope, receive, send)
            return
        given = headers.get(csrf.HEADER)
        if given is not None:
            ok, replay = csrf.matches(token, given.decode("latin-1")), receive
        else:
            ok, replay = await _form_token(token, headers.get(b"content-type", b""), receive)
        if not ok:
            self.counters.refused_csrf += 1
            log.warning("CSRF token missing or wrong: %s %s by %s", scope["method"], scope["path"], login)
            await _json(send, 403, "CSRF token missing or wrong: reload the page and try again")
            return
        await self.app(scope, replay, send)

    async def _in_db(self, work: Callable[..., T]) -> T:
        def run() -> T:
            # Read first in a plain session: most requests write nothing (last-used times are
            # written at most once a minute). When `work` wants to write, it runs again in a write
            # transaction (IMMEDIATE on SQLite), never upgrading a read to a write under load.
            with self.rt.sessions() as s:
                result = work(s)
                if not (s.dirty or s.deleted or s.new):
                    return result
                s.rollback()
            with transaction(self.rt.sessions) as s:
                return work(s)
        return await run_in_threadpool(run)


def _session_user(s: Session, secret: str, web: WebSettings) -> tuple[str, Role, str] | None:
    opened = load_session(s, secret, web)
    return None if opened is None else (opened.user.login, opened.user.role, opened.csrf_token)


def _cookie(raw: bytes, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None and morsel.value else None


async def _form_token(expected: str, content_type: bytes, receive: Receive) -> tuple[bool, Receive]:
    """Read the body as far as the form's token; the returned `receive` replays what was read."""
    reader = csrf.FormTokenReader(content_type)
    buffered: list[Message] = []
    while not reader.done:
        message = await receive()
        buffered.append(message)
        if message["type"] != "http.request":
            break
        more = bool(message.get("more_body", False))
        reader.feed(message.get("body", b""), more)
        if not more:
            break

    async def replay() -> Message:
        return buffered.pop(0) if buffered else await receive()

    return csrf.matches(expected, reader.token), replay


async def _json(send: Send, status: int, detail: str, extra: dict[bytes, bytes] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *(extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
