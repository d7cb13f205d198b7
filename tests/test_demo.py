"""The README's main job (`./dev demo` → `autoinform demo`) works on a fresh SQLite database."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.config import Settings
from autoinform.models import Campaign, CampaignState, Delivery, DeliveryState
from autoinform.runtime import open_runtime
from tests.conftest import ROOT


def test_demo_runs_a_campaign_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("AUTOINFORM_DATABASE_URL", url)
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AUTOINFORM_SCENARIOS_DIR", str(ROOT / "scenarios"))
    monkeypatch.setenv("AUTOINFORM_AUDIO_DIR", str(ROOT / "audio"))
    result = CliRunner().invoke(app, ["demo", "--rows", "60"])
    assert result.exit_code == 0, result.output
    assert "read = imported + merged + rejected: 60 = " in result.output.replace("\n", " ")

    rt = open_runtime(Settings(database_url=url, var_dir=tmp_path / "var"))
    try:
        with rt.sessions() as s:
            campaign = s.scalars(select(Campaign)).one()
            deliveries = s.scalars(select(Delivery)).all()
    finally:
        rt.close()
    assert campaign.state is CampaignState.COMPLETED
    assert deliveries and all(d.state is DeliveryState.DONE for d in deliveries)
    emailed = [d for d in deliveries if d.reason == "accepted"]
    outbox = sorted((tmp_path / "var" / "demo" / "outbox").glob("*.eml"))
    assert len(outbox) == len(emailed) > 0
    msg = email.message_from_bytes(outbox[0].read_bytes(), policy=email.policy.default)
    assert "Задолженность" in str(msg["Subject"]) or "задолженност" in msg.get_body(("plain",)).get_content()
    assert any(d.reason == "delivered" for d in deliveries)  # SMS delivery reports came back
