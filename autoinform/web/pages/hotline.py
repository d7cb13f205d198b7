"""The hotline now (HL-4, HL-5, issue 12 item 1): callers in the IVR, callers waiting for an
operator and for how long against the 40 s target, and today's breaches. The first render and the
live stream use `hotline_now`, so the page never shows numbers the stream would not.

Today is the hotline's local day (settings.timezone). Callers' numbers are personal data: in clear
for PERSONAL_DATA roles, masked for operators and viewers (AI-19).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from autoinform.hotline.calls import queue_stats
from autoinform.logs import mask_phone
from autoinform.models import HotlineCall, HotlineQueueEvent, Role, utcnow
from autoinform.web.auth import CurrentUser, require
from autoinform.web.live import LiveHub, stream
from autoinform.web.pages.common import render, runtime, sees_personal

router = APIRouter(include_in_schema=False)
# Who watches the hotline: its operators, their managers, viewers (masked); admin always.
WATCHERS = (Role.OPERATOR, Role.MANAGER, Role.VIEWER)
Watcher = Annotated[CurrentUser, Depends(require(*WATCHERS))]
SHOWN = 200  # rows per table: a page, not a report
_ENDED = ("connect", "abandon", "timeout")


def day_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight of `now`'s day, as an aware instant."""
    return datetime.combine(now.astimezone(tz).date(), time(), tz)


def hotline_now(session: Session, *, clear: bool, tz: ZoneInfo, limit_s: float,
                now: datetime | None = None) -> dict[str, Any]:
    """Calls in the IVR (started today, not ended, not in the operator queue), callers in the
    operator queue (joined today, neither connected, abandoned nor timed out) with their wait, and
    today's queue figures."""
    now = now or utcnow()
    since = day_start(now, tz)
    number = (lambda v: v) if clear else mask_phone
    e = HotlineQueueEvent
    queued = select(e.call_id).where(e.at >= since)  # a caller in the queue has left the menu
    calls = session.scalars(select(HotlineCall).where(HotlineCall.started_at >= since,
                                                      HotlineCall.ended_at.is_(None),
                                                      HotlineCall.call_id.not_in(queued))
                            .order_by(HotlineCall.started_at).limit(SHOWN)).all()
    in_ivr = [{"call_id": c.call_id, "caller": number(c.caller), "started_at": _local(c.started_at, tz),
               "seconds": round((now - c.started_at).total_seconds()), "menu": " › ".join(map(str, c.menu_path)),
               "account": c.account or ""} for c in calls]
    left = select(e.call_id).where(e.at >= since, e.kind.in_(_ENDED))
    joins = session.scalars(select(e).where(e.at >= since, e.kind == "join", e.call_id.not_in(left))
                            .order_by(e.at).limit(SHOWN)).all()
    callers = dict(session.execute(select(HotlineCall.call_id, HotlineCall.caller)
                                   .where(HotlineCall.call_id.in_([j.call_id for j in joins]))).all())
    waiting = []
    for j in joins:
        waited = max(0, round((now - j.at).total_seconds()))
        waiting.append({"call_id": j.call_id, "caller": number(callers.get(j.call_id, "")), "queue": j.queue,
                        "joined_at": _local(j.at, tz), "joined_ts": j.at.timestamp(), "waited_s": waited,
                        "over": waited > limit_s})
    stats = queue_stats(session, since, now + timedelta(seconds=1), limit_s)
    return {"now": _local(now, tz), "now_ts": now.timestamp(), "limit_s": limit_s, "in_ivr": in_ivr,
            "waiting": waiting, "waiting_over": sum(w["over"] for w in waiting),
            "today": {"joined": stats.joined, "connected": stats.connected, "abandoned": stats.abandoned,
                      "timed_out": stats.timed_out, "breaches": stats.breaches,
                      "mean_hold_s": None if stats.mean_hold_s is None else round(stats.mean_hold_s, 1),
                      "max_hold_s": None if stats.max_hold_s is None else round(stats.max_hold_s, 1)}}


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%H:%M:%S")


def _state(request: Request, user: CurrentUser) -> dict[str, Any]:
    rt = runtime(request)
    with rt.sessions() as s:
        return hotline_now(s, clear=sees_personal(user), tz=rt.settings.tz,
                           limit_s=rt.settings.hotline.operator_wait_limit_s)


@router.get("/hotline", response_class=HTMLResponse)
def hotline_page(request: Request, user: Watcher) -> HTMLResponse:
    return render(request, "hotline.html", user, state=_state(request, user))


@router.get("/live/hotline")
def live_hotline(request: Request, user: Watcher) -> StreamingResponse:
    hub: LiveHub = request.app.state.live
    return StreamingResponse(stream(hub, ("hotline", 0, sees_personal(user))), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
