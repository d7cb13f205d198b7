"""`autoinform report campaign|period` end to end on a temporary SQLite database (AI-5, AI-19)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from autoinform.cli import app
from autoinform.config import Settings
from autoinform.models import AuditEntry
from autoinform.report_files.xlsx_file import RESULTS_SHEET
from autoinform.runtime import Runtime, open_runtime
from tests.cli_actors import as_user, give_tokens
from tests.reports.seed import CAMPAIGN_A, CAMPAIGN_B, seed, users

runner = CliRunner()


@pytest.fixture
def cli_rt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Runtime, int]]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("AUTOINFORM_DATABASE_URL", url)
    monkeypatch.setenv("AUTOINFORM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    rt = open_runtime(Settings(database_url=url, var_dir=tmp_path / "var"))
    users(rt)
    give_tokens(rt.sessions, "spec", "boss", "oper")
    a = seed(rt, "Долг декабрь", CAMPAIGN_A, first_account=100001, evil_first=True)
    seed(rt, "Долг неделя 2", CAMPAIGN_B, first_account=200001)
    yield rt, a
    rt.close()


def audit_entries(rt: Runtime) -> list[tuple[str, str, dict[str, object]]]:
    with rt.sessions() as s:
        return [(e.actor, e.entity_id, e.detail) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.action == "report.export").order_by(AuditEntry.id))]


def test_manager_gets_names_in_clear_and_masked_on_request(cli_rt: tuple[Runtime, int], tmp_path: Path) -> None:
    rt, a = cli_rt
    out = tmp_path / "boss.xlsx"
    r = runner.invoke(app, ["report", "campaign", str(a), "--format", "xlsx", "--out", str(out)], env=as_user("boss"))
    assert r.exit_code == 0, r.output
    assert "12 customers' results" in r.output and "in clear" in r.output
    rows = list(load_workbook(io.BytesIO(out.read_bytes()))[RESULTS_SHEET].iter_rows(values_only=True))
    assert len(rows) - 1 == 12 and "Иванов Пётр 100002" in [x[2] for x in rows]

    r = runner.invoke(app, ["report", "campaign", str(a), "--format", "csv", "--masked"], env=as_user("spec"))
    assert r.exit_code == 0, r.output
    default = tmp_path / f"campaign-{a}-report.csv"  # the suggested name, in the current folder
    text = default.read_text(encoding="utf-8-sig")
    assert "Иванов" not in text and "+7927123" not in text and "masked" in r.output
    assert [(e[0], e[2]["format"], e[2]["personal"]) for e in audit_entries(rt)] == [
        ("boss", "xlsx", True), ("spec", "csv", False)]


def test_a_period_pdf(cli_rt: tuple[Runtime, int], tmp_path: Path) -> None:
    rt, _ = cli_rt
    out = tmp_path / "p.pdf"
    r = runner.invoke(app, ["report", "period", "--from", "2026-12-07", "--to", "2026-12-16", "--format", "pdf",
                            "--out", str(out)], env=as_user("boss"))
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"%PDF-")
    assert audit_entries(rt) == [("boss", "2026-12-07..2026-12-16", {"format": "pdf", "rows": 0, "personal": True})]


def test_refusals_leave_no_file_and_no_audit_entry(cli_rt: tuple[Runtime, int], tmp_path: Path) -> None:
    rt, a = cli_rt
    out = tmp_path / "x.csv"
    r = runner.invoke(app, ["report", "campaign", str(a), "--format", "csv", "--out", str(out)], env=as_user("oper"))
    assert r.exit_code == 1 and "operator" in r.output
    r = runner.invoke(app, ["report", "campaign", "999", "--format", "csv", "--out", str(out)], env=as_user("boss"))
    assert r.exit_code == 1 and "999" in r.output
    r = runner.invoke(app, ["report", "campaign", str(a), "--format", "docx"], env=as_user("boss"))
    assert r.exit_code == 2 and "csv, xlsx, pdf" in r.output
    r = runner.invoke(app, ["report", "period", "--from", "2026-12-09", "--to", "2026-12-07"], env=as_user("boss"))
    assert r.exit_code == 2 and "after it ends" in r.output
    r = runner.invoke(app, ["report", "period", "--from", "7.12.2026", "--to", "2026-12-07"], env=as_user("boss"))
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
    assert not list(tmp_path.glob("*.csv")) and not list(tmp_path.glob("*.part")) and not list(tmp_path.glob("*.xlsx"))
    assert audit_entries(rt) == []
