"""Personal API tokens (issue 12): scripts and the command line act as the token's owner.

A token is 32 random bytes shown once when made; the database keeps only its SHA-256 (a token is
not a password a person chooses: a fast hash of a random secret cannot be reversed or guessed).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from autoinform.errors import AuthenticationError, NotFoundError, PermissionDenied
from autoinform.models import ApiToken, Role, User, utcnow
from autoinform.users import audit, get_user

PREFIX = "aif_"  # recognisable in a leaked file or a secret scanner
LAST_USED_STEP = timedelta(minutes=1)  # last_used_at is written at most this often per token


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    id: int
    name: str
    login: str
    secret: str  # shown once, never stored


def create_token(session: Session, login: str, name: str, *, actor: str) -> NewToken:
    user = get_user(session, login)
    if not name.strip() or len(name) > 100:
        raise PermissionDenied("a token needs a name of 1 to 100 characters")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(token_hash=digest(secret), name=name, user_id=user.id)
    session.add(token)
    session.flush()
    audit(session, actor, "token.create", "user", login, token_id=token.id, name=name)
    return NewToken(token.id, name, login, secret)


def user_for_token(session: Session, secret: str, now: datetime | None = None) -> User:
    """The enabled owner of a valid token, else AuthenticationError (one message for every cause
    but a disabled owner, so a guesser learns nothing)."""
    now = now or utcnow()
    row = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.token_hash == digest(secret.strip()))).first()
    if row is None or row[0].revoked_at is not None:
        raise AuthenticationError("the API token is unknown or revoked")
    token, user = row
    if user.disabled:
        raise AuthenticationError(f"user {user.login} is disabled")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_STEP:
        token.last_used_at = now
    return user


def revoke_token(session: Session, token_id: int, *, actor: User) -> ApiToken:
    """The owner or an admin revokes a token; it stops working at once."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFoundError("token", token_id)
    if token.user_id != actor.id and actor.role is not Role.ADMIN:
        raise PermissionDenied("only its owner or an admin may revoke a token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        owner = session.get(User, token.user_id)
        audit(session, actor.login, "token.revoke", "user", owner.login if owner else token.user_id,
              token_id=token.id)
    return token


def list_tokens(session: Session, login: str | None = None) -> list[dict[str, object]]:
    """Tokens (never their secrets), of one user or of everyone."""
    stmt = select(ApiToken, User.login).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if login is not None:
        stmt = stmt.where(User.login == login)
    return [{"id": t.id, "name": t.name, "user": u, "created_at": t.created_at.isoformat(),
             "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
             "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}
            for t, u in session.execute(stmt)]


def write_token_file(path: Path, secret: str) -> None:
    """A new token file readable by its owner only; an existing file is never overwritten."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AuthenticationError(f"{path} exists already; not overwritten (remove it, or name "
                                  f"another file)") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secret + "\n")
