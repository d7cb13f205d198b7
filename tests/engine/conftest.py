"""Fixtures shared by the engine tests."""

from __future__ import annotations

import pytest

from autoinform.config import ChannelLimits, DispatchSettings
from autoinform.runtime import Runtime
from tests.engine.builders import users


@pytest.fixture
def fast_rt(rt: Runtime) -> Runtime:
    """A migrated database (both backends) with users and a dispatcher tuned for quick tests."""
    rt.settings.dispatch = DispatchSettings(
        batch_size=50, poll_interval_s=0.01,
        email=ChannelLimits(concurrency=4, max_attempts=3, retry_delay_s=60),
        sms=ChannelLimits(concurrency=2, max_attempts=2, retry_delay_s=60),
        phone=ChannelLimits(concurrency=2))
    users(rt)
    return rt

