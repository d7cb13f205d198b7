"""Server-rendered pages of the web app (issue 12 item 1): campaigns, one campaign, lists and the
stop list, the hotline now, callback tasks and report downloads, with live updates by Server-Sent
Events (autoinform/web/live.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session

from autoinform.runtime import Runtime
from autoinform.web.live import LiveHub, Topic

STATIC = Path(__file__).resolve().parent.parent / "static"


def install(app: FastAPI, rt: Runtime, *, live_poll_s: float = 0.2) -> None:
    """Add the pages, their static files and the process's one live hub to `app`."""
    from autoinform.web.pages import callbacks, campaigns, desk, forming, hotline, lists, reports, templates_page
    from autoinform.web.pages.campaigns import live_state

    app.state.runtime = rt
    window = rt.window
    readings = rt.settings.desk.recent_readings

    def compute(s: Session, topic: Topic) -> dict[str, Any]:
        # The hotline now and the callbacks list (issue 12) and an operator's desk (issue 13) are
        # topics of their own; the rest are campaigns'.
        if topic[0] == "hotline":
            return hotline.hotline_now(s, clear=topic[2], tz=rt.settings.tz,
                                       limit_s=rt.settings.hotline.operator_wait_limit_s)
        if topic[0] == "callbacks":
            return callbacks.signature(s)
        if topic[0] == desk.KIND:
            return desk.live_state(s, topic, readings=readings)
        return live_state(s, topic, window=window)
    app.state.live = LiveHub(rt, compute, poll_s=live_poll_s)
    if not any(getattr(r, "path", None) == "/static" for r in app.routes):
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(forming.router)  # before campaigns: /campaigns/new is not a campaign id
    app.include_router(campaigns.router)
    app.include_router(lists.router)
    app.include_router(templates_page.router)  # routine campaigns (issue 14)
    app.include_router(hotline.router)
    app.include_router(callbacks.router)
    app.include_router(reports.router)
    app.include_router(desk.router)  # issue 13: /desk, /live/desk, /desk/supervisor
