"""The operator's desk and the supervisor's view (issue 13; AI-8, HL-4, HL-5, QI-2).

/desk shows the card of the call the queue connected to this user's phone, live (SSE topic
("desk", user id, True): a topic per operator, so nothing of one operator's caller reaches another's
page), with pause/unpause, the wrap-up form and the open callbacks to call back. Pause, callbacks
and the supervisor's live figures need the engine's AMI link (app.state.desk_control, set by
`autoinform run`); without it those answer 503 and say why."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from autoinform import db
from autoinform.desk import store
from autoinform.desk.card import desk_state
from autoinform.desk.control import DeskControl
from autoinform.errors import AutoinformError
from autoinform.hotline import tasks
from autoinform.hotline.states import TaskState
from autoinform.models import DeskCallback, HotlineTask, Role, User, utcnow
from autoinform.web.auth import CurrentUser, require
from autoinform.web.live import LiveHub, Topic, stream
from autoinform.web.pages.common import error_status, render, runtime
from ivr.errors import AmiError
from ivr.hotline.backend import TaskKind

router = APIRouter(include_in_schema=False)
Operator = Annotated[CurrentUser, Depends(require(Role.OPERATOR, Role.MANAGER))]
Supervisor = Annotated[CurrentUser, Depends(require(Role.MANAGER))]
KIND = "desk"


def live_state(session: Session, topic: Topic, *, readings: int = 5) -> dict[str, Any]:
    """The live hub's state for one operator's desk (topic ("desk", user id, True))."""
    return desk_state(session, topic[1], readings=readings, now=utcnow())


def _user_id(request: Request, login: str) -> int:
    with runtime(request).sessions() as s:
        uid = s.scalar(select(User.id).where(User.login == login))
    if uid is None:
        raise AutoinformError(f"no user {login!r}")
    return uid


def _control(request: Request) -> DeskControl | None:
    control = getattr(request.app.state, "desk_control", None)
    return control if isinstance(control, DeskControl) else None


def _callbacks(s: Session, now: datetime) -> list[dict[str, Any]]:
    rows = s.scalars(select(HotlineTask).where(HotlineTask.kind == TaskKind.CALLBACK.value,
                                               HotlineTask.state != TaskState.DONE.value)
                     .order_by(HotlineTask.deadline).limit(100))
    out = []
    for t in rows:
        placed = s.scalars(select(DeskCallback).where(DeskCallback.task_id == t.id)
                           .order_by(DeskCallback.placed_at.desc()).limit(3)).all()
        out.append({"id": t.id, "caller": t.caller, "account": t.account, "deadline": t.deadline,
                    "overdue": t.deadline < now, "taken_by": t.taken_by, "note": t.note,
                    "placed": [{"at": p.placed_at, "by": p.interface, "result": p.result} for p in placed]})
    return out


def _desk_page(request: Request, user: CurrentUser, *, status_code: int = 200, error: str = "",
               message: str = "") -> HTMLResponse:
    rt = runtime(request)
    uid = _user_id(request, user.login)
    now = utcnow()
    with rt.sessions() as s:
        state = desk_state(s, uid, readings=rt.settings.desk.recent_readings, now=now)
        callbacks = _callbacks(s, now)
    return render(request, "desk.html", user, status_code=status_code, state=state, callbacks=callbacks,
                  topics=rt.settings.desk.topics, error=error, message=message,
                  ami=_control(request) is not None)


@router.get("/desk", response_class=HTMLResponse)
def desk_page(request: Request, user: Operator) -> HTMLResponse:
    return _desk_page(request, user)


@router.get("/live/desk")
def live_desk(request: Request, user: Operator) -> StreamingResponse:
    hub: LiveHub = request.app.state.live
    topic: Topic = (KIND, _user_id(request, user.login), True)
    return StreamingResponse(stream(hub, topic), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/desk/pause", response_class=HTMLResponse)
async def pause(request: Request, user: Operator, paused: Annotated[str, Form()],
                reason: Annotated[str, Form(max_length=80)] = "") -> Response:
    control = _control(request)
    if control is None:
        return _desk_page(request, user, status_code=503, error="нет связи с Asterisk (AMI) в этом процессе")
    with runtime(request).sessions() as s:
        interface = store.phone_of(s, _user_id(request, user.login))
    if interface is None:
        return _desk_page(request, user, status_code=409, error="у вас не задан телефон (autoinform users phone)")
    on = paused == "1"
    try:
        await control.pause(interface, on, reason.strip())
    except AmiError as exc:
        return _desk_page(request, user, status_code=502, error=f"Asterisk: {exc}")
    with db.transaction(runtime(request).sessions) as s:
        from autoinform.users import audit
        audit(s, user.login, "desk.pause" if on else "desk.unpause", "queue_member", interface, reason=reason)
    return _desk_page(request, user, message="пауза" if on else "снова принимаете звонки")


@router.post("/desk/wrapup", response_class=HTMLResponse)
def wrapup(request: Request, user: Operator, call_id: Annotated[str, Form(max_length=64)],
           topic: Annotated[str, Form(max_length=64)], note: Annotated[str, Form(max_length=2000)] = "",
           task: Annotated[str, Form()] = "") -> Response:
    rt = runtime(request)
    uid = _user_id(request, user.login)
    try:
        kind = TaskKind(task) if task else None
    except ValueError:
        return _desk_page(request, user, status_code=400, error=f"неизвестный вид задачи {task!r}")
    try:
        from autoinform.hotline.backend import reception_hours

        deadlines = tasks.Deadlines(reception_hours(rt), rt.settings.hotline)
        with db.transaction(rt.sessions) as s:
            store.wrap_up(s, uid, user.login, store.WrapUp(call_id, topic, note, kind), rt.settings.desk.topics,
                          utcnow(), deadlines, retention_days=rt.settings.hotline.recording_retention_days)
    except AutoinformError as exc:
        return _desk_page(request, user, status_code=error_status(exc), error=str(exc))
    return _desk_page(request, user, message="звонок завершён")


@router.post("/desk/callback/{task_id}", response_class=HTMLResponse)
async def call_back(request: Request, task_id: int, user: Operator) -> Response:
    control = _control(request)
    if control is None:
        return _desk_page(request, user, status_code=503, error="нет связи с Asterisk (AMI) в этом процессе")
    try:
        row = await control.call_back(task_id, _user_id(request, user.login), user.login)
    except AutoinformError as exc:
        return _desk_page(request, user, status_code=error_status(exc), error=str(exc))
    return _desk_page(request, user, message=f"звоним на ваш телефон {row.interface}, затем клиенту")


# --- supervisor --------------------------------------------------------------------------------------


async def supervisor_state(request: Request) -> dict[str, Any]:
    """Operators' states, calls waiting and the longest wait against the target, handled calls and
    mean handling time today (local day), from the database and the queue's own QueueStatus."""
    rt = runtime(request)
    tz = rt.settings.tz
    since = datetime.combine(datetime.now(tz).date(), time(0), tzinfo=tz)
    with rt.sessions() as s:
        days = store.operators_today(s, since)
    control = _control(request)
    snapshot = None
    error = ""
    if control is not None:
        try:
            snapshot = await control.queue_status()
        except AmiError as exc:
            error = f"Asterisk: {exc}"
    members = {m.interface: m for m in snapshot.members} if snapshot else {}
    limit = rt.settings.hotline.operator_wait_limit_s
    rows = []
    for d in days:
        m = members.get(d.interface)
        if m is not None and m.paused:
            state = "paused"
        elif d.on_call or (m is not None and m.in_call):
            state = "on_call"
        elif d.wrapping_up:
            state = "wrap_up"
        else:
            state = "free" if m is not None else "not_in_queue"
        rows.append({"login": d.login, "interface": d.interface, "state": state,
                     "pause_reason": m.pause_reason if m else "", "handled": d.handled,
                     "mean_handling_s": d.mean_handling_s, "asterisk_calls_taken": m.calls_taken if m else None})
    return {"queue": control.queue if control else None, "operators": rows,
            "waiting": snapshot.waiting if snapshot else None,
            "longest_wait_s": snapshot.longest_wait_s if snapshot else None, "limit_s": limit,
            "over_limit": bool(snapshot and snapshot.longest_wait_s > limit),
            "members_in_queue": len(members), "error": error if control else "нет связи с Asterisk (AMI)",
            "at": datetime.now(tz).isoformat(timespec="seconds")}


@router.get("/desk/supervisor", response_class=HTMLResponse)
async def supervisor_page(request: Request, user: Supervisor) -> HTMLResponse:
    return render(request, "desk_supervisor.html", user, state=await supervisor_state(request))


@router.get("/desk/supervisor.json")
async def supervisor_json(request: Request, user: Supervisor) -> JSONResponse:
    return JSONResponse(await supervisor_state(request))


__all__ = ["live_state", "router"]
