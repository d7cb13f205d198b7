"""A specialist forms a campaign from a stored scenario and an imported list (AI-7, AI-15): the
same checks as `autoinform campaigns create` (the scenario's channels and customer groups, the
preflight); it stays a draft until a manager who is not its author approves it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from autoinform import campaigns, db
from autoinform.errors import AutoinformError
from autoinform.models import Channel, ContactList
from autoinform.runtime import Runtime
from autoinform.web.auth import CurrentUser, require
from autoinform.web.pages.common import FORMS, error_status, render, runtime

router = APIRouter(include_in_schema=False)
Former = Annotated[CurrentUser, Depends(require(*FORMS))]
SCENARIO_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")


def scenario_names(rt: Runtime) -> list[str]:
    return sorted(p.stem for p in rt.settings.scenarios_dir.glob("*.yaml") if SCENARIO_NAME.fullmatch(p.stem))


def _form(request: Request, user: CurrentUser, *, status_code: int = 200, error: str = "",
          refusal: dict[str, Any] | None = None, values: dict[str, Any] | None = None) -> HTMLResponse:
    rt = runtime(request)
    with rt.sessions() as s:
        lists = s.scalars(select(ContactList).where(ContactList.complete).order_by(ContactList.id.desc())).all()
    return render(request, "campaign_new.html", user, status_code=status_code, error=error, refusal=refusal,
                  lists=lists, scenarios=scenario_names(rt), channels=[c.value for c in Channel],
                  values=values or {}, tz=str(rt.settings.tz))


@router.get("/campaigns/new", response_class=HTMLResponse)
def new_campaign(request: Request, user: Former) -> HTMLResponse:
    return _form(request, user)


def _instant(text: str, what: str, rt: Runtime) -> datetime:
    """A date-time field (datetime-local: no offset, so in the configured time zone)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise AutoinformError(f"{what}: not a date and time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=rt.settings.tz)


@router.post("/campaigns", response_class=HTMLResponse)
def form_campaign(request: Request, user: Former, name: Annotated[str, Form(min_length=1, max_length=200)],
                  scenario: Annotated[str, Form()], list_id: Annotated[int, Form()],
                  start: Annotated[str, Form()], end: Annotated[str, Form()],
                  channel1: Annotated[str, Form()], channel2: Annotated[str, Form()] = "",
                  channel3: Annotated[str, Form()] = "") -> Response:
    """The fallback chain is up to three channels in order (the first tried first)."""
    from autoinform.preflight import PreflightError
    from autoinform.scenarios.loader import load_scenario
    from autoinform.scenarios.store import snapshot

    rt = runtime(request)
    values = {"name": name, "scenario": scenario, "list_id": list_id, "start": start, "end": end,
              "chain": [channel1, channel2, channel3]}
    try:
        if scenario not in scenario_names(rt):
            raise AutoinformError(f"no scenario named {scenario!r}")
        try:
            chain = [Channel(c) for c in (channel1, channel2, channel3) if c]
        except ValueError:
            raise AutoinformError("a channel is one of phone, sms, email") from None
        sc = load_scenario(rt.settings.scenarios_dir / f"{scenario}.yaml")
        with db.transaction(rt.sessions) as s:
            lst = s.get(ContactList, list_id)
            if lst is None:
                raise AutoinformError(f"no list {list_id}")
            c = campaigns.create(s, name=name.strip(), scenario=snapshot(s, sc), contact_list=lst, channels=chain,
                                 start_at=_instant(start, "start", rt), end_at=_instant(end, "end", rt),
                                 actor=user.login, supported=list(sc.channels), groups=sc.spec.groups,
                                 settings=rt.settings)
            cid = c.id
    except PreflightError as exc:
        return _form(request, user, status_code=400, error=str(exc), refusal=exc.result.to_json(), values=values)
    except AutoinformError as exc:
        return _form(request, user, status_code=error_status(exc), error=str(exc), values=values)
    return RedirectResponse(f"/campaigns/{cid}", status_code=303)
