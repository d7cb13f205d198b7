"""Fixtures for scenario tests: writing scenario files (valid or broken) to a temporary folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autoinform.scenarios import Scenario, load_scenario
from tests.scenarios.builders import MINIMAL, WriteScenario


@pytest.fixture
def write_scenario(tmp_path: Path) -> WriteScenario:
    def write(text: str, name: str = "test_scenario") -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def minimal(write_scenario: WriteScenario) -> Scenario:
    return load_scenario(write_scenario(MINIMAL.format(name="test_scenario")))
