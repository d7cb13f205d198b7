"""Report downloads on the pages (issue 12 item 4; AI-5, AI-19): a campaign's and a period's report
as CSV, XLSX and PDF (the files `autoinform report` writes), opened and checked; the charts as PNG;
personal data by the one rule; every download in the audit log."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from autoinform import campaigns, db
from autoinform.models import AuditEntry, Outcome, utcnow
from autoinform.report_files.csv_file import RESULTS_TITLE
from autoinform.runtime import Runtime
from autoinform.users import PERSONAL_DATA_ROLES
from tests.web.pages_fixtures import USERS, Web, draft, finish

CLEAR = {login for login, role in USERS.items() if role in PERSONAL_DATA_ROLES}


def ended_campaign(rt: Runtime, n: int = 5) -> int:
    built = draft(rt, n)
    with db.transaction(rt.sessions) as s:
        campaigns.approve(s, built.campaign_id, "boss2")
    with db.transaction(rt.sessions) as s:
        campaigns.start(s, built.campaign_id, "boss2")
    finish(rt, 3)
    finish(rt, 2, Outcome.NEGATIVE, "bounced")
    return built.campaign_id


def result_lines(body: bytes) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    start = next(i for i, r in enumerate(rows) if r[:1] == [RESULTS_TITLE]) + 2  # past the title and header
    end = next(i for i in range(start, len(rows)) if not rows[i])
    return rows[start:end]


def exports(rt: Runtime) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    with rt.sessions() as s:
        return [(e.actor, e.detail or {}) for e in s.scalars(select(AuditEntry).where(
            AuditEntry.action == "report.export").order_by(AuditEntry.id))]


@pytest.mark.parametrize("who", sorted(USERS))
def test_a_campaign_report_by_role_personal_by_the_one_rule_and_audited(web: Web, who: str) -> None:
    cid = ended_campaign(web.rt)
    page = web.get(f"/campaigns/{cid}", who).text
    assert f'href="/campaigns/{cid}/report.xlsx"' in page
    r = web.get(f"/campaigns/{cid}/report.csv", who)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f'filename="campaign-{cid}-report.csv"' in r.headers["content-disposition"]
    lines = result_lines(r.content)
    assert len(lines) == 5  # every customer's final result, as many as the campaign's deliveries
    clear = who in CLEAR
    assert any("@example.ru" in c and not c.startswith("*") for line in lines for c in line) is clear, who
    assert (b"client700001@example.ru" in r.content) is clear
    assert exports(web.rt) == [(who, {"format": "csv", "rows": 5, "personal": clear})]


def test_xlsx_pdf_and_charts_open_and_hold_what_they_should(web: Web) -> None:
    cid = ended_campaign(web.rt)
    xlsx = web.get(f"/campaigns/{cid}/report.xlsx", "boss")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert len(book.sheetnames) >= 2
    pdf = web.get(f"/campaigns/{cid}/report.pdf", "view")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and b"/Image" in pdf.content
    for key in ("by_channel", "by_division", "by_hour", "by_day"):
        png = web.get(f"/campaigns/{cid}/charts/{key}.png", "view")
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG"), key
    assert [d["format"] for _, d in exports(web.rt)] == ["xlsx", "pdf"]  # charts hold counts: not exports
    assert web.get(f"/campaigns/{cid}/charts/nothing.png", "view").status_code == 404
    assert web.get(f"/campaigns/{cid}/report.docx", "view").status_code == 404
    assert web.get("/campaigns/999999/report.csv", "boss").status_code == 404
    assert len(exports(web.rt)) == 2  # refused downloads leave no entry


def test_a_period_report_from_its_page(web: Web) -> None:
    ended_campaign(web.rt)
    today = utcnow().astimezone(web.rt.settings.tz).date()
    page = web.get("/reports", "op")
    assert page.status_code == 200
    assert f'href="/reports/period.pdf?from={today.replace(day=1)}&amp;to={today}"' in page.text
    assert "скрыты" in page.text  # an operator gets names and contacts masked
    r = web.get(f"/reports/period.csv?from={today}&to={today}", "spec")
    assert r.status_code == 200 and len(result_lines(r.content)) == 5
    assert f'filename="report-{today}-{today}.csv"' in r.headers["content-disposition"]
    png = web.get(f"/reports/charts/by_day.png?from={today}&to={today}", "view")
    assert png.content.startswith(b"\x89PNG")
    assert web.get(f"/reports?from={today}&to={today.replace(year=today.year - 1)}", "view").status_code == 400
    bad = web.get(f"/reports/period.csv?from={today}&to={today.replace(year=today.year - 1)}", "view")
    assert bad.status_code == 400 and "after it ends" in bad.text
    assert exports(web.rt) == [("spec", {"format": "csv", "rows": 5, "personal": True})]


def test_without_a_user_downloads_send_to_log_in(web: Web) -> None:
    cid = ended_campaign(web.rt)
    r = web.get(f"/campaigns/{cid}/report.csv", None, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
