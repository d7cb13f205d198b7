"""What every page shares: templates, the CSRF token seam, who may see personal data, errors.

Log-in, sessions and CSRF checking are the auth layer's (autoinform/web/auth.py and the
middleware that puts a CurrentUser on `request.state.user` and a token on
`request.state.csrf_token`); pages only read them, here, in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from autoinform.errors import AutoinformError, CampaignStateError, NotFoundError, PermissionDenied
from autoinform.logs import mask_destination, mask_text
from autoinform.models import Role
from autoinform.runtime import Runtime
from autoinform.users import PERSONAL_DATA_ROLES
from autoinform.web.auth import CurrentUser, csrf_token

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
# Who sees names and numbers in clear: one rule for pages, API and reports (AI-19, users.py).
SEES_PERSONAL = PERSONAL_DATA_ROLES
# Who does what on the pages (admin is allowed everywhere by auth.require).
FORMS = (Role.SPECIALIST,)  # upload lists, form campaigns
DECIDES = (Role.MANAGER,)  # approve or reject, start, pause, resume, cancel
STOPS = (Role.SPECIALIST, Role.MANAGER)  # upload the stop list ("paid today")


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def sees_personal(user: CurrentUser) -> bool:
    return user.role in SEES_PERSONAL


def may(user: CurrentUser, roles: tuple[Role, ...]) -> bool:
    return user.role is Role.ADMIN or user.role in roles


class Masker:
    """Names and contacts as this user may see them."""

    def __init__(self, clear: bool) -> None:
        self.clear = clear

    def name(self, value: str | None) -> str:
        return (value or "") if self.clear else mask_text(value or "")

    def contact(self, value: str | None) -> str:
        return (value or "") if self.clear else mask_destination(value or "")


def render(request: Request, template: str, user: CurrentUser, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    context |= {"user": user, "csrf_token": csrf_token(request), "may_form": may(user, FORMS),
                "may_decide": may(user, DECIDES), "may_stop": may(user, STOPS)}
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


def error_status(exc: AutoinformError) -> int:
    """A refused action shown on its page: whose fault, in HTTP terms."""
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, CampaignStateError):
        return 409
    return 400
