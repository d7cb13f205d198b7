"""The README's main job (`./dev demo` → `autoinform demo`) works on a fresh SQLite database."""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.config import Settings
from autoinform.models import Campaign, CampaignState, Delivery, DeliveryState, HotlineTask, User
from autoinform.runtime import open_runtime
from autoinform.users import password_matches
from tests.conftest import ROOT


def test_demo_runs_a_campaign_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("AUTOINFORM_DATABASE_URL", url)
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AUTOINFORM_SCENARIOS_DIR", str(ROOT / "scenarios"))
    monkeypatch.setenv("AUTOINFORM_AUDIO_DIR", str(ROOT / "audio"))
    result = CliRunner().invoke(app, ["demo", "--rows", "60", "--no-serve"])  # the report is the end
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
    assert "Dashboard" not in result.output
    # The demo's users may log in to the dashboard with the passwords in their files (mode 600).
    rt = open_runtime(Settings(database_url=url, var_dir=tmp_path / "var"))
    try:
        with rt.sessions() as s:
            for login in ("ivanova.specialist", "petrov.manager", "sidorova.operator"):
                path = tmp_path / "var" / "demo" / f"{login}.password"
                assert path.stat().st_mode & 0o077 == 0, login
                user = s.scalars(select(User).where(User.login == login)).one()
                assert password_matches(user, path.read_text(encoding="utf-8").strip()), login
            assert s.scalar(select(func.count()).select_from(HotlineTask)) == 3  # the callbacks page's work
    finally:
        rt.close()


@pytest.mark.timeout(600)
def test_the_demo_ends_serving_its_dashboard_until_ctrl_c(tmp_path: Path) -> None:
    """`./dev demo` as a person runs it: the campaign ends, the dashboard serves it; the printed
    manager logs in with the password from their file and sees the campaign completed, the operator
    sees the callbacks; Ctrl-C ends it with exit code 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOINFORM_")}
    env |= {"AUTOINFORM_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}", "AUTOINFORM_VAR_DIR": str(tmp_path / "var"),
            "AUTOINFORM_SCENARIOS_DIR": str(ROOT / "scenarios"), "AUTOINFORM_AUDIO_DIR": str(ROOT / "audio"),
            "AUTOINFORM_WEB__PORT": "0", "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "autoinform", "demo", "--rows", "30"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("Dashboard: "):
                break
        output = "".join(seen)
        match = re.search(r"Dashboard: (http://127\.0\.0\.1:\d+)/campaigns/(\d+) \(log in at \S+/login\)", output)
        assert match, output
        base, cid = match.group(1), match.group(2)
        password = (tmp_path / "var" / "demo" / "petrov.manager.password").read_text(encoding="utf-8").strip()
        assert password not in output  # pointed at, never printed
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=base, timeout=10) as web:
            while True:
                try:
                    web.get("/health")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the dashboard did not answer"
                    time.sleep(0.1)
            r = web.post("/login", data={"login": "petrov.manager", "password": password, "next": f"/campaigns/{cid}"},
                         follow_redirects=True)
            assert r.status_code == 200 and 'id="state">completed<' in r.text, r.text[-2000:]
            assert "petrov.manager (manager)" in r.text
        op_password = (tmp_path / "var" / "demo" / "sidorova.operator.password").read_text(encoding="utf-8").strip()
        with httpx.Client(base_url=base, timeout=10) as web:
            r = web.post("/login", data={"login": "sidorova.operator", "password": op_password, "next": "/callbacks"},
                         follow_redirects=True)
            assert r.status_code == 200 and r.text.count('data-task="') == 3 and "просрочена" in r.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(seen) + rest
    assert "dashboard stopped" in rest
