"""Routine campaigns on the web (issue 14 item 4): the templates, one template with its history,
create, pause and resume, and the approval requests addressed to the user (item 3: "notifies the
approvers ... and the web app's list"). The same service functions as `autoinform templates`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from autoinform import db
from autoinform.errors import AutoinformError, NotFoundError
from autoinform.models import Channel, Role
from autoinform.templates import service
from autoinform.templates.periods import schedule_from_text
from autoinform.web.auth import CurrentUser, current_user, require
from autoinform.web.pages.common import error_status, render, runtime

router = APIRouter(include_in_schema=False)
Viewer = Annotated[CurrentUser, Depends(current_user)]
Keeper = Annotated[CurrentUser, Depends(require(Role.SPECIALIST, Role.MANAGER))]  # as service.create


def _list_page(request: Request, user: CurrentUser, *, status_code: int = 200, error: str = "") -> HTMLResponse:
    with runtime(request).sessions() as s:
        templates = service.all_templates(s)
        notices = service.notices_for(s, user.login)
    return render(request, "campaign_templates.html", user, status_code=status_code, templates=templates,
                  notices=notices, error=error, may_keep=user.role in (Role.ADMIN, Role.SPECIALIST, Role.MANAGER),
                  channels=[c.value for c in Channel])


@router.get("/templates", response_class=HTMLResponse)
def templates_page(request: Request, user: Viewer) -> HTMLResponse:
    return _list_page(request, user)


@router.post("/templates", response_model=None)
def create_template(request: Request, user: Keeper, name: Annotated[str, Form(max_length=100)],
                    scenario: Annotated[str, Form(max_length=100)], channels: Annotated[str, Form(max_length=40)],
                    source: Annotated[str, Form(max_length=300)], days: Annotated[str, Form(max_length=10)],
                    hours: Annotated[str, Form(max_length=20)], approvers: Annotated[str, Form(max_length=500)],
                    period: Annotated[str, Form(max_length=10)] = "monthly",
                    form_days_before: Annotated[int, Form(ge=0, le=28)] = 2,
                    notify: Annotated[str, Form(max_length=1000)] = "") -> Response:
    from autoinform.scenarios import load_scenario

    rt = runtime(request)
    try:
        chain = [Channel(c.strip()) for c in channels.split(",") if c.strip()]
    except ValueError:
        return _list_page(request, user, status_code=400,
                          error=f"каналы — цепочка из phone, sms, email через запятую: {channels!r}")
    try:
        schedule = schedule_from_text(period, days, hours, form_days_before)
        scenario_file = rt.settings.scenarios_dir / f"{scenario}.yaml"
        if "/" in scenario or not scenario_file.exists():
            raise NotFoundError("scenario", scenario)
        sc = load_scenario(scenario_file)
        with db.transaction(rt.sessions) as s:
            t = service.create(s, name=name, scenario=scenario, channels=chain, source=source, schedule=schedule,
                               approvers=[a.strip() for a in approvers.split(",") if a.strip()],
                               notify_emails=notify.replace(";", ",").split(","), actor=user.login,
                               system_login=rt.settings.templates.system_login,
                               scenario_channels=list(sc.channels))
            template_id = t.id
    except AutoinformError as exc:
        return _list_page(request, user, status_code=error_status(exc), error=str(exc))
    return RedirectResponse(f"/templates/{template_id}", status_code=303)


def _template_page(request: Request, user: CurrentUser, template_id: int, *, status_code: int = 200,
                   error: str = "") -> HTMLResponse:
    rt = runtime(request)
    with rt.sessions() as s:
        try:
            data = service.show(s, template_id, rt.settings.tz)
            runs = service.history(s, template_id)
        except NotFoundError as exc:
            return render(request, "error.html", user, status_code=404, error=str(exc))
    return render(request, "campaign_template.html", user, status_code=status_code, t=data, runs=runs,
                  error=error, may_keep=user.role in (Role.ADMIN, Role.SPECIALIST, Role.MANAGER))


@router.get("/templates/{template_id}", response_class=HTMLResponse)
def template_page(request: Request, user: Viewer, template_id: int) -> HTMLResponse:
    return _template_page(request, user, template_id)


@router.post("/templates/{template_id}/{action}", response_model=None)
def pause_or_resume(request: Request, user: Keeper, template_id: int, action: str) -> Response:
    operation = {"pause": service.pause, "resume": service.resume}.get(action)
    if operation is None:
        return _template_page(request, user, template_id, status_code=404, error=f"no action {action!r}")
    try:
        with db.transaction(runtime(request).sessions) as s:
            operation(s, template_id, user.login)
    except AutoinformError as exc:
        return _template_page(request, user, template_id, status_code=error_status(exc), error=str(exc))
    return RedirectResponse(f"/templates/{template_id}", status_code=303)


@router.post("/templates/notices/{notice_id}/read", response_model=None)
def notice_read(request: Request, user: Viewer, notice_id: int) -> Response:
    try:
        with db.transaction(runtime(request).sessions) as s:
            service.mark_read(s, notice_id, user.login)
    except AutoinformError as exc:
        return _list_page(request, user, status_code=error_status(exc), error=str(exc))
    return RedirectResponse("/templates", status_code=303)
