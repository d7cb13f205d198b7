"""Versioned scenario snapshots on every backend (AI-3)."""

from __future__ import annotations

from sqlalchemy import func, select

from autoinform import db
from autoinform.models import ScenarioVersion
from autoinform.runtime import Runtime
from autoinform.scenarios import parse_scenario
from autoinform.scenarios.store import snapshot, versions
from tests.scenarios.builders import MINIMAL

V1 = MINIMAL.format(name="test_scenario")
V2 = V1.replace("title: Тест", "title: Тест, вторая редакция")


def test_ai3_snapshot_is_idempotent_and_versions_increment(rt: Runtime) -> None:
    first = parse_scenario(V1, "test_scenario.yaml", expected_name="test_scenario")
    second = parse_scenario(V2, "test_scenario.yaml", expected_name="test_scenario")
    with db.transaction(rt.sessions) as s:
        a = snapshot(s, first)
        again = snapshot(s, first)
        assert again.id == a.id
    with db.transaction(rt.sessions) as s:
        b = snapshot(s, second)
        back = snapshot(s, first)  # re-running the old text reuses its version, it is not a new one
    assert (a.version, b.version, back.version) == (1, 2, 1)
    with rt.sessions() as s:
        stored = versions(s, "test_scenario")
        assert [(v.version, v.sha256) for v in stored] == [(1, first.sha256), (2, second.sha256)]
        assert stored[0].source == V1  # the exact text, byte for byte
        assert s.scalar(select(func.count()).select_from(ScenarioVersion)) == 2


def test_ai3_stored_source_parses_back_to_the_same_scenario(rt: Runtime) -> None:
    scenario = parse_scenario(V1, "test_scenario.yaml")
    with db.transaction(rt.sessions) as s:
        row_id = snapshot(s, scenario).id
    with rt.sessions() as s:
        row = s.get(ScenarioVersion, row_id)
        assert row is not None
        reparsed = parse_scenario(row.source, f"{row.name} v{row.version}", expected_name=row.name)
    assert reparsed.sha256 == scenario.sha256
    assert reparsed.spec == scenario.spec


def test_ai3_versions_are_per_name(rt: Runtime) -> None:
    other = parse_scenario(MINIMAL.format(name="other"), "other.yaml")
    with db.transaction(rt.sessions) as s:
        assert snapshot(s, parse_scenario(V1, "test_scenario.yaml")).version == 1
        assert snapshot(s, other).version == 1
