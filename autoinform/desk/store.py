"""The desk's rows: operators' phones, calls connected to them, wrap-ups, callbacks placed, and the
day's figures per operator. Every write tells open pages (autoinform/changes.py), so the operator's
desk sees a connect within the live hub's poll."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from autoinform.changes import announce
from autoinform.desk.events import Connect
from autoinform.errors import AutoinformError, NotFoundError
from autoinform.hotline import tasks
from autoinform.models import DeskCall, DeskCallback, DeskOperator, HotlineCall, HotlineTask, Role, User
from autoinform.users import audit, get_user
from ivr.hotline.backend import NewTask, TaskKind

MAX_INTERFACE = 128
WRAPUP_TASKS = (TaskKind.CALLBACK, TaskKind.VISIT)


class DeskError(AutoinformError):
    """A desk action that cannot be done (no phone, not this operator's call, an unknown topic)."""


def valid_interface(text: str) -> str:
    """A queue member interface as Asterisk names it: `TECH/resource`, no spaces or control characters."""
    value = text.strip()
    tech, _, rest = value.partition("/")
    if not tech or not rest or len(value) > MAX_INTERFACE or any(c.isspace() or ord(c) < 32 for c in value):
        raise DeskError(f"not a queue member interface: {text!r} (e.g. PJSIP/201 or Local/201@operators/n)")
    return value


def set_phone(session: Session, login: str, interface: str, *, actor: str) -> DeskOperator:
    """Link an operator (or admin, manager testing the desk) to the queue member interface their
    calls come to; one interface belongs to one user."""
    iface = valid_interface(interface)
    user = get_user(session, login)
    if user.role not in (Role.OPERATOR, Role.ADMIN, Role.MANAGER):
        raise DeskError(f"{login} is a {user.role.value}: only operators (and admins, managers) take calls")
    other = session.scalar(select(DeskOperator).where(DeskOperator.interface == iface,
                                                      DeskOperator.user_id != user.id))
    if other is not None:
        owner = session.get(User, other.user_id)
        raise DeskError(f"{iface} is already the phone of {owner.login if owner else other.user_id}")
    row = session.get(DeskOperator, user.id)
    previous = row.interface if row is not None else None
    if row is None:
        row = DeskOperator(user_id=user.id, interface=iface)
        session.add(row)
    else:
        row.interface = iface
    audit(session, actor, "desk.phone", "user", login, interface=iface, previous=previous)
    session.flush()
    return row


def phone_of(session: Session, user_id: int) -> str | None:
    row = session.get(DeskOperator, user_id)
    return row.interface if row is not None else None


def operator_for(session: Session, *names: str) -> int | None:
    """The user whose phone is one of `names` (AgentConnect's Interface, then MemberName)."""
    wanted = [n for n in names if n]
    if not wanted:
        return None
    rows = {r.interface: r.user_id for r in session.scalars(
        select(DeskOperator).where(DeskOperator.interface.in_(wanted)))}
    return next((rows[n] for n in wanted if n in rows), None)


def record_connect(session: Session, connect: Connect, at: datetime) -> DeskCall:
    """The call the queue just connected; a second AgentConnect for the same caller (transferred on
    to another operator) moves it to that operator."""
    operator = operator_for(session, connect.interface, connect.member)
    account = connect.account
    if account is None:  # the hotline flow stored its record before the dialplan queued the call
        account = session.scalar(select(HotlineCall.account).where(HotlineCall.call_id == connect.call_id))
    row = session.scalar(select(DeskCall).where(DeskCall.call_id == connect.call_id))
    if row is None:
        row = DeskCall(call_id=connect.call_id, note="")
        session.add(row)
    row.linked_id, row.queue, row.interface = connect.linked_id, connect.queue, connect.interface
    row.operator_id, row.caller, row.account = operator, connect.caller, account
    row.attempt_id, row.hold_s, row.connected_at, row.ended_at = connect.attempt_id, connect.hold_s, at, None
    if operator is not None:  # the operator sees this customer's data in clear on their desk (AI-19)
        login = session.scalar(select(User.login).where(User.id == operator))
        audit(session, login or "?", "desk.screen_pop", "hotline_call", connect.call_id, account=account)
    announce(session)
    session.flush()
    return row


def record_end(session: Session, call_id: str, at: datetime) -> bool:
    """The caller's channel hung up; False if the desk did not know the call or it had ended."""
    row = session.scalar(select(DeskCall).where(DeskCall.call_id == call_id, DeskCall.ended_at.is_(None)))
    if row is None:
        return False
    row.ended_at = at
    announce(session)
    return True


def open_call_ids(session: Session) -> set[str]:
    """Calls connected and not ended: the Hangups the listener waits for (read again at start)."""
    return set(session.scalars(select(DeskCall.call_id).where(DeskCall.ended_at.is_(None))))


def current_call(session: Session, user_id: int) -> DeskCall | None:
    """The operator's call on the line, else the latest one still waiting for its wrap-up."""
    return session.scalar(select(DeskCall).where(DeskCall.operator_id == user_id, DeskCall.wrapped_at.is_(None))
                          .order_by(DeskCall.ended_at.is_not(None), DeskCall.connected_at.desc()).limit(1))


@dataclass(frozen=True)
class WrapUp:
    call_id: str
    topic: str
    note: str = ""
    task: TaskKind | None = None  # a callback or a visit request made from the call


def wrap_up(session: Session, user_id: int, login: str, wrap: WrapUp, topics: list[str], now: datetime,
            deadlines: tasks.Deadlines | None, *, retention_days: int = 90) -> DeskCall:
    """Store the operator's topic and note with the call (HL-5 joins desk_calls by call_id) and,
    if asked, a callback or visit task (QI-2: with its deadline)."""
    row = session.scalar(select(DeskCall).where(DeskCall.call_id == wrap.call_id).with_for_update())
    if row is None:
        raise NotFoundError("desk call", wrap.call_id)
    if row.operator_id != user_id:
        raise DeskError("this call was not connected to you")
    if wrap.topic not in topics:
        raise DeskError(f"unknown topic {wrap.topic!r}; one of: {', '.join(topics)}")
    if wrap.task is not None and wrap.task not in WRAPUP_TASKS:
        raise DeskError(f"a wrap-up makes a callback or a visit request, not {wrap.task.value}")
    row.topic, row.note, row.wrapped_at = wrap.topic, wrap.note.strip()[:2000], now
    if row.ended_at is None:
        row.ended_at = now  # wrapped up while Asterisk's Hangup was not seen (engine restarted)
    if wrap.task is not None and row.task_id is None:
        if deadlines is None:
            raise DeskError("the hotline's reception hours are not configured: no deadline for a task")
        task = tasks.create(session, NewTask(kind=wrap.task, caller=row.caller, call_id=row.call_id,
                                             account=row.account, note=f"desk: {row.note}"[:500]),
                            deadlines.for_kind(wrap.task, now), now, retention_days=retention_days)
        row.task_id = task.id
    audit(session, login, "desk.wrapup", "hotline_call", row.call_id, topic=wrap.topic, task=row.task_id)
    announce(session)
    session.flush()
    return row


def history(session: Session, account: str | None, caller: str, *, limit: int = 10) -> list[DeskCall]:
    """The customer's earlier calls with operators, newest first (wrap-ups: topic and note)."""
    who = [DeskCall.caller == caller] if caller else []
    if account:
        who.append(DeskCall.account == account)
    if not who:
        return []
    return list(session.scalars(select(DeskCall).where(or_(*who), DeskCall.wrapped_at.is_not(None))
                                .order_by(DeskCall.connected_at.desc()).limit(limit)))


def record_callback(session: Session, task: HotlineTask, user_id: int, interface: str, number: str,
                    channel_id: str, now: datetime) -> DeskCallback:
    row = DeskCallback(task_id=task.id, operator_id=user_id, interface=interface, number=number[:32],
                       channel_id=channel_id, placed_at=now)
    session.add(row)
    session.flush()
    return row


def callback_result(session: Session, channel_id: str, result: str, now: datetime) -> None:
    row = session.scalar(select(DeskCallback).where(DeskCallback.channel_id == channel_id))
    if row is not None:
        row.result, row.ended_at = result[:32], now
        announce(session)


@dataclass(frozen=True)
class OperatorDay:
    user_id: int
    login: str
    interface: str
    handled: int  # calls connected today that ended
    mean_handling_s: float | None  # connect to hang-up
    on_call: bool  # a call connected and not ended
    wrapping_up: bool  # a call ended and not wrapped up


def operators_today(session: Session, since: datetime) -> list[OperatorDay]:
    """Per operator with a phone: today's handled calls and mean handling time (HL-5)."""
    out: list[OperatorDay] = []
    for op, user in session.execute(select(DeskOperator, User).join(User, User.id == DeskOperator.user_id)
                                    .order_by(User.login)).all():
        calls = list(session.scalars(select(DeskCall).where(DeskCall.operator_id == user.id,
                                                            or_(DeskCall.connected_at >= since,
                                                                DeskCall.wrapped_at.is_(None)))))
        ended = [c for c in calls if c.ended_at is not None and c.connected_at >= since]
        spans = [(c.ended_at - c.connected_at).total_seconds() for c in ended if c.ended_at]
        out.append(OperatorDay(user.id, user.login, op.interface, len(ended),
                               round(sum(spans) / len(spans), 1) if spans else None,
                               any(c.ended_at is None for c in calls),
                               any(c.ended_at is not None and c.wrapped_at is None for c in calls)))
    return out


def stale_open_calls(session: Session, older_than: timedelta, now: datetime) -> int:
    """How many connected calls have had no Hangup for longer than `older_than` (lost events)."""
    return session.scalar(select(func.count()).select_from(DeskCall).where(
        DeskCall.ended_at.is_(None), DeskCall.connected_at < now - older_than)) or 0
