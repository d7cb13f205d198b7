"""The campaigns page and one campaign's page: progress, approval and the lifecycle buttons
(AI-6, AI-15, issue 12 item 1). Every action is a POST form carrying the CSRF token and goes
through the domain functions in autoinform/campaigns.py, which keep their own checks (a manager
who is not the author approves; a refused step says why, here as on the command line)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from autoinform import campaigns, db
from autoinform.calendar import InformingWindow
from autoinform.errors import AutoinformError, NotFoundError
from autoinform.models import Channel
from autoinform.web.auth import CurrentUser, current_user, require
from autoinform.web.live import LiveHub, Topic, stream
from autoinform.web.pages import data
from autoinform.web.pages.common import DECIDES, Masker, error_status, render, runtime, sees_personal

router = APIRouter(include_in_schema=False)
Viewer = Annotated[CurrentUser, Depends(current_user)]
Manager = Annotated[CurrentUser, Depends(require(*DECIDES))]
ACTIONS = ("start", "pause", "resume", "cancel")


def live_state(session: Session, topic: Topic, *, window: InformingWindow | None = None) -> dict[str, Any]:
    """What the live stream sends for a topic (autoinform/web/live.py)."""
    kind, ident, clear = topic
    if kind == "campaigns":
        return data.overview(session)
    return data.board(session, ident, Masker(clear), window=window)


@router.get("/", response_class=HTMLResponse)
def campaigns_page(request: Request, user: Viewer) -> HTMLResponse:
    with runtime(request).sessions() as s:
        state = data.overview(s)
    return render(request, "campaigns.html", user, state=state)


def _campaign_page(request: Request, user: CurrentUser, campaign_id: int, *, status_code: int = 200,
                   error: str = "", refusal: dict[str, Any] | None = None) -> HTMLResponse:
    with runtime(request).sessions() as s:
        try:
            state = data.board(s, campaign_id, Masker(sees_personal(user)), window=runtime(request).window)
        except NotFoundError as exc:
            return render(request, "error.html", user, status_code=404, error=str(exc))
        history = data.decisions(s, campaign_id)
    return render(request, "campaign.html", user, status_code=status_code, state=state, history=history,
                  error=error, refusal=refusal, author=state["created_by"] == user.login)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(request: Request, campaign_id: int, user: Viewer) -> HTMLResponse:
    return _campaign_page(request, user, campaign_id)


def _refused(request: Request, user: CurrentUser, campaign_id: int, exc: AutoinformError) -> HTMLResponse:
    from autoinform.preflight import PreflightError

    refusal = exc.result.to_json() if isinstance(exc, PreflightError) else None
    return _campaign_page(request, user, campaign_id, status_code=error_status(exc), error=str(exc),
                          refusal=refusal)


def _done(campaign_id: int) -> RedirectResponse:
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/decision", response_class=HTMLResponse)
def decide(request: Request, campaign_id: int, user: Manager, decision: Annotated[str, Form()],
           comment: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """Approve or reject a draft, with a comment (required to reject)."""
    rt = runtime(request)
    try:
        with db.transaction(rt.sessions) as s:
            if decision == "approve":
                campaigns.approve(s, campaign_id, user.login, settings=rt.settings, comment=comment.strip())
            elif decision == "reject":
                campaigns.reject(s, campaign_id, user.login, comment=comment)
            else:
                raise AutoinformError(f"unknown decision {decision!r}: approve or reject")
    except AutoinformError as exc:
        return _refused(request, user, campaign_id, exc)
    return _done(campaign_id)


@router.post("/campaigns/{campaign_id}/{action}", response_class=HTMLResponse)
def act(request: Request, campaign_id: int, action: str, user: Manager) -> Response:
    """Start, pause, resume or cancel."""
    if action not in ACTIONS:
        return render(request, "error.html", user, status_code=404, error=f"no action {action!r}")
    rt = runtime(request)
    try:
        if action == "start":
            from autoinform.preflight import probe_channels

            with rt.sessions() as s:
                chain = [Channel(c) for c in campaigns.get(s, campaign_id).channels]
            probes = probe_channels(rt.settings, chain)  # outside the transaction: it may wait seconds
            with db.transaction(rt.sessions) as s:
                campaigns.start(s, campaign_id, user.login, settings=rt.settings, probes=probes)
        else:
            with db.transaction(rt.sessions) as s:
                getattr(campaigns, action)(s, campaign_id, user.login)
    except AutoinformError as exc:
        return _refused(request, user, campaign_id, exc)
    return _done(campaign_id)


def _sse(request: Request, topic: Topic) -> StreamingResponse:
    hub: LiveHub = request.app.state.live
    return StreamingResponse(stream(hub, topic), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/live/campaigns")
def live_campaigns(request: Request, user: Viewer) -> StreamingResponse:
    return _sse(request, ("campaigns", 0, False))


@router.get("/live/campaigns/{campaign_id}", response_model=None)
def live_campaign(request: Request, campaign_id: int, user: Viewer) -> Response:
    with runtime(request).sessions() as s:
        try:
            campaigns.get(s, campaign_id)
        except NotFoundError as exc:
            return render(request, "error.html", user, status_code=404, error=str(exc))
    return _sse(request, ("campaign", campaign_id, sees_personal(user)))
