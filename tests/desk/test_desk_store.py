"""The desk's storage and card (issue 13 items 1-3; AI-8, HL-4, HL-5, QI-2), on SQLite and PostgreSQL:
an AgentConnect becomes the connected operator's call and card, and no other operator's; wrap-up
is stored with the call and can make a task with its deadline."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from autoinform import db
from autoinform.config import HotlineSettings
from autoinform.desk import store
from autoinform.desk.card import desk_state
from autoinform.desk.events import connect_from, queue_snapshot
from autoinform.errors import NotFoundError
from autoinform.hotline import tasks
from autoinform.hotline.hours import ReceptionHours
from autoinform.models import AuditEntry, DeskCall, HotlineTask
from autoinform.runtime import Runtime
from ivr.ami.protocol import Event
from ivr.hotline.backend import TaskKind
from tests.desk.conftest import CALLER, NOW, OP1, OP2, agent_connect, seed

TOPICS = ["Задолженность и оплата", "Другое"]


def deadlines() -> tasks.Deadlines:
    settings = HotlineSettings()
    return tasks.Deadlines(ReceptionHours.from_setting(settings.hours, ZoneInfo("Europe/Astrakhan")), settings)


def test_agent_connect_is_read_with_the_account_and_attempt_it_carries() -> None:
    c = connect_from(agent_connect("1700.1", OP1, chan_vars={"ATTEMPT_ID": "42", "AUTOINFORM_HL_ACCOUNT": "555"}))
    assert c is not None
    assert (c.call_id, c.interface, c.queue, c.caller, c.hold_s, c.attempt_id, c.account) == \
        ("1700.1", OP1, "operators", CALLER, 7.0, 42, "555")
    bad = connect_from(agent_connect("1700.2", OP1, hold="soon", chan_vars={"ATTEMPT_ID": "x"}))
    assert bad is not None and bad.hold_s is None and bad.attempt_id is None and bad.account is None
    assert connect_from(Event((("Event", "AgentConnect"), ("Queue", "operators")))) is None
    assert connect_from(Event((("Event", "Hangup"), ("Uniqueid", "1")))) is None


def test_queue_status_reply_gives_members_waiting_and_the_longest_wait() -> None:
    def ev(*pairs: tuple[str, str]) -> Event:
        return Event(pairs)
    events = [ev(("Event", "QueueParams"), ("Queue", "operators"), ("Calls", "2"), ("Completed", "5"),
                 ("Abandoned", "1")),
              ev(("Event", "QueueMember"), ("Queue", "operators"), ("Name", "op1"), ("Location", OP1),
                 ("StateInterface", OP1), ("Paused", "1"), ("PausedReason", "обед"), ("InCall", "0"),
                 ("Status", "1"), ("CallsTaken", "3")),
              ev(("Event", "QueueMember"), ("Queue", "operators"), ("Name", "op2"), ("Location", OP2),
                 ("Paused", "0"), ("InCall", "1"), ("Status", "2"), ("CallsTaken", "2")),
              ev(("Event", "QueueEntry"), ("Queue", "operators"), ("Position", "1"), ("Wait", "43")),
              ev(("Event", "QueueEntry"), ("Queue", "operators"), ("Position", "2"), ("Wait", "12")),
              ev(("Event", "QueueParams"), ("Queue", "other"), ("Calls", "9"))]
    snap = queue_snapshot("operators", events)
    assert (snap.waiting, snap.longest_wait_s, snap.completed, snap.abandoned) == (2, 43, 5, 1)
    assert [(m.interface, m.paused, m.pause_reason, m.in_call, m.calls_taken) for m in snap.members] == \
        [(OP1, True, "обед", False, 3), (OP2, False, "", True, 2)]


def test_phones_are_one_per_interface_and_checked(rt: Runtime) -> None:
    seed(rt)
    with db.transaction(rt.sessions) as s, pytest.raises(store.DeskError, match="already the phone of op2"):
        store.set_phone(s, "op1", OP2, actor="admin")
    for bad in ("201", "PJSIP/2 01", "PJSIP/\x01", "/x"):
        with pytest.raises(store.DeskError, match="not a queue member interface"):
            store.valid_interface(bad)
    with db.transaction(rt.sessions) as s:
        with pytest.raises(store.DeskError, match="viewer"):
            store.set_phone(s, "view", "PJSIP/299", actor="admin")
        assert store.set_phone(s, "op1", "PJSIP/201", actor="admin").interface == "PJSIP/201"
        assert store.operator_for(s, "PJSIP/201") is not None and store.operator_for(s, OP1) is None


def test_a_hotline_caller_pops_up_on_the_connected_operators_desk_only(rt: Runtime) -> None:
    ids = seed(rt)
    connect = connect_from(agent_connect("hl-call-1", OP1, hold="12"))  # no channel variable: the record's account
    assert connect is not None
    with db.transaction(rt.sessions) as s:
        row = store.record_connect(s, connect, NOW)
        assert row.operator_id == ids["op1"] and row.account == "300100000001"
    with rt.sessions() as s:
        card = desk_state(s, ids["op1"], now=NOW)["call"]
        other = desk_state(s, ids["op2"], now=NOW)
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "desk.screen_pop")).all()
    assert other["call"] is None and other["phone"] == OP2
    assert card["caller"] == CALLER and card["found_by"] == "account" and card["on_line"]
    assert [c["account"] for c in card["customers"]] == ["300100000001"]
    assert card["customers"][0]["balance"] == {"amount": "1234.56", "as_of": "2026-12-01", "debt": True}
    assert card["menu_path"] == ["balance", "operator"] and card["waited_s"] == 12.0 and card["in_ivr_s"] == 50.0
    assert [t["id"] for t in card["open_tasks"]] == [ids["task"]]
    assert [(r["account"], r["value"]) for r in card["readings"]] == [("300100000001", 4567)]
    assert card["notice"] is None
    assert [(a.actor, a.entity_id) for a in audit] == [("op1", "hl-call-1")]


def test_a_transferred_notice_shows_what_was_heard_and_every_customer_of_the_number(rt: Runtime) -> None:
    ids = seed(rt)
    connect = connect_from(agent_connect("notify-1", OP2, chan_vars={"ATTEMPT_ID": str(ids["attempt"])}))
    assert connect is not None
    with db.transaction(rt.sessions) as s:
        store.record_connect(s, connect, NOW)
    with rt.sessions() as s:
        card = desk_state(s, ids["op2"], now=NOW)["call"]
        assert desk_state(s, ids["op1"], now=NOW)["call"] is None
    assert card["found_by"] == "notice"  # the customer the notice was for, whatever caller id the call had
    assert [c["account"] for c in card["customers"]] == ["300100000001"]
    assert card["notice"]["campaign"] == "desk" and card["notice"]["keys"] == ["0"]
    assert card["notice"]["text"] == "Задолженность 1234 рубля 56 копеек."


def test_a_number_shared_by_several_customers_lists_them_all(rt: Runtime) -> None:
    ids = seed(rt)
    connect = connect_from(agent_connect("walk-in", OP2))  # no account typed, no notice
    assert connect is not None
    with db.transaction(rt.sessions) as s:
        store.record_connect(s, connect, NOW)
    with rt.sessions() as s:
        card = desk_state(s, ids["op2"], now=NOW)["call"]
    assert card["found_by"] == "number"
    assert [c["account"] for c in card["customers"]] == ["300100000001", "300100000002"]
    assert card["customers"][1]["balance"] is None and card["notice"] is None


def test_wrap_up_is_stored_with_the_call_and_makes_a_callback_with_its_deadline(rt: Runtime) -> None:
    ids = seed(rt)
    connect = connect_from(agent_connect("hl-call-1", OP1))
    assert connect is not None
    with db.transaction(rt.sessions) as s:
        store.record_connect(s, connect, NOW)
        assert store.open_call_ids(s) == {"hl-call-1"}
    with db.transaction(rt.sessions) as s:
        assert store.record_end(s, "hl-call-1", NOW + timedelta(seconds=95))
        assert not store.record_end(s, "hl-call-1", NOW + timedelta(seconds=96))  # once
    with db.transaction(rt.sessions) as s:
        with pytest.raises(store.DeskError, match="not connected to you"):
            store.wrap_up(s, ids["op2"], "op2", store.WrapUp("hl-call-1", "Другое"), TOPICS, NOW, deadlines())
        with pytest.raises(store.DeskError, match="unknown topic"):
            store.wrap_up(s, ids["op1"], "op1", store.WrapUp("hl-call-1", "Погода"), TOPICS, NOW, deadlines())
        with pytest.raises(store.DeskError, match="not complaint"):
            store.wrap_up(s, ids["op1"], "op1", store.WrapUp("hl-call-1", "Другое", task=TaskKind.COMPLAINT),
                          TOPICS, NOW, deadlines())
        with pytest.raises(NotFoundError):
            store.wrap_up(s, ids["op1"], "op1", store.WrapUp("nope", "Другое"), TOPICS, NOW, deadlines())
    at = NOW + timedelta(minutes=2)
    with db.transaction(rt.sessions) as s:
        store.wrap_up(s, ids["op1"], "op1", store.WrapUp("hl-call-1", "Задолженность и оплата",
                                                         "  обещал оплатить  ", TaskKind.CALLBACK),
                      TOPICS, at, deadlines())
    with rt.sessions() as s:
        call = s.scalar(select(DeskCall).where(DeskCall.call_id == "hl-call-1"))
        assert call is not None and call.task_id is not None
        task = s.get(HotlineTask, call.task_id)
        assert (call.topic, call.note, call.wrapped_at) == ("Задолженность и оплата", "обещал оплатить", at)
        assert task is not None and task.kind == "callback" and task.caller == CALLER
        assert task.account == "300100000001" and task.deadline == deadlines().for_kind(TaskKind.CALLBACK, at)
        assert desk_state(s, ids["op1"], now=at)["call"] is None  # wrapped: the desk is free
        days = {d.login: d for d in store.operators_today(s, NOW - timedelta(hours=1))}
        assert (days["op1"].handled, days["op1"].mean_handling_s, days["op1"].on_call) == (1, 95.0, False)
        assert (days["op2"].handled, days["op2"].mean_handling_s) == (0, None)
        # the customer's history: the next call's card lists this one
    nxt = connect_from(agent_connect("hl-call-2", OP2, chan_vars={"AUTOINFORM_HL_ACCOUNT": "300100000001"}))
    assert nxt is not None
    with db.transaction(rt.sessions) as s:
        store.record_connect(s, nxt, at + timedelta(hours=1))
    with rt.sessions() as s:
        card = desk_state(s, ids["op2"], now=at)["call"]
    assert [(h["topic"], h["note"]) for h in card["history"]] == [("Задолженность и оплата", "обещал оплатить")]
    assert len(card["open_tasks"]) == 2


def test_an_ended_call_waits_for_its_wrap_up_and_the_supervisor_sees_it(rt: Runtime) -> None:
    ids = seed(rt)
    for cid, t in (("c1", NOW), ("c2", NOW + timedelta(minutes=5))):
        c = connect_from(agent_connect(cid, OP1))
        assert c is not None
        with db.transaction(rt.sessions) as s:
            store.record_connect(s, c, t)
    with db.transaction(rt.sessions) as s:
        store.record_end(s, "c1", NOW + timedelta(seconds=30))
    with rt.sessions() as s:
        assert desk_state(s, ids["op1"], now=NOW)["call"]["call_id"] == "c2"  # the one on the line first
        day = {d.login: d for d in store.operators_today(s, NOW - timedelta(hours=1))}["op1"]
        assert day.on_call and day.wrapping_up and day.handled == 1
