"""Fixtures for the desk (issue 13): operators with phones, customers, a transferred notice."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from autoinform import db
from autoinform.desk import store
from autoinform.models import (
    AccountBalance,
    Attempt,
    BillingImport,
    Channel,
    Delivery,
    HotlineCall,
    HotlineTask,
    MeterReading,
    Role,
    User,
)
from autoinform.runtime import Runtime
from autoinform.users import add_user
from ivr.ami.protocol import Event
from tests.engine.builders import Person, campaign, users

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
CALLER = "89001234567"  # as Asterisk's CallerIDNum gives it
CALLER_E164 = "+79001234567"
OP1, OP2 = "Local/s@test-desk-op1/n", "Local/s@test-desk-op2/n"


def agent_connect(call_id: str, interface: str, *, queue: str = "operators", hold: str = "7",
                  caller: str = CALLER, chan_vars: dict[str, str] | None = None) -> Event:
    fields = [("Event", "AgentConnect"), ("Channel", "Local/s@x-0001;1"), ("CallerIDNum", caller),
              ("Uniqueid", call_id), ("Linkedid", call_id), ("DestChannel", f"{interface};1"),
              ("DestUniqueid", "1700000000.9"), ("Queue", queue), ("MemberName", interface),
              ("Interface", interface), ("HoldTime", hold), ("RingTime", "1")]
    fields += [("ChanVariable", f"{k}={v}") for k, v in (chan_vars or {}).items()]
    return Event(tuple(fields))


def seed(rt: Runtime) -> dict[str, int]:
    """Two operators with phones, a manager; two customers sharing the caller's number, one with a
    balance, readings and an open callback; a notification attempt that said something."""
    users(rt)
    built = campaign(rt, [Person("300100000001", phone=CALLER_E164), Person("300100000002", phone=CALLER_E164),
                          Person("300100000003", phone="+79007654321")],
                     channels=[Channel.PHONE], start=NOW - timedelta(hours=1), name="desk")
    ids: dict[str, int] = {"campaign": built.campaign_id}
    with db.transaction(rt.sessions) as s:
        for login, role in (("op1", Role.OPERATOR), ("op2", Role.OPERATOR), ("boss", Role.MANAGER),
                            ("view", Role.VIEWER)):
            existing = s.scalar(select(User).where(User.login == login))
            ids[login] = (existing or add_user(s, login, role)).id
        store.set_phone(s, "op1", OP1, actor="admin")
        store.set_phone(s, "op2", OP2, actor="admin")
        imp = BillingImport(source_file="b.csv", complete=True)
        s.add(imp)
        s.flush()
        s.add(AccountBalance(account="300100000001", amount_kopecks=123456, as_of=date(2026, 12, 1),
                             import_id=imp.id))
        s.add(MeterReading(account="300100000001", register="single", value=4567, source="phone", at=NOW))
        task = HotlineTask(kind="callback", caller=CALLER, account="300100000001", call_id="old-call",
                           deadline=NOW + timedelta(hours=8), created_at=NOW - timedelta(hours=1))
        s.add(task)
        delivery = s.query(Delivery).filter(Delivery.campaign_id == built.campaign_id).order_by(Delivery.id).first()
        assert delivery is not None
        attempt = Attempt(delivery_id=delivery.id, channel=Channel.PHONE, destination=CALLER_E164,
                          started_at=NOW - timedelta(minutes=2), content="",
                          detail={"prompts": [{"step": "debt", "prompts": ["p1"],
                                               "text": "Задолженность 1234 рубля 56 копеек."}],
                                  "keys": [{"key": "0", "at": "2026-12-02T06:59:00+00:00"}]})
        s.add(attempt)
        s.add(HotlineCall(call_id="hl-call-1", caller=CALLER, started_at=NOW - timedelta(seconds=50),
                          menu_path=["balance", "operator"], account="300100000001"))
        s.flush()
        ids |= {"task": task.id, "attempt": attempt.id}
    return ids

