"""Callback tasks (HL-2, QI-2, issue 12 item 1): every open or taken task with its deadline,
overdue first, to take and to close with an outcome. Forms carry the CSRF token; the work is
autoinform/hotline/tasks.py's, which audits it. The JSON API's /api/callbacks reads the same
`task_rows`.

A caller's number is personal data: in clear for PERSONAL_DATA roles, and for the operator who
has taken the task (they must call it); masked for everyone else (AI-19).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autoinform import changes, db
from autoinform.errors import AutoinformError
from autoinform.hotline import tasks
from autoinform.hotline.states import TaskOutcome, TaskState
from autoinform.models import HotlineTask, Role, utcnow
from autoinform.users import PERSONAL_DATA_ROLES
from autoinform.web.auth import CurrentUser, require
from autoinform.web.live import LiveHub, stream
from autoinform.web.pages.common import error_status, render, runtime

router = APIRouter(include_in_schema=False)
READERS = (Role.OPERATOR, Role.MANAGER, Role.VIEWER)  # viewers see the list, masked
WORKERS = (Role.OPERATOR, Role.MANAGER)  # take and close (admin always)
Reader = Annotated[CurrentUser, Depends(require(*READERS))]
Worker = Annotated[CurrentUser, Depends(require(*WORKERS))]
OUTCOMES = {o.value: label for o, label in (
    (TaskOutcome.REACHED, "дозвонились, вопрос решён"), (TaskOutcome.NOT_REACHED, "не дозвонились"),
    (TaskOutcome.WRONG_NUMBER, "неверный номер"), (TaskOutcome.ANSWERED_IN_WRITING, "ответ письмом"),
    (TaskOutcome.APPOINTMENT_MADE, "записан на приём"), (TaskOutcome.NO_MESSAGE, "пустое сообщение"),
    (TaskOutcome.DUPLICATE, "повтор другой заявки"))}

KINDS = {"callback": "обратный звонок", "feedback": "обращение", "complaint": "жалоба", "suggestion": "предложение",
         "visit": "запись на приём"}


def sees_caller(user: CurrentUser, task: HotlineTask) -> bool:
    return user.role in PERSONAL_DATA_ROLES or (task.state == TaskState.TAKEN and task.taken_by == user.login)


def task_rows(session: Session, user: CurrentUser, *, tz: ZoneInfo, now: datetime | None = None,
              limit: int = 500) -> list[dict[str, Any]]:
    """Tasks not done yet: overdue first (the most overdue on top), then by deadline."""
    now = now or utcnow()
    rows = tasks.listing(session, now=now, limit=limit)  # by deadline: the overdue ones lead already
    out = []
    for t in rows:
        d = tasks.as_dict(t, now, mask=not sees_caller(user, t))
        d |= {"deadline_local": t.deadline.astimezone(tz).strftime("%d.%m %H:%M"),
              "created_local": t.created_at.astimezone(tz).strftime("%d.%m %H:%M"),
              "mine": t.taken_by == user.login, "caller_clear": sees_caller(user, t),
              "recording": bool(t.recording_path)}  # where the file lies is not the page's business
        out.append(d)
    return out


def signature(session: Session) -> dict[str, Any]:
    """What the live stream sends for the callbacks page: no personal data, only enough to tell
    that the list changed (the page then reloads, drawn for its own user)."""
    t = HotlineTask
    n, last, moved = session.execute(select(func.count(), func.max(t.id),
                                            func.max(func.coalesce(t.done_at, t.taken_at, t.created_at)))
                                     .where(t.state != TaskState.DONE.value)).one()
    done = session.scalar(select(func.count()).select_from(t).where(t.state == TaskState.DONE.value))
    return {"open": n, "last": last, "moved": moved.isoformat() if moved else None, "done": done}


def _page(request: Request, user: CurrentUser, *, status_code: int = 200, error: str = "") -> HTMLResponse:
    rt = runtime(request)
    with rt.sessions() as s:
        rows = task_rows(s, user, tz=rt.settings.tz)
        report = tasks.overdue_report(s, utcnow())
    return render(request, "callbacks.html", user, status_code=status_code, tasks=rows, error=error,
                  outcomes=OUTCOMES, kinds=KINDS, report=report,
                  may_work=user.role is Role.ADMIN or user.role in WORKERS)


@router.get("/callbacks", response_class=HTMLResponse)
def callbacks_page(request: Request, user: Reader) -> HTMLResponse:
    return _page(request, user)


def take(rt_sessions: Any, task_id: int, user: CurrentUser) -> None:
    with db.transaction(rt_sessions) as s:
        tasks.take(s, task_id, user.login, utcnow())
        changes.announce(s)


def close(rt_sessions: Any, task_id: int, user: CurrentUser, outcome: str, note: str) -> None:
    try:
        result = TaskOutcome(outcome)
    except ValueError:
        raise tasks.TaskError(f"choose an outcome: one of {', '.join(OUTCOMES)}") from None
    with db.transaction(rt_sessions) as s:
        tasks.done(s, task_id, user.login, result, utcnow(), note.strip())
        changes.announce(s)


@router.post("/callbacks/{task_id}/take", response_class=HTMLResponse)
def take_task(request: Request, task_id: int, user: Worker) -> Response:
    try:
        take(runtime(request).sessions, task_id, user)
    except AutoinformError as exc:
        return _page(request, user, status_code=error_status(exc), error=str(exc))
    return RedirectResponse(f"/callbacks#task-{task_id}", status_code=303)


@router.post("/callbacks/{task_id}/done", response_class=HTMLResponse)
def close_task(request: Request, task_id: int, user: Worker, outcome: Annotated[str, Form(max_length=32)] = "",
               note: Annotated[str, Form(max_length=1000)] = "") -> Response:
    try:
        close(runtime(request).sessions, task_id, user, outcome, note)
    except AutoinformError as exc:
        return _page(request, user, status_code=error_status(exc), error=str(exc))
    return RedirectResponse("/callbacks", status_code=303)


@router.get("/live/callbacks")
def live_callbacks(request: Request, user: Reader) -> StreamingResponse:
    hub: LiveHub = request.app.state.live
    return StreamingResponse(stream(hub, ("callbacks", 0, False)), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
