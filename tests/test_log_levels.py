"""No scheduler chatter at INFO (issue 9 item 2): APScheduler's "Running job …" lines every few
seconds are kept out of the engine's log unless log_level is DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from autoinform import logs


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root, aps = logging.getLogger(), logging.getLogger("apscheduler")
    saved = (root.handlers[:], root.level, aps.level)
    yield
    root.handlers[:], _, _ = saved
    root.setLevel(saved[1])
    aps.setLevel(saved[2])


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("WARNING", False), ("DEBUG", True)])
def test_apscheduler_info_only_at_debug(level: str, shown: bool) -> None:
    logs.configure(level)
    assert logging.getLogger("apscheduler.scheduler").isEnabledFor(logging.INFO) is shown
    assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.WARNING)
    assert logging.getLogger("autoinform.dispatch").isEnabledFor(logging.INFO) is (level != "WARNING")
