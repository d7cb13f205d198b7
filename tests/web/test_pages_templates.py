"""Routine campaigns on the web (issue 14 item 4; AI-3, AI-7, AI-15): the templates page by role,
create, pause and resume with the same checks as `autoinform templates`, a template's history,
and the approval requests addressed to the user (item 3), read and dismissed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from autoinform import db
from autoinform.models import AuditEntry, CampaignTemplate, TemplateNotice, TemplateRun, utcnow
from tests.web.pages_fixtures import CSRF, Web, draft
from tests.web.test_pages import post_forms

FORM = {"name": "Долги ежемесячно", "scenario": "debt_reminder", "channels": "email,sms",
        "source": "drop:debt_*.csv", "period": "monthly", "days": "10-15", "hours": "10:00-19:00",
        "form_days_before": "2", "approvers": "role:manager", "notify": "boss@example.ru",
        "csrf_token": CSRF}


def _create(web: Web, who: str = "spec", **changes: str) -> int:
    r = web.post("/templates", who, data={**FORM, **changes})
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def test_everyone_sees_templates_and_only_specialists_and_managers_keep_them(web: Web) -> None:
    tid = _create(web)
    for who in ("spec", "boss", "op", "view", "root"):
        page = web.get("/templates", who)
        assert page.status_code == 200 and "Долги ежемесячно" in page.text, who
        assert ('id="new-template"' in page.text) is (who in {"spec", "boss", "root"}), who
        one = web.get(f"/templates/{tid}", who)
        assert one.status_code == 200 and "drop:debt_*.csv" in one.text and "Периодов ещё не было" in one.text
    for who in ("op", "view"):
        assert web.post("/templates", who, data={**FORM, "name": "x"}).status_code == 403
        assert web.post(f"/templates/{tid}/pause", who, data={"csrf_token": CSRF}).status_code == 403
    assert web.get("/templates", None, follow_redirects=False).status_code in (303, 401)
    for form in post_forms(web.get(f"/templates/{tid}", "boss").text):
        assert form["csrf"] == CSRF, form


def test_create_checks_what_the_command_line_checks(web: Web) -> None:
    bad_days = web.post("/templates", "spec", data={**FORM, "days": "20-10"})
    assert bad_days.status_code == 400 and "1 &lt;= first &lt;= last" in bad_days.text
    unknown = web.post("/templates", "spec", data={**FORM, "scenario": "no_such_scenario"})
    assert unknown.status_code == 404 and "no_such_scenario" in unknown.text
    chain = web.post("/templates", "spec", data={**FORM, "channels": "fax"})
    assert chain.status_code == 400 and "phone, sms, email" in chain.text
    approver = web.post("/templates", "spec", data={**FORM, "approvers": "op"})
    assert approver.status_code == 400
    _create(web)
    twice = web.post("/templates", "boss", data=FORM)
    assert twice.status_code == 400 and "already exists" in twice.text
    with web.rt.sessions() as s:
        assert s.scalars(select(CampaignTemplate.created_by)).all() == ["spec"]


def test_pause_and_resume_are_audited_and_shown(web: Web) -> None:
    tid = _create(web)
    assert web.post(f"/templates/{tid}/pause", "boss", data={"csrf_token": CSRF}).status_code == 303
    page = web.get(f"/templates/{tid}", "view").text
    assert "(приостановлен)" in page and 'id="next-due">—' in page
    again = web.post(f"/templates/{tid}/pause", "boss", data={"csrf_token": CSRF})
    assert again.status_code == 400 and "already paused" in again.text
    assert web.post(f"/templates/{tid}/resume", "spec", data={"csrf_token": CSRF}).status_code == 303
    assert "(приостановлен)" not in web.get(f"/templates/{tid}", "view").text
    assert web.post(f"/templates/{tid}/explode", "spec", data={"csrf_token": CSRF}).status_code == 404
    with web.rt.sessions() as s:
        actions = [(a.actor, a.action) for a in s.scalars(
            select(AuditEntry).where(AuditEntry.entity == "template").order_by(AuditEntry.id))]
    assert actions == [("spec", "template.create"), ("boss", "template.pause"), ("spec", "template.resume")]


def test_approval_requests_reach_their_addressee_only_and_are_dismissed(web: Web) -> None:
    tid = _create(web)
    built = draft(web.rt)
    now = utcnow()
    with db.transaction(web.rt.sessions) as s:
        run = TemplateRun(template_id=tid, period_key="2026-12", start_at=now + timedelta(days=2),
                          end_at=now + timedelta(days=7), state="formed", campaign_id=built.campaign_id)
        s.add(run)
        s.flush()
        s.add(TemplateNotice(run_id=run.id, campaign_id=built.campaign_id, recipient="boss", kind="user",
                             text="Черновик «Долги ежемесячно» за 2026-12 ждёт утверждения"))
        notice_id = s.scalar(select(TemplateNotice.id))
    boss = web.get("/templates", "boss").text
    assert "ждёт утверждения" in boss and f'href="/campaigns/{built.campaign_id}"' in boss
    assert "ждёт утверждения" not in web.get("/templates", "boss2").text
    history = web.get(f"/templates/{tid}", "view").text
    assert "2026-12" in history and "formed" in history
    assert web.post(f"/templates/notices/{notice_id}/read", "boss2", data={"csrf_token": CSRF}).status_code == 404
    assert web.post(f"/templates/notices/{notice_id}/read", "boss", data={"csrf_token": CSRF}).status_code == 303
    assert "ждёт утверждения" not in web.get("/templates", "boss").text
