"""Hotline tasks: callbacks, feedback and visit requests with deadlines, worked to an outcome
(HL-2, HL-9, HL-10; QI-2 "Исполнительность": overdue tasks are reported).

Deadlines:
- callback (after hours, or the queue's limit passed): hotline.callback_deadline_hours reception
  hours after the request (6.3.4: "с обязательным соединением с абонентом в часы приема");
- feedback, complaint, suggestion: hotline.feedback_deadline_days working days (the end of that
  local day);
- visit: the close of the next reception day (the secretary calls back to fix the appointment).

States: open → taken (by an operator) → done (with an outcome). `done` needs an outcome; a task can
be taken over by another operator; a done task stays done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autoinform.calendar import add_working_days
from autoinform.config import HotlineSettings
from autoinform.errors import AutoinformError, NotFoundError
from autoinform.hotline.hours import ReceptionHours
from autoinform.hotline.states import TaskOutcome, TaskState
from autoinform.logs import mask_phone
from autoinform.models import HotlineTask, Recording
from autoinform.users import audit
from ivr.hotline.backend import NewTask, TaskKind

__all__ = ["Deadlines", "TaskError", "TaskOutcome", "TaskState", "create", "done", "listing", "overdue_report",
           "take"]


class TaskError(AutoinformError):
    """A task cannot go where it was asked to (taken by someone else, already done, no outcome)."""


@dataclass(frozen=True)
class Deadlines:
    hours: ReceptionHours
    settings: HotlineSettings

    def for_kind(self, kind: TaskKind, at: datetime) -> datetime:
        if kind is TaskKind.CALLBACK:
            return self.hours.add_hours(at, self.settings.callback_deadline_hours)
        if kind is TaskKind.VISIT:
            return self.hours.end_of_next_day(at)
        tz = self.hours.tz
        day = add_working_days(at.astimezone(tz).date(), self.settings.feedback_deadline_days,
                               self.hours.country)
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def create(session: Session, task: NewTask, deadline: datetime, now: datetime, *,
           retention_days: int) -> HotlineTask:
    row = HotlineTask(kind=task.kind.value, state=TaskState.OPEN.value, caller=task.caller[:32],
                      account=task.account, call_id=task.call_id[:64], note=task.note[:500],
                      recording_path=str(task.recording) if task.recording else None,
                      deadline=deadline, created_at=now)
    session.add(row)
    session.flush()
    if task.recording is not None:
        existing = session.scalar(select(Recording).where(Recording.path == str(task.recording)))
        if existing is None:
            session.add(Recording(path=str(task.recording), call_id=task.call_id[:64], task_id=row.id,
                                  created_at=now, expires_at=now + timedelta(days=retention_days)))
        else:
            existing.task_id = row.id
    return row


def get(session: Session, task_id: int) -> HotlineTask:
    row = session.get(HotlineTask, task_id)
    if row is None:
        raise NotFoundError("task", task_id)
    return row


def take(session: Session, task_id: int, actor: str, now: datetime) -> HotlineTask:
    row = session.scalar(select(HotlineTask).where(HotlineTask.id == task_id).with_for_update())
    if row is None:
        raise NotFoundError("task", task_id)
    if row.state == TaskState.DONE:
        raise TaskError(f"task {task_id} is already done ({row.outcome})")
    previous = row.taken_by
    row.state, row.taken_by, row.taken_at = TaskState.TAKEN.value, actor, now
    audit(session, actor, "task.take", "hotline_task", task_id,
          **({"taken_over_from": previous} if previous and previous != actor else {}))
    return row


def done(session: Session, task_id: int, actor: str, outcome: TaskOutcome, now: datetime,
         note: str = "") -> HotlineTask:
    row = session.scalar(select(HotlineTask).where(HotlineTask.id == task_id).with_for_update())
    if row is None:
        raise NotFoundError("task", task_id)
    if row.state == TaskState.DONE:
        raise TaskError(f"task {task_id} is already done ({row.outcome}, by {row.done_by})")
    if row.taken_by is None:
        row.taken_by, row.taken_at = actor, now
    row.state, row.outcome, row.outcome_note = TaskState.DONE.value, outcome.value, note[:1000]
    row.done_by, row.done_at = actor, now
    audit(session, actor, "task.done", "hotline_task", task_id, outcome=outcome.value,
          late=now > row.deadline)
    return row


def listing(session: Session, *, now: datetime, overdue: bool = False, state: str | None = None,
            limit: int = 200) -> list[HotlineTask]:
    stmt = select(HotlineTask)
    if overdue:
        stmt = stmt.where(HotlineTask.state != TaskState.DONE.value, HotlineTask.deadline < now)
    elif state:
        stmt = stmt.where(HotlineTask.state == state)
    else:
        stmt = stmt.where(HotlineTask.state != TaskState.DONE.value)
    return list(session.scalars(stmt.order_by(HotlineTask.deadline, HotlineTask.id).limit(limit)))


def as_dict(row: HotlineTask, now: datetime, *, mask: bool = True) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "state": row.state,
            "caller": mask_phone(row.caller) if mask else row.caller, "account": row.account,
            "call_id": row.call_id, "note": row.note, "recording": row.recording_path,
            "created_at": row.created_at.isoformat(), "deadline": row.deadline.isoformat(),
            "overdue": row.state != TaskState.DONE and now > row.deadline,
            "taken_by": row.taken_by, "outcome": row.outcome, "done_at": row.done_at.isoformat()
            if row.done_at else None, "late": bool(row.done_at and row.done_at > row.deadline)}


@dataclass(frozen=True)
class OverdueReport:
    """QI-2 for hotline tasks: what was done on time, what late, what is overdue now."""

    done_on_time: int
    done_late: int
    open_overdue: int
    open_in_time: int
    by_kind: dict[str, int]  # open overdue tasks by kind

    @property
    def on_time_share(self) -> float | None:
        finished = self.done_on_time + self.done_late + self.open_overdue
        return None if not finished else self.done_on_time / finished


def overdue_report(session: Session, now: datetime, since: datetime | None = None) -> OverdueReport:
    t = HotlineTask
    base = select(func.count()).select_from(t)
    if since is not None:
        base = base.where(t.created_at >= since)
    done_state = t.state == TaskState.DONE.value
    on_time = session.scalar(base.where(done_state, t.done_at <= t.deadline)) or 0
    late = session.scalar(base.where(done_state, t.done_at > t.deadline)) or 0
    overdue = session.scalar(base.where(~done_state, t.deadline < now)) or 0
    in_time = session.scalar(base.where(~done_state, t.deadline >= now)) or 0
    kinds = select(t.kind, func.count()).where(~done_state, t.deadline < now)
    if since is not None:
        kinds = kinds.where(t.created_at >= since)
    by_kind = {k: n for k, n in session.execute(kinds.group_by(t.kind)).all()}
    return OverdueReport(on_time, late, overdue, in_time, by_kind)
