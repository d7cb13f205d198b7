"""Issue 12 item 3: schemathesis against the published OpenAPI schema (/api/openapi.json), every
operation called with an admin's API token (every route lets an admin in): no answer is a 5xx.

The database has a list and a campaign, so generated ids sometimes reach real rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from autoinform.models import Role
from autoinform.runtime import Runtime, open_runtime
from autoinform.sample import SampleSpec, write_sample
from autoinform.web.app import create_app
from tests.web.access import Person, make_people, web_settings

STATE: dict[str, Any] = {}


@pytest.fixture(scope="module")
def api_rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    tmp: Path = tmp_path_factory.mktemp("schema")
    rt = open_runtime(web_settings(f"sqlite:///{tmp / 's.db'}", tmp))
    people: dict[Role, Person] = make_people(rt)
    STATE["admin"] = people[Role.ADMIN]
    app = create_app(rt)
    sample = tmp / "s.csv"
    write_sample(sample, SampleSpec(rows=12, seed=3, bad_share=0.2))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        spec = people[Role.SPECIALIST]
        assert c.post("/api/lists", headers=spec.bearer, data={"name": "L"},
                      files={"file": ("s.csv", sample.read_bytes(), "text/csv")}).status_code == 201
        assert c.post("/api/campaigns", headers=spec.bearer, json={
            "name": "C", "scenario": "debt_reminder", "list_name": "L", "channels": ["email"],
            "start_at": "2026-12-07T10:00:00+04:00", "end_at": "2026-12-11T20:00:00+04:00"}).status_code == 201
    STATE["app"] = app
    yield rt
    rt.close()


def test_no_operation_answers_5xx(api_rt: Runtime) -> None:
    admin: Person = STATE["admin"]
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", STATE["app"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 18  # every API route is in the schema (test_roles.EXPECTED)
    calls: dict[str, int] = {}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: Any) -> None:
            case.call_and_validate(headers=admin.bearer, checks=[not_a_server_error])
            calls[case.operation.label] = calls.get(case.operation.label, 0) + 1

        call()
    assert len(calls) == 18 and sum(calls.values()) > 100, calls
