"""Users, roles and passwords (AI-15: a specialist forms, a different manager approves; AI-19:
access by role). Passwords are kept as argon2id hashes only (argon2-cffi)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from autoinform.errors import AuthenticationError, NotFoundError, PermissionDenied
from autoinform.models import AuditEntry, Role, User, WebSession

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_PASSWORD = 10  # characters; a long passphrase beats composition rules


# Roles that see customers' names, numbers and addresses in clear (AI-19): specialists form the
# lists, managers approve them (AI-15), admins run the system. Operators see a customer's data
# only where a call needs it (a callback task); viewers (e.g. the central office's statistics) never.
PERSONAL_DATA_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.SPECIALIST})


def audit(session: Session, actor: str, action: str, entity: str, entity_id: object,
          **detail: object) -> None:
    session.add(AuditEntry(actor=actor, action=action, entity=entity, entity_id=str(entity_id),
                           detail={k: v for k, v in detail.items()}))


def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher  # imported on use: the CLI's start-up stays light

    return PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise PermissionDenied(f"a password needs at least {MIN_PASSWORD} characters")
    return str(_hasher().hash(password))


def password_matches(user: User, password: str) -> bool:
    """True when `password` is the user's; a hash made with older parameters is renewed."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if not user.password_hash:
        return False
    hasher = _hasher()
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


_DUMMY: list[str] = []


def spend_a_check(password: str) -> None:
    """Verify against a throwaway hash, so an unknown login costs the time a known one does (the
    answer's delay does not tell which logins exist)."""
    from argon2.exceptions import VerificationError

    hasher = _hasher()
    if not _DUMMY:
        _DUMMY.append(hasher.hash("not anyone's password"))
    with contextlib.suppress(VerificationError):
        hasher.verify(_DUMMY[0], password)


def user_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def add_user(session: Session, login: str, role: Role, full_name: str = "", *, actor: str = "admin",
             password: str | None = None) -> User:
    if session.scalar(select(User).where(User.login == login)):
        raise PermissionDenied(f"user {login!r} already exists")
    user = User(login=login, role=role, full_name=full_name,
                password_hash=hash_password(password) if password is not None else None)
    session.add(user)
    session.flush()
    audit(session, actor, "user.add", "user", login, role=role.value)
    return user


def get_user(session: Session, login: str) -> User:
    user = session.scalar(select(User).where(User.login == login))
    if user is None:
        raise NotFoundError("user", login)
    return user


def set_password(session: Session, login: str, password: str, *, actor: str) -> None:
    """A new password; the user's open web sessions end (whoever knew the old one is logged out)."""
    user = get_user(session, login)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    audit(session, actor, "user.passwd", "user", login)


def set_role(session: Session, login: str, role: Role, *, actor: str) -> None:
    user = get_user(session, login)
    if user.role is Role.ADMIN and role is not Role.ADMIN and _last_admin(session, user):
        raise PermissionDenied(f"{login} is the last enabled admin; make another admin first")
    old, user.role = user.role, role
    audit(session, actor, "user.role", "user", login, old=old.value, new=role.value)


def set_disabled(session: Session, login: str, disabled: bool, *, actor: str) -> None:
    """A disabled user's sessions end and their tokens stop working (checked on every request)."""
    user = get_user(session, login)
    if disabled and user.role is Role.ADMIN and _last_admin(session, user):
        raise PermissionDenied(f"{login} is the last enabled admin; make another admin first")
    user.disabled = disabled
    if disabled:
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    else:
        user.failed_logins = 0
    audit(session, actor, "user.disable" if disabled else "user.enable", "user", login)


def _last_admin(session: Session, user: User) -> bool:
    others = session.scalar(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN, User.disabled.is_(False), User.id != user.id))
    return not others


def require_role(session: Session, login: str, *roles: Role) -> User:
    """The user, if enabled and their role is one of `roles` (admin is always allowed)."""
    user = get_user(session, login)
    if user.disabled:
        raise AuthenticationError(f"user {login} is disabled")
    if user.role not in roles and user.role is not Role.ADMIN:
        allowed = ", ".join(r.value for r in roles)
        raise PermissionDenied(f"{login} is {user.role.value}; this needs {allowed}")
    return user
