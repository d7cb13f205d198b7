"""Log-in and log-out pages (issue 12): a password checked against its argon2 hash opens a
server-side session (sessions.py) whose id goes in a Secure, HttpOnly, SameSite cookie.

Throttled per login and per client address (throttle.py). The error never says whether the login
exists; the log line carries the login and address, never the password.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from autoinform.db import transaction
from autoinform.models import User, utcnow
from autoinform.runtime import Runtime
from autoinform.users import password_matches, spend_a_check
from autoinform.web.sessions import close_session, cookie_name, open_session, purge_expired
from autoinform.web.throttle import Throttle

log = logging.getLogger(__name__)

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
WRONG = "wrong login or password, or the user is disabled"


def safe_next(target: str | None) -> str:
    """Only a path of this site: never an open redirect to another host."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def login_router(rt: Runtime, throttle: Throttle) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    web = rt.settings.web
    cookie = cookie_name(web)

    def page(request: Request, status: int = 200, *, error: str = "", next_: str = "/",
             login: str = "") -> HTMLResponse:
        return TEMPLATES.TemplateResponse(request, "login.html", {
            "user": None, "csrf_token": "", "error": error, "next": safe_next(next_), "login": login},
            status_code=status)

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> Response:
        if getattr(request.state, "user", None) is not None:
            return RedirectResponse(safe_next(next), status_code=303)
        return page(request, next_=next)

    @router.post("/login", response_class=HTMLResponse)
    def login(request: Request, login: Annotated[str, Form(max_length=64)],
              password: Annotated[str, Form(max_length=1024)], next: Annotated[str, Form()] = "/") -> Response:
        address = request.client.host if request.client else ""
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.url.netloc:
            # another site's form logging this browser in to an account of its choosing
            return page(request, 403, error="log-in from another site refused", next_=next)
        now = utcnow()
        with transaction(rt.sessions) as s:
            if old := getattr(request.state, "session_secret", None):
                close_session(s, old)  # a log-in replaces the session this browser had
            user = s.scalar(select(User).where(User.login == login))
            refusal = throttle.refusal(user, address, now)
            if refusal is not None:
                log.warning("log-in throttled: login %r from %s", login, address)
                return page(request, 429, error=refusal, next_=next, login=login)
            if user is None or not user.password_hash:
                spend_a_check(password)
            if user is None or user.disabled or not password_matches(user, password):
                throttle.failed(user, address, now)
                log.warning("log-in failed: login %r from %s", login, address)
                return page(request, 401, error=WRONG, next_=next, login=login)
            throttle.succeeded(user, address)
            purge_expired(s, web, now)
            secret, _ = open_session(s, user, address)
            log.info("log-in: %s (%s) from %s", user.login, user.role.value, address)
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(cookie, secret, max_age=web.session_absolute_hours * 3600, path="/",
                            secure=web.cookie_secure, httponly=True, samesite=web.cookie_samesite)
        return response

    @router.post("/logout")
    def logout(request: Request) -> Response:
        secret = getattr(request.state, "session_secret", None)
        if secret:  # the middleware checked this request's CSRF token
            with transaction(rt.sessions) as s:
                close_session(s, secret)
            log.info("log-out: %s", request.state.user.login)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(cookie, path="/", secure=web.cookie_secure, httponly=True,
                               samesite=web.cookie_samesite)
        return response

    return router
