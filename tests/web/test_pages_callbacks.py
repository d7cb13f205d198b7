"""Callback tasks on the page and the JSON API (issue 12 items 1 and 3; HL-2, QI-2, AI-19):
overdue first, taken and closed with an outcome through CSRF-carrying forms, by role; a caller's
number in clear for PERSONAL_DATA roles and for the operator working the task only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from autoinform import db
from autoinform.hotline import tasks
from autoinform.models import AuditEntry, HotlineTask, Role, utcnow
from autoinform.runtime import Runtime
from ivr.hotline.backend import NewTask, TaskKind
from tests.web import access
from tests.web.access import Person, log_in
from tests.web.pages_fixtures import CSRF, USERS, Web
from tests.web.test_pages import post_forms

web_rt, people, app, client = access.web_rt, access.people, access.app, access.client  # fixtures
READERS = {"boss", "boss2", "op", "view", "root"}
WORKERS = {"boss", "boss2", "op", "root"}
CLEAR = {"boss", "boss2", "root"}


def add_tasks(rt: Runtime) -> list[int]:
    """Three callbacks: due in 2 h, overdue by 3 h, overdue by 1 h; and one done."""
    now = utcnow()
    ids = []
    with db.transaction(rt.sessions) as s:
        for n, due in ((1, 2), (2, -3), (3, -1), (4, 5)):
            task = NewTask(TaskKind.CALLBACK, f"+7999000000{n}", f"call-{n}", account=f"30010000000{n}",
                           note=f"заявка {n}")
            ids.append(tasks.create(s, task, now + timedelta(hours=due), now - timedelta(hours=4),
                                    retention_days=30).id)
        tasks.done(s, ids[3], "op", tasks.TaskOutcome.REACHED, now)
    return ids


def order(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-task="(\d+)"', html)]


@pytest.mark.parametrize("who", sorted(USERS))
def test_the_list_by_role_overdue_first(web: Web, who: str) -> None:
    ids = add_tasks(web.rt)
    r = web.get("/callbacks", who)
    if who not in READERS:
        assert r.status_code == 403
        return
    assert r.status_code == 200
    assert order(r.text) == [ids[1], ids[2], ids[0]]  # most overdue first; the done one is gone
    assert r.text.count("просрочена") == 2 and 'id="overdue-count">2<' in r.text
    assert ("+79990000002" in r.text) is (who in CLEAR), who
    forms = post_forms(r.text)
    takes = [f for f in forms if (f["action"] or "").endswith("/take")]
    assert len(takes) == (3 if who in WORKERS else 0)
    assert all(f["csrf"] == CSRF for f in forms)  # every form carries the token (the log-out one too)


def test_an_operator_takes_a_task_sees_its_number_and_closes_it_with_an_outcome(web: Web) -> None:
    ids = add_tasks(web.rt)
    task = ids[1]
    assert web.post(f"/callbacks/{task}/take", "view", data={"csrf_token": CSRF}).status_code == 403
    r = web.post(f"/callbacks/{task}/take", "op", data={"csrf_token": CSRF})
    assert r.status_code == 303
    page = web.get("/callbacks", "op").text
    assert "+79990000002" in page and "+79990000003" not in page  # their task's number only
    assert f'id="done-form-{task}"' in page
    assert "+79990000002" not in web.get("/callbacks", "view").text
    # No outcome: refused with the reason, the task stays taken.
    r = web.post(f"/callbacks/{task}/done", "op", data={"csrf_token": CSRF, "outcome": ""})
    assert r.status_code == 400 and "choose an outcome" in r.text
    r = web.post(f"/callbacks/{task}/done", "op", data={"csrf_token": CSRF, "outcome": "reached", "note": "оплатит"})
    assert r.status_code == 303
    with web.rt.sessions() as s:
        row = s.get(HotlineTask, task)
        assert row is not None and (row.state, row.outcome, row.done_by, row.outcome_note) == (
            "done", "reached", "op", "оплатит")
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == str(task))
                            .order_by(AuditEntry.id)).all()
    assert actions == ["task.take", "task.done"]
    assert task not in order(web.get("/callbacks", "op").text)
    r = web.post(f"/callbacks/{task}/done", "op", data={"csrf_token": CSRF, "outcome": "reached"})
    assert r.status_code == 400 and "already done" in r.text
    assert web.post("/callbacks/999999/take", "op", data={"csrf_token": CSRF}).status_code == 404


def test_a_form_without_the_csrf_token_is_refused_by_the_real_middleware(client: TestClient,
                                                                         people: dict[Role, Person],
                                                                         web_rt: Runtime) -> None:
    ids = add_tasks(web_rt)
    csrf = log_in(client, "oper")
    assert client.post(f"/callbacks/{ids[0]}/take", data={}).status_code == 403
    with web_rt.sessions() as s:
        assert s.get(HotlineTask, ids[0]).state == "open"  # type: ignore[union-attr]
    assert client.post(f"/callbacks/{ids[0]}/take", data={"csrf_token": csrf}).status_code == 303
    with web_rt.sessions() as s:
        assert s.get(HotlineTask, ids[0]).taken_by == "oper"  # type: ignore[union-attr]


def test_the_api_lists_takes_and_closes(client: TestClient, people: dict[Role, Person], web_rt: Runtime) -> None:
    ids = add_tasks(web_rt)
    oper, view, boss = people[Role.OPERATOR], people[Role.VIEWER], people[Role.MANAGER]
    listed = client.get("/api/callbacks", headers=view.bearer).json()
    assert [t["id"] for t in listed] == [ids[1], ids[2], ids[0]] and all(t["overdue"] for t in listed[:2])
    assert all("+7999" not in t["caller"] for t in listed)
    assert client.post(f"/api/callbacks/{ids[2]}/take", headers=view.bearer).status_code == 403
    taken = client.post(f"/api/callbacks/{ids[2]}/take", headers=oper.bearer)
    assert taken.status_code == 200 and taken.json()["caller"] == "+79990000003"
    assert taken.json()["state"] == "taken" and taken.json()["taken_by"] == "oper"
    bad = client.post(f"/api/callbacks/{ids[2]}/done", headers=oper.bearer, json={"outcome": "maybe"})
    assert bad.status_code == 422
    done = client.post(f"/api/callbacks/{ids[2]}/done", headers=oper.bearer,
                       json={"outcome": "not_reached", "note": "не берёт трубку"})
    assert done.status_code == 200 and done.json()["outcome"] == "not_reached"
    again = client.post(f"/api/callbacks/{ids[2]}/done", headers=oper.bearer, json={"outcome": "reached"})
    assert again.status_code == 422 and "already done" in again.json()["detail"]
    clear = client.get("/api/callbacks", headers=boss.bearer).json()
    assert clear[0]["caller"] == "+79990000002"
    with web_rt.sessions() as s:
        exports = s.scalars(select(AuditEntry).where(AuditEntry.action == "callbacks.export")).all()
    assert [(e.actor, (e.detail or {}).get("rows")) for e in exports] == [("boss", 2)]  # AI-19


def test_the_callbacks_stream_tells_an_open_page_that_the_list_changed(live_rt: Runtime) -> None:
    """No personal data in it: counts and the newest change, which the page reloads on."""
    from tests.web.pages_fixtures import serve, web_app
    from tests.web.test_live import Page

    ids = add_tasks(live_rt)
    with serve(web_app(live_rt)) as base:
        page = Page(f"{base}/live/callbacks", "view")
        _, first = page.wait_for(lambda s: True)
        assert first["open"] == 3 and first["done"] == 1 and "+7999" not in str(first)
        import httpx

        taken = httpx.post(f"{base}/callbacks/{ids[0]}/take", headers={"X-Test-User": "op"},
                           data={"csrf_token": CSRF})
        assert taken.status_code == 303
        _, moved = page.wait_for(lambda s: s != first, timeout=15)
        assert moved["open"] == 3 and moved["moved"] != first["moved"]
