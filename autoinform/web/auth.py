"""Who is asking: the seam between log-in (sessions, tokens) and the pages and API routes.

The authentication middleware (issue 12, item 2; autoinform/web/middleware.py) puts a CurrentUser
on `request.state.user` for a valid session cookie or API token; routes declare the roles they
allow with `Depends(require(...))`. Admin is allowed everywhere. A route never reads cookies or
tokens itself. A page puts `csrf_token(request)` in its template context (base.html's log-out form
and every form of its own carry it as the hidden field `csrf_token`, first in a multipart form);
the middleware refuses an unsafe request from a session without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from autoinform.models import Role


@dataclass(frozen=True)
class CurrentUser:
    login: str
    role: Role
    via: str = "session"  # "session" (browser, CSRF-checked forms) or "token" (scripts)


class LoginRequired(HTTPException):
    """No user: pages redirect to /login, the API answers 401 (the app's handler decides)."""

    def __init__(self) -> None:
        super().__init__(401, "log-in required")


def current_user(request: Request) -> CurrentUser:
    user = getattr(request.state, "user", None)
    if not isinstance(user, CurrentUser):
        raise LoginRequired()
    return user


def require(*roles: Role) -> Callable[[Request], CurrentUser]:
    """A dependency: the current user if their role is one of `roles` (or admin), else 403."""
    allowed = frozenset(roles) | {Role.ADMIN}

    def dependency(request: Request) -> CurrentUser:
        user = current_user(request)
        if user.role not in allowed:
            raise HTTPException(403, f"{user.role.value} may not do this")
        return user

    return dependency


def csrf_token(request: Request) -> str:
    """The session's CSRF token for a page's forms ("" without a session, e.g. on /login)."""
    return str(getattr(request.state, "csrf_token", "") or "")
