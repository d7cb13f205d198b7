"""Report downloads on the pages (AI-5, AI-19, issue 12 item 4): a campaign's or a period's report
as CSV, XLSX or PDF through render_report, the same files `autoinform report` writes, and the
summary's charts as PNG images.

Every role may download; customers' names and contacts are in clear only for PERSONAL_DATA roles
(the one rule, autoinform/users.py), masked for the others. render_report writes the export to the
audit log with who, what and whether it was personal. The charts hold counts only.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from autoinform import db
from autoinform.errors import AutoinformError
from autoinform.models import utcnow
from autoinform.report_files.render import FORMATS, render_report
from autoinform.report_files.scope import ReportSpec
from autoinform.web.auth import CurrentUser, current_user
from autoinform.web.pages.common import error_status, render, runtime, sees_personal

router = APIRouter(include_in_schema=False)
Anyone = Annotated[CurrentUser, Depends(current_user)]
CHART_KEYS = ("by_channel", "by_division", "by_hour", "by_day")


def spec_for(request: Request, user: CurrentUser, *, campaign_id: int | None = None, since: date | None = None,
             until: date | None = None) -> ReportSpec:
    settings = runtime(request).settings
    return ReportSpec(campaign_id=campaign_id, since=since, until=until, actor=user.login,
                      personal=sees_personal(user), timezone=settings.timezone,
                      answer_target_s=settings.hotline.operator_wait_limit_s)


def _download(request: Request, user: CurrentUser, fmt: str, **scope: object) -> Response:
    if fmt not in FORMATS:
        return render(request, "error.html", user, status_code=404,
                      error=f"no report format {fmt!r}: one of {', '.join(FORMATS)}")
    try:
        spec = spec_for(request, user, **scope)  # type: ignore[arg-type]
        with db.transaction(runtime(request).sessions) as s:  # the audit entry commits with the file
            body, name, media = render_report(s, spec, fmt)
    except AutoinformError as exc:
        return render(request, "error.html", user, status_code=error_status(exc), error=str(exc))
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                     "Cache-Control": "no-store"})


def _chart(request: Request, user: CurrentUser, key: str, **scope: object) -> Response:
    from autoinform.report_files.charts import draw_one
    from autoinform.reports import build_summary

    if key not in CHART_KEYS:
        return render(request, "error.html", user, status_code=404, error=f"no chart {key!r}")
    try:
        spec = spec_for(request, user, **scope)  # type: ignore[arg-type]
        with runtime(request).sessions() as s:
            summary = build_summary(s, spec)
    except AutoinformError as exc:
        return render(request, "error.html", user, status_code=error_status(exc), error=str(exc))
    return Response(draw_one(summary, key).png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/campaigns/{campaign_id}/report.{fmt}")
def campaign_report(request: Request, campaign_id: int, fmt: str, user: Anyone) -> Response:
    return _download(request, user, fmt, campaign_id=campaign_id)


@router.get("/campaigns/{campaign_id}/charts/{key}.png")
def campaign_chart(request: Request, campaign_id: int, key: str, user: Anyone) -> Response:
    return _chart(request, user, key, campaign_id=campaign_id)


Since = Annotated[date, Query(alias="from")]
Until = Annotated[date, Query(alias="to")]


@router.get("/reports/period.{fmt}")
def period_report(request: Request, fmt: str, user: Anyone, since: Since, until: Until) -> Response:
    return _download(request, user, fmt, since=since, until=until)


@router.get("/reports/charts/{key}.png")
def period_chart(request: Request, key: str, user: Anyone, since: Since, until: Until) -> Response:
    return _chart(request, user, key, since=since, until=until)


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, user: Anyone, since: Annotated[date | None, Query(alias="from")] = None,
                 until: Annotated[date | None, Query(alias="to")] = None) -> HTMLResponse:
    """A period's report: the form, the downloads and the charts (default: this month so far)."""
    today = utcnow().astimezone(runtime(request).settings.tz).date()
    until = until or today
    since = since or until.replace(day=1)
    error = "" if since <= until else f"the period starts ({since}) after it ends ({until})"
    return render(request, "reports.html", user, status_code=400 if error else 200, since=since, until=until,
                  error=error, formats=list(FORMATS), charts=CHART_KEYS, personal=sees_personal(user),
                  week_ago=today - timedelta(days=6))
