"""The JSON API under /api (issue 12 item 3): campaigns, list import, stop list, results, metrics.

Every route declares its permission (permissions.py) and calls the same domain functions as the
command line, acting as the authenticated user (a session or an API token). Personal data leaves
only to PERSONAL_DATA roles, and each such answer is in the audit log (AI-19); others get it masked.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from autoinform import campaigns
from autoinform.db import transaction
from autoinform.errors import (
    AuthenticationError,
    AutoinformError,
    CampaignStateError,
    NotFoundError,
    PermissionDenied,
)
from autoinform.hotline.states import TaskOutcome
from autoinform.logs import mask_destination
from autoinform.models import Campaign, Channel, ContactList
from autoinform.runtime import Runtime
from autoinform.web.auth import CurrentUser, current_user
from autoinform.web.permissions import PERSONAL_DATA, route_options

Me = Annotated[CurrentUser, Depends(current_user)]
CampaignId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]  # the column is a 32-bit integer on PostgreSQL
TaskId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]  # a hotline task (32-bit on PostgreSQL too)
UPLOAD_SUFFIXES = (".csv", ".txt", ".xlsx")


class CampaignIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scenario: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="scenario name (scenarios/NAME.yaml)")
    list_name: str = Field(min_length=1, max_length=200, description="imported contact list name")
    channels: list[Channel] = Field(min_length=1, max_length=3, description="fallback chain")
    start_at: AwareDatetime
    end_at: AwareDatetime


def api_router(rt: Runtime, stats: Mapping[str, object]) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["api"])

    @router.get("/me", **route_options("me"))
    def me(user: Me, request: Request) -> dict[str, str | None]:
        """Who is asking; from a session, also the CSRF token its scripts send as X-CSRF-Token."""
        return {"login": user.login, "role": user.role.value, "via": user.via,
                "csrf_token": getattr(request.state, "csrf_token", None)}

    @router.get("/metrics", **route_options("metrics.read"))
    def metrics() -> dict[str, Any]:
        return {name: dict(vars(counters)) for name, counters in stats.items()}

    @router.get("/campaigns", **route_options("campaigns.read"))
    def list_campaigns() -> list[dict[str, Any]]:
        with rt.sessions() as s:
            return [campaigns.progress(s, cid) for cid in
                    s.scalars(select(Campaign.id).order_by(Campaign.id.desc()))]

    @router.get("/campaigns/{campaign_id}", **route_options("campaigns.read"))
    def campaign(campaign_id: CampaignId) -> dict[str, Any]:
        with rt.sessions() as s:
            return campaigns.progress(s, campaign_id)

    @router.post("/campaigns", status_code=201, **route_options("campaigns.create"))
    def create_campaign(body: CampaignIn, user: Me) -> dict[str, Any]:
        from autoinform.scenarios import load_scenario
        from autoinform.scenarios.store import snapshot

        sc = load_scenario(rt.settings.scenarios_dir / f"{body.scenario}.yaml")
        with transaction(rt.sessions) as s:
            lst = s.scalar(select(ContactList).where(ContactList.name == body.list_name))
            if lst is None:
                raise NotFoundError("list", body.list_name)
            c = campaigns.create(s, name=body.name, scenario=snapshot(s, sc), contact_list=lst,
                                 channels=body.channels, start_at=body.start_at, end_at=body.end_at,
                                 actor=user.login, supported=list(sc.channels), groups=sc.spec.groups,
                                 settings=rt.settings)
            cid = c.id
        with rt.sessions() as s:
            return campaigns.progress(s, cid)

    @router.post("/campaigns/{campaign_id}/approve", **route_options("campaigns.approve"))
    def approve(campaign_id: CampaignId, user: Me) -> dict[str, Any]:
        """A manager other than the campaign's author (AI-15); the preflight runs again."""
        with transaction(rt.sessions) as s:
            campaigns.approve(s, campaign_id, user.login, settings=rt.settings)
        return _progress(rt, campaign_id)

    @router.post("/campaigns/{campaign_id}/start", **route_options("campaigns.run"))
    def start(campaign_id: CampaignId, user: Me) -> dict[str, Any]:
        from autoinform.preflight import probe_channels

        with rt.sessions() as s:
            chain = [Channel(c) for c in campaigns.get(s, campaign_id).channels]
        probes = probe_channels(rt.settings, chain)  # outside the transaction: it may wait seconds
        with transaction(rt.sessions) as s:
            campaigns.start(s, campaign_id, user.login, settings=rt.settings, probes=probes)
        return _progress(rt, campaign_id)

    def step(operation: Callable[[Session, int, str], object]) -> Callable[..., dict[str, Any]]:
        def run(campaign_id: CampaignId, user: Me) -> dict[str, Any]:
            with transaction(rt.sessions) as s:
                operation(s, campaign_id, user.login)
            return _progress(rt, campaign_id)
        return run

    for name in ("pause", "resume", "cancel"):
        router.add_api_route(f"/campaigns/{{campaign_id}}/{name}", step(getattr(campaigns, name)),
                             methods=["POST"], name=name, summary=f"{name.capitalize()} a campaign",
                             **route_options("campaigns.run"))

    @router.get("/lists", **route_options("lists.read"))
    def lists() -> list[dict[str, Any]]:
        from autoinform.importing.queries import all_lists

        with rt.sessions() as s:
            return all_lists(s)

    @router.post("/lists", status_code=201, **route_options("lists.import"))
    def import_list(file: Annotated[UploadFile, File(description="CSV (UTF-8/CP1251) or XLSX export")],
                    name: Annotated[str, Form(min_length=1, max_length=200)], user: Me) -> dict[str, Any]:
        """Import a billing export as a contact list; the answer is the import's accounting
        (read = imported + merged + rejected) with its rejections counted."""
        from autoinform.importing.importer import import_list as run_import

        with _saved(rt, file) as path:
            return run_import(rt, path, name, created_by=user.login).to_dict()

    @router.get("/stoplist", **route_options("stoplist.read"))
    def stoplist(account: Annotated[str | None, Query(max_length=32)] = None,
                 limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[dict[str, Any]]:
        from autoinform.results import list_stops

        with rt.sessions() as s:
            return list_stops(s, account=account, limit=limit)

    @router.post("/stoplist", status_code=201, **route_options("stoplist.add"))
    def add_stoplist(file: Annotated[UploadFile, File(description="accounts, one a line, or a CSV")],
                     user: Me, reason: Annotated[str, Form(max_length=64)] = "paid") -> dict[str, Any]:
        """Accounts that paid (or moved out): their pending notices end negative with `reason`.
        Lines that are not accounts and accounts nobody has are reported, the rest added."""
        from autoinform.results import add_stops, read_stop_file, stop_reason, unknown_accounts

        try:
            reason = stop_reason(reason)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        with _saved(rt, file) as path:
            read = read_stop_file(path)
        with transaction(rt.sessions) as s:
            unknown = unknown_accounts(s, read.accounts)
            missing = set(unknown)
            known = [a for a in read.accounts if a not in missing]
            n = add_stops(s, known, reason=reason, source=_filename(file), actor=user.login,
                          rejected=len(read.rejected) + len(unknown))
        return {"added": n, "reason": reason, "duplicates": read.duplicates,
                "rejected": [asdict(b) for b in read.rejected], "unknown_accounts": unknown}

    @router.get("/results/{account}", **route_options("results.read"))
    def results(account: Annotated[str, PathParam(max_length=32)], user: Me) -> dict[str, Any]:
        """Every attempt made for the account. Destinations and message texts are personal data:
        in clear for managers and admins (the answer is in the audit log), masked for the others."""
        from autoinform.results import account_history
        from autoinform.users import audit

        with transaction(rt.sessions) as s:
            rows = account_history(s, account)
            if user.role in PERSONAL_DATA:
                audit(s, user.login, "results.export", "account", account, rows=len(rows), via="api")
                return {"account": account, "masked": False, "attempts": rows}
        return {"account": account, "masked": True, "attempts": [_masked(r) for r in rows]}

    # --- issue 12: hotline callback tasks (the callbacks page's work, autoinform/web/pages/callbacks.py)

    @router.get("/callbacks", **route_options("callbacks.read"))
    def callbacks(user: Me, limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> list[dict[str, Any]]:
        """Tasks not done yet, overdue first, then by deadline; any caller's number given in clear
        is in the audit log (AI-19)."""
        from autoinform.users import audit
        from autoinform.web.pages.callbacks import task_rows

        with transaction(rt.sessions) as s:
            rows = task_rows(s, user, tz=rt.settings.tz, limit=limit)
            clear = [r["id"] for r in rows if r["caller_clear"]]
            if clear:
                audit(s, user.login, "callbacks.export", "hotline_task", ",".join(map(str, clear))[:64],
                      rows=len(clear), via="api")
        return rows

    @router.post("/callbacks/{task_id}/take", **route_options("callbacks.work"))
    def take_callback(task_id: TaskId, user: Me) -> dict[str, Any]:
        from autoinform.web.pages.callbacks import take

        take(rt.sessions, task_id, user)
        return _task(rt, task_id, user)

    @router.post("/callbacks/{task_id}/done", **route_options("callbacks.work"))
    def close_callback(task_id: TaskId, body: CallbackDone, user: Me) -> dict[str, Any]:
        from autoinform.web.pages.callbacks import close

        close(rt.sessions, task_id, user, body.outcome.value, body.note)
        return _task(rt, task_id, user)

    return router


class CallbackDone(BaseModel):
    outcome: TaskOutcome
    note: str = Field("", max_length=1000)


def _task(rt: Runtime, task_id: int, user: CurrentUser) -> dict[str, Any]:
    from autoinform.hotline import tasks
    from autoinform.models import utcnow
    from autoinform.web.pages.callbacks import sees_caller

    with rt.sessions() as s:
        row = tasks.get(s, task_id)
        return tasks.as_dict(row, utcnow(), mask=not sees_caller(user, row))


def _progress(rt: Runtime, campaign_id: int) -> dict[str, Any]:
    with rt.sessions() as s:
        return campaigns.progress(s, campaign_id)


def _masked(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "destination": mask_destination(row["destination"] or ""), "content": None}


def _filename(file: UploadFile) -> str:
    """The uploaded file's own name, reduced to safe characters (it is stored as the source)."""
    name = Path(file.filename or "upload").name
    return re.sub(r"[^\w.\- ]", "_", name)[:200] or "upload"


class _saved:
    """The upload written to a private temporary directory under its own name, removed after."""

    def __init__(self, rt: Runtime, file: UploadFile) -> None:
        self.file = file
        self.dir = rt.settings.var_dir / "uploads"

    def __enter__(self) -> Path:
        name = _filename(self.file)
        if not name.lower().endswith(UPLOAD_SUFFIXES):
            raise HTTPException(422, f"{name}: a .csv, .txt or .xlsx file is expected")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._tmp = tempfile.TemporaryDirectory(dir=self.dir)
        path = Path(self._tmp.name) / name
        with path.open("wb") as out:
            while chunk := self.file.file.read(1 << 20):
                out.write(chunk)
        return path

    def __exit__(self, *exc: object) -> None:
        self._tmp.cleanup()


def install_error_handlers(app: FastAPI) -> None:
    """Domain errors as HTTP answers: the message the command line would print, never a 500."""
    from autoinform.preflight import PreflightError

    def handler(status: int) -> Any:
        async def answer(request: Request, exc: Exception) -> JSONResponse:
            body: dict[str, Any] = {"detail": str(exc)}
            if isinstance(exc, PreflightError):
                body["preflight"] = exc.result.to_json()
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return JSONResponse(body, status_code=status, headers=headers)
        return answer

    for exc_type, status in ((AuthenticationError, 401), (PermissionDenied, 403), (NotFoundError, 404),
                             (CampaignStateError, 409), (PreflightError, 422), (AutoinformError, 422)):
        app.add_exception_handler(exc_type, handler(status))
