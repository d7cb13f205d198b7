"""Issue 12 (AI-15, AI-19): every API route x every role, allowed or refused as designed.

The expectations are written out here (EXPECTED) and compared with the code's one table
(autoinform/web/permissions.py) and with what the running app answers, so a route added without a
permission, a table changed by mistake, or a route checking something else all fail.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from autoinform.models import Role
from autoinform.web.permissions import PERMISSIONS, PERSONAL_DATA
from tests.web import access
from tests.web.access import Person

web_rt, people, app, client = access.web_rt, access.people, access.app, access.client  # fixtures

ALL = {"admin", "manager", "specialist", "operator", "viewer"}
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("GET", "/api/me"): ALL,
    ("GET", "/api/metrics"): ALL,
    ("GET", "/api/campaigns"): ALL,
    ("GET", "/api/campaigns/{campaign_id}"): ALL,
    ("POST", "/api/campaigns"): {"admin", "specialist"},
    ("POST", "/api/campaigns/{campaign_id}/approve"): {"admin", "manager"},
    ("POST", "/api/campaigns/{campaign_id}/start"): {"admin", "manager", "specialist"},
    ("POST", "/api/campaigns/{campaign_id}/pause"): {"admin", "manager", "specialist"},
    ("POST", "/api/campaigns/{campaign_id}/resume"): {"admin", "manager", "specialist"},
    ("POST", "/api/campaigns/{campaign_id}/cancel"): {"admin", "manager", "specialist"},
    ("GET", "/api/lists"): {"admin", "manager", "specialist", "viewer"},
    ("POST", "/api/lists"): {"admin", "manager", "specialist"},
    ("GET", "/api/stoplist"): {"admin", "manager", "specialist"},
    ("POST", "/api/stoplist"): {"admin", "manager", "specialist"},
    ("GET", "/api/results/{account}"): {"admin", "manager", "specialist", "operator"},
    ("GET", "/api/callbacks"): {"admin", "manager", "operator", "viewer"},
    ("POST", "/api/callbacks/{task_id}/take"): {"admin", "manager", "operator"},
    ("POST", "/api/callbacks/{task_id}/done"): {"admin", "manager", "operator"},
}


def api_routes(app: FastAPI) -> dict[tuple[str, str], dict[str, Any]]:
    """Every API route as the app publishes it (its OpenAPI schema), with its operation."""
    return {(method.upper(), path): op for path, ops in app.openapi()["paths"].items()
            for method, op in ops.items()}


def test_every_api_route_declares_a_permission_and_the_table_is_as_designed(app: FastAPI) -> None:
    routes = api_routes(app)
    assert set(routes) == set(EXPECTED)
    for key, op in routes.items():
        action = op.get("x-permission")
        assert action in PERMISSIONS, f"{key} declares no permission"
        assert {r.value for r in PERMISSIONS[action]} == EXPECTED[key], key
    assert {r.value for r in PERSONAL_DATA} == {"admin", "manager", "specialist"}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "300100000001" if m.group(0) == "{account}" else "999", path)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_every_route_with_every_role(client: TestClient, people: dict[Role, Person], role: Role) -> None:
    """A refused role gets 403 before anything is read or done; an allowed one gets past the check
    (here to 404 for a campaign or account that does not exist, or 422 for a missing body)."""
    person = people[role]
    for (method, path), allowed in EXPECTED.items():
        r = client.request(method, _concrete(path), headers=person.bearer)
        if role.value in allowed:
            assert r.status_code not in (401, 403), (method, path, role, r.text)
            assert r.status_code < 500, (method, path, role, r.text)
        else:
            assert r.status_code == 403, (method, path, role, r.status_code)
            assert f"{role.value} may not do this" in r.json()["detail"]


def test_no_route_answers_without_a_user(client: TestClient) -> None:
    for method, path in EXPECTED:
        r = client.request(method, _concrete(path))
        assert r.status_code == 401, (method, path)
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    approve = schema.json()["paths"]["/api/campaigns/{campaign_id}/approve"]["post"]
    assert approve["x-roles"] == ["admin", "manager"]
