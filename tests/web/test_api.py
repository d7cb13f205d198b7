"""Issue 12 item 3 (AI-7, AI-15, AI-19): the JSON API end to end with API tokens — a list uploaded,
a campaign formed, refused to its author, approved by a manager, run, paused, resumed, cancelled;
the stop list; a customer's notices masked or in clear by role, every clear answer audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from autoinform.config import TwilioSettings
from autoinform.db import transaction
from autoinform.models import AuditEntry, Delivery, Role
from autoinform.runtime import Runtime, open_runtime
from autoinform.sample import SampleSpec, write_sample
from autoinform.web.app import create_app
from tests.web.access import Person, make_people, web_settings

TWILIO = TwilioSettings(account_sid="AC" + "0" * 32, auth_token=SecretStr("test-token"),
                        from_number="+78512000001")


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Runtime, dict[Role, Person]]]:
    """On SQLite and on PostgreSQL (tests/conftest.py's db_url)."""
    settings = web_settings(db_url, tmp_path)
    settings.twilio = TWILIO
    rt = open_runtime(settings)
    people = make_people(rt)
    with TestClient(create_app(rt), base_url="http://127.0.0.1", follow_redirects=False) as c:
        yield c, rt, people
    rt.close()


def _upload_list(c: TestClient, who: Person, tmp_path: Path, rows: int = 12) -> tuple[dict, list[str]]:  # type: ignore[type-arg]
    sample = tmp_path / "s.csv"
    write_sample(sample, SampleSpec(rows=rows, seed=3, bad_share=0, duplicate_share=0))
    r = c.post("/api/lists", headers=who.bearer, data={"name": "Должники"},
               files={"file": ("s.csv", sample.read_bytes(), "text/csv")})
    assert r.status_code == 201, r.text
    accounts = [line.split(";")[0].strip('"') for line in sample.read_bytes().decode("cp1251").splitlines()[1:]]
    return r.json(), accounts


def test_campaign_life_through_the_api_with_four_eyes(api: tuple[TestClient, Runtime, dict[Role, Person]],
                                                      tmp_path: Path) -> None:
    c, rt, people = api
    spec, boss, root = people[Role.SPECIALIST], people[Role.MANAGER], people[Role.ADMIN]
    report, _ = _upload_list(c, spec, tmp_path)
    assert report["imported"] == 12 and report["balanced"] and report["rejected"] == 0
    assert [x["name"] for x in c.get("/api/lists", headers=people[Role.VIEWER].bearer).json()] == ["Должники"]
    again = c.post("/api/lists", headers=spec.bearer, data={"name": "Должники"},
                   files={"file": ("s.csv", b"x", "text/csv")})
    assert again.status_code == 422  # a clear refusal, nothing replaced

    body = {"name": "Долг", "scenario": "debt_reminder", "list_name": "Должники", "channels": ["email", "sms"],
            "start_at": "2026-12-07T10:00:00+04:00", "end_at": "2026-12-11T20:00:00+04:00"}
    created = c.post("/api/campaigns", headers=spec.bearer, json=body)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    assert created.json()["state"] == "draft" and created.json()["created_by"] == "spec"
    traversal = c.post("/api/campaigns", headers=spec.bearer, json={**body, "scenario": "../../etc/passwd"})
    assert traversal.status_code == 422

    # AI-15: the specialist cannot approve (role); an admin who formed a campaign cannot approve it either
    assert c.post(f"/api/campaigns/{cid}/approve", headers=spec.bearer).status_code == 403
    own = c.post("/api/campaigns", headers=root.bearer, json={**body, "name": "admin's own"}).json()["id"]
    refused = c.post(f"/api/campaigns/{own}/approve", headers=root.bearer)
    assert refused.status_code == 403 and "author" in refused.json()["detail"]
    early = c.post(f"/api/campaigns/{cid}/start", headers=spec.bearer)
    assert early.status_code == 409 and "draft" in early.json()["detail"]

    approved = c.post(f"/api/campaigns/{cid}/approve", headers=boss.bearer)
    assert approved.status_code == 200 and approved.json()["approved_by"] == "boss"
    started = c.post(f"/api/campaigns/{cid}/start", headers=spec.bearer).json()
    assert started["total"] == 12 and started["state"] in ("scheduled", "running")
    assert c.post(f"/api/campaigns/{cid}/pause", headers=boss.bearer).json()["state"] == "paused"
    assert c.post(f"/api/campaigns/{cid}/resume", headers=spec.bearer).json()["state"] in ("scheduled", "running")
    cancelled = c.post(f"/api/campaigns/{cid}/cancel", headers=boss.bearer).json()
    assert cancelled["state"] == "cancelled" and cancelled["results"][0]["count"] == 12
    status = c.get(f"/api/campaigns/{cid}", headers=people[Role.OPERATOR].bearer).json()
    assert status["deliveries"] == {"done": 12}
    with rt.sessions() as s:
        actions = [(a.actor, a.action) for a in s.scalars(select(AuditEntry).where(
            AuditEntry.entity == "campaign", AuditEntry.entity_id == str(cid)).order_by(AuditEntry.id))]
    assert actions[0] == ("spec", "campaign.create") and ("boss", "campaign.approve") in actions
    assert ("boss", "campaign.cancel") in actions


def test_results_are_masked_for_operators_and_every_clear_answer_is_audited(
        api: tuple[TestClient, Runtime, dict[Role, Person]], tmp_path: Path) -> None:
    from autoinform.models import Attempt, Channel, Customer, Outcome

    c, rt, people = api
    spec, boss, oper = people[Role.SPECIALIST], people[Role.MANAGER], people[Role.OPERATOR]
    _upload_list(c, spec, tmp_path)
    body = {"name": "Долг", "scenario": "debt_reminder", "list_name": "Должники", "channels": ["email", "sms"],
            "start_at": "2026-12-07T10:00:00+04:00", "end_at": "2026-12-11T20:00:00+04:00"}
    created = c.post("/api/campaigns", headers=spec.bearer, json=body)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    c.post(f"/api/campaigns/{cid}/approve", headers=boss.bearer)
    c.post(f"/api/campaigns/{cid}/start", headers=spec.bearer)
    with transaction(rt.sessions) as s:
        d = s.scalars(select(Delivery).where(Delivery.campaign_id == cid)).first()
        assert d is not None
        s.add(Attempt(delivery_id=d.id, channel=Channel.SMS, destination="+79001234567",
                      outcome=Outcome.POSITIVE, reason="delivered", content="Иванов И. И., долг 100 ₽"))
        account = s.scalar(select(Customer.account).where(Customer.id == d.customer_id))
    for who in (boss, spec):
        clear = c.get(f"/api/results/{account}", headers=who.bearer).json()
        assert clear["masked"] is False and clear["attempts"][0]["destination"] == "+79001234567"
        assert "Иванов" in clear["attempts"][0]["content"]
    for who in (oper,):
        masked = c.get(f"/api/results/{account}", headers=who.bearer).json()
        row = masked["attempts"][0]
        assert masked["masked"] is True and "1234567" not in row["destination"] and row["content"] is None
    assert c.get(f"/api/results/{account}", headers=people[Role.VIEWER].bearer).status_code == 403
    assert c.get("/api/results/000000000000", headers=boss.bearer).status_code == 404
    with rt.sessions() as s:
        exports = [(a.actor, a.action, a.entity_id, a.detail["via"]) for a in s.scalars(
            select(AuditEntry).where(AuditEntry.action == "results.export"))]
    assert exports == [("boss", "results.export", account, "api"),  # the masked answers are not exports
                       ("spec", "results.export", account, "api")]


def test_stop_list_upload_reports_bad_lines_and_unknown_accounts(
        api: tuple[TestClient, Runtime, dict[Role, Person]], tmp_path: Path) -> None:
    c, _, people = api
    spec = people[Role.SPECIALIST]
    _, accounts = _upload_list(c, spec, tmp_path)
    content = f"{accounts[0]}\nnot an account!\n300999999999\n{accounts[0]}\n".encode()
    r = c.post("/api/stoplist", headers=spec.bearer, data={"reason": "paid"},
               files={"file": ("paid.csv", content, "text/csv")})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["added"] == 1 and out["unknown_accounts"] == ["300999999999"] and out["duplicates"] == 1
    assert [b["line"] for b in out["rejected"]] == [2]
    listed = c.get("/api/stoplist", headers=people[Role.MANAGER].bearer).json()
    assert [(e["account"], e["reason"]) for e in listed] == [(accounts[0], "paid")]
    bad_reason = c.post("/api/stoplist", headers=spec.bearer, data={"reason": "Paid!"},
                        files={"file": ("paid.csv", content, "text/csv")})
    assert bad_reason.status_code == 422
    wrong_kind = c.post("/api/stoplist", headers=spec.bearer, files={"file": ("paid.exe", content, "x")})
    assert wrong_kind.status_code == 422 and ".csv" in wrong_kind.json()["detail"]
