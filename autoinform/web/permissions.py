"""Who may do what on the web (issue 12, AI-15, AI-19): one table, read by every API route
(`allow(action)`) and by the tests that try every route with every role.

Admin may do everything (auth.require adds it). The domain functions check roles again
(autoinform/campaigns.py, users.require_role), so the command line and the web agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from autoinform.models import Role
from autoinform.users import PERSONAL_DATA_ROLES
from autoinform.web.auth import CurrentUser, require

A, M, S, OP = Role.ADMIN, Role.MANAGER, Role.SPECIALIST, Role.OPERATOR
V = Role.VIEWER
EVERYONE = frozenset(Role)

PERMISSIONS: dict[str, frozenset[Role]] = {
    "me": EVERYONE,
    "metrics.read": EVERYONE,
    "campaigns.read": EVERYONE,  # counts by state, outcome and reason: no personal data
    "campaigns.create": frozenset({A, S}),  # AI-15: a specialist forms
    "campaigns.approve": frozenset({A, M}),  # AI-15: a manager, never the author (campaigns.approve)
    "campaigns.run": frozenset({A, S, M}),  # start, pause, resume, cancel
    "lists.read": frozenset({A, S, M, V}),  # counts only
    "lists.import": frozenset({A, S, M}),
    "stoplist.read": frozenset({A, S, M}),
    "stoplist.add": frozenset({A, S, M}),
    # A customer's notices: names, numbers and addresses in clear for PERSONAL_DATA roles (and the
    # export audited), masked for the others allowed here.
    "results.read": frozenset({A, M, S, OP}),
    # issue 12: hotline callback tasks. Callers' numbers in clear for PERSONAL_DATA roles and for
    # the operator working the task (they must call it); masked for the others.
    "callbacks.read": frozenset({A, M, OP, V}),
    "callbacks.work": frozenset({A, M, OP}),  # take, close with an outcome
}

# Roles that see customers' personal data unmasked (AI-19, one rule for the API, the pages and the
# reports); every such API answer and export is audited.
PERSONAL_DATA = PERSONAL_DATA_ROLES


def allow(action: str) -> Callable[[Request], CurrentUser]:
    return require(*PERMISSIONS[action])


def route_options(action: str) -> dict[str, Any]:
    """Keyword arguments of an API route: its permission as a dependency and in the OpenAPI schema."""
    roles = sorted(r.value for r in PERMISSIONS[action])
    return {"dependencies": [Depends(allow(action))],
            "openapi_extra": {"x-permission": action, "x-roles": roles},
            "responses": {401: {"description": "no or bad API token or session"},
                          403: {"description": f"allowed to: {', '.join(roles)}"}}}
