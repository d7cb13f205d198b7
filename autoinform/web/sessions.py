"""Server-side web sessions (issue 12): the cookie carries a random id, the table only its SHA-256.

A session ends after `session_idle_minutes` without a request, `session_absolute_hours` after
log-in however busy, at log-out, or when its user is disabled or gets a new password. Each session
has its own CSRF token, which every unsafe request from that session must carry (middleware.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from autoinform.config import WebSettings
from autoinform.models import User, WebSession, utcnow
from autoinform.tokens import digest

SEEN_STEP = timedelta(minutes=1)  # last_seen_at is written at most this often per session


def cookie_name(web: WebSettings) -> str:
    # The __Host- prefix makes a browser refuse the cookie unless Secure, Path=/ and host-only.
    return "__Host-autoinform" if web.cookie_secure else "autoinform"


@dataclass(frozen=True)
class OpenSession:
    user: User
    csrf_token: str


def open_session(session: Session, user: User, client: str) -> tuple[str, str]:
    """A new session for `user`: (the cookie's secret, the CSRF token)."""
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(WebSession(id_hash=digest(secret), user_id=user.id, csrf_token=csrf, client=client[:64]))
    return secret, csrf


def load_session(session: Session, secret: str, web: WebSettings, now: datetime | None = None) -> OpenSession | None:
    """The live session the cookie names, or None (unknown, expired: an expired one is deleted)."""
    now = now or utcnow()
    row = session.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                          .where(WebSession.id_hash == digest(secret))).first()
    if row is None:
        return None
    ws, user = row
    if (user.disabled or now - ws.last_seen_at > timedelta(minutes=web.session_idle_minutes)
            or now - ws.created_at > timedelta(hours=web.session_absolute_hours)):
        session.delete(ws)
        return None
    if now - ws.last_seen_at >= SEEN_STEP:
        ws.last_seen_at = now
    return OpenSession(user, ws.csrf_token)


def close_session(session: Session, secret: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == digest(secret)))


def purge_expired(session: Session, web: WebSettings, now: datetime | None = None) -> int:
    now = now or utcnow()
    result = session.execute(delete(WebSession).where(or_(
        WebSession.last_seen_at < now - timedelta(minutes=web.session_idle_minutes),
        WebSession.created_at < now - timedelta(hours=web.session_absolute_hours))))
    return int(getattr(result, "rowcount", 0) or 0)
