"""Users and roles (AI-15: a specialist forms, a different manager approves; AI-19: access by role)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from autoinform.errors import NotFoundError, PermissionDenied
from autoinform.models import AuditEntry, Role, User


def audit(session: Session, actor: str, action: str, entity: str, entity_id: object,
          **detail: object) -> None:
    session.add(AuditEntry(actor=actor, action=action, entity=entity, entity_id=str(entity_id),
                           detail={k: v for k, v in detail.items()}))


def add_user(session: Session, login: str, role: Role, full_name: str = "", *, actor: str = "admin") -> User:
    if session.scalar(select(User).where(User.login == login)):
        raise PermissionDenied(f"user {login!r} already exists")
    user = User(login=login, role=role, full_name=full_name)
    session.add(user)
    audit(session, actor, "user.add", "user", login, role=role.value)
    return user


def get_user(session: Session, login: str) -> User:
    user = session.scalar(select(User).where(User.login == login))
    if user is None:
        raise NotFoundError("user", login)
    return user


def require_role(session: Session, login: str, *roles: Role) -> User:
    """The user, if their role is one of `roles` (admin is always allowed)."""
    user = get_user(session, login)
    if user.role not in roles and user.role is not Role.ADMIN:
        allowed = ", ".join(r.value for r in roles)
        raise PermissionDenied(f"{login} is {user.role.value}; this needs {allowed}")
    return user
