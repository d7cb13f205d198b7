"""Start-up prompt check (issue 4: a missing prompt is an error before any call) and the per-channel
rate limit (issue 3), the latter driven by a fake clock: no timing assertion."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autoinform import ratelimit
from autoinform.config import Settings
from autoinform.errors import ConfigError
from autoinform.runtime import open_runtime
from autoinform.startup import check_prompts
from tests.conftest import ROOT


def test_missing_prompt_stops_start_up(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    shutil.copytree(ROOT / "audio", audio)
    rt = open_runtime(Settings(database_url=f"sqlite:///{tmp_path / 'p.db'}", var_dir=tmp_path / "var",
                               scenarios_dir=ROOT / "scenarios", audio_dir=audio))
    try:
        check_prompts(rt)  # the shipped set is complete
        (audio / "debt_reminder" / "debt_intro.wav").unlink()
        with pytest.raises(ConfigError, match="debt_reminder/debt_intro"):
            check_prompts(rt)
    finally:
        rt.close()


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_token_bucket_spaces_sends_at_the_configured_rate() -> None:
    fake = FakeTime()
    bucket = ratelimit.TokenBucket(rate_per_s=10, clock=fake.monotonic, sleep=fake.sleep)  # 10, then 1/0.1 s
    start = fake.now
    for _ in range(30):
        await bucket.acquire()
    assert fake.now - start == pytest.approx(2.0)  # 10 at once, 20 more at 10/s
    assert all(s == pytest.approx(0.1) for s in fake.slept)


async def test_zero_rate_means_unlimited() -> None:
    fake = FakeTime()
    bucket = ratelimit.TokenBucket(rate_per_s=0, clock=fake.monotonic, sleep=fake.sleep)
    for _ in range(1000):
        await bucket.acquire()
    assert fake.slept == []
