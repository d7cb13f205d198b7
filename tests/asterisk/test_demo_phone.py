"""`autoinform demo --phone` (issue 10, "Done means"): a phone campaign through the whole engine
against the prebuilt Asterisk, customers as Local channels into the demo's contexts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import tests.asterisk.prebuilt as prebuilt
from autoinform.cli import app
from autoinform.config import Settings
from autoinform.models import Campaign, CampaignState, Delivery, DeliveryState, ProviderEvent
from autoinform.runtime import open_runtime
from tests.conftest import ROOT


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("AUTOINFORM_DATABASE_URL", url)
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AUTOINFORM_SCENARIOS_DIR", str(ROOT / "scenarios"))
    monkeypatch.setenv("AUTOINFORM_AUDIO_DIR", str(ROOT / "audio"))
    return url


def test_phone_demo_runs_a_campaign(asterisk_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Eight customers: two confirm with 1, one asks for an operator with 0 (the queue's member
    answers), one hangs up during the notice, two busy, one never answers, one rejects; one
    attempt each. Every customer ends with its own result and the report prints them (issue 10
    "Done means"; AI-1, AI-2, AI-8, AI-14)."""
    url = _env(monkeypatch, tmp_path)
    result = CliRunner().invoke(app, ["demo", "--phone"])
    assert result.exit_code == 0, result.output
    assert "is completed: 8 deliveries" in result.output.replace("\n", " ")

    rt = open_runtime(Settings(database_url=url, var_dir=tmp_path / "var"))
    try:
        with rt.sessions() as s:
            campaign = s.scalars(select(Campaign)).one()
            deliveries = s.scalars(select(Delivery)).all()
            events = {e.reason: e.detail for e in s.scalars(select(ProviderEvent))}
    finally:
        rt.close()
    assert campaign.state is CampaignState.COMPLETED
    assert all(d.state is DeliveryState.DONE for d in deliveries)
    assert Counter(d.reason for d in deliveries) == {
        "confirmed": 2, "transferred": 1, "hung_up_early": 1, "busy": 2, "no_answer": 1, "rejected": 1}
    # The answered calls' evidence (AI-2): keys pressed, the prompts played, AMD's status.
    assert [k["key"] for k in events["confirmed"]["keys"]] == ["1"]
    assert [k["key"] for k in events["transferred"]["keys"]] == ["0"]
    assert events["confirmed"]["prompts"] and events["confirmed"]["amd"]
    assert events["hung_up_early"]["hung_up_step"]


def test_phone_demo_without_asterisk_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No prebuilt Asterisk: the demo names what is missing and exits 0, touching nothing (issue 10)."""
    _env(monkeypatch, tmp_path)
    monkeypatch.setattr(prebuilt, "PREBUILT", tmp_path / "no-such-prebuilt")
    result = CliRunner().invoke(app, ["demo", "--phone"])
    assert result.exit_code == 0, result.output
    out = result.output.replace("\n", " ")
    assert "phone demo not run" in out and "no prebuilt Asterisk" in out
    assert not (tmp_path / "demo.db").exists()
