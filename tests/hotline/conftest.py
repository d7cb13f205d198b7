"""The hotline flow's fast tests: the transcript peer's FastAGI fixture and the memory backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoinform.config import HotlineSettings
from tests.hotline.memory_backend import MemoryBackend
from tests.ivr.conftest import agi_server

__all__ = ["agi_server"]

# The standard's 6.3.4 allows any hours; the tests use a long Monday-Saturday day (the issue's
# 19:59 / 20:01 cases) and Sunday closed.
TEST_HOURS = {d: "08:00-20:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat")}


@pytest.fixture
def backend(tmp_path: Path) -> MemoryBackend:
    return MemoryBackend(tmp_path / "recordings", HotlineSettings(hours=TEST_HOURS))
