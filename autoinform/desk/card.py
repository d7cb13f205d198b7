"""What an operator's desk shows for the call on their line (issue 13 item 2): the caller, the
customer by the account typed in the IVR or by the number (several matches listed), the balance with
its date, the notice just heard when a notification call was transferred (campaign, text, keys),
the menu path and the wait, open tasks, recent readings and earlier calls with operators.

Shown in clear only to the operator the queue connected the call to (the topic of the live stream
is that user's own; store.record_connect audits the screen-pop)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from autoinform.desk import store
from autoinform.hotline.states import TaskState
from autoinform.importing.phones import PhoneError, normalise
from autoinform.models import (
    AccountBalance,
    Attempt,
    Campaign,
    Channel,
    ContactPoint,
    Customer,
    Delivery,
    DeskCall,
    HotlineCall,
    HotlineTask,
    MeterReading,
    User,
)

MAX_MATCHES = 10  # customers listed for one number


def e164(number: str) -> str | None:
    try:
        return normalise(number).e164
    except (PhoneError, ValueError):
        return None


def customers_for(session: Session, account: str | None, caller: str) -> tuple[str, list[Customer]]:
    """The customer by the account typed in the IVR, else everyone whose contract phone is the
    caller's number: ("account" | "number" | "none", customers)."""
    if account:
        row = session.scalar(select(Customer).where(Customer.account == account))
        if row is not None:
            return "account", [row]
    number = e164(caller) if caller else None
    if number:
        rows = list(session.scalars(select(Customer).join(ContactPoint, ContactPoint.customer_id == Customer.id)
                                    .where(ContactPoint.channel == Channel.PHONE.value, ContactPoint.value == number,
                                           ContactPoint.superseded_at.is_(None))
                                    .order_by(Customer.account).distinct().limit(MAX_MATCHES)))
        if rows:
            return "number", rows
    return "none", []


def _balance(session: Session, account: str) -> dict[str, Any] | None:
    row = session.get(AccountBalance, account)
    if row is None:
        return None
    return {"amount": str(Decimal(row.amount_kopecks) / 100), "as_of": row.as_of.isoformat(),
            "debt": row.amount_kopecks > 0}


def _notice(session: Session, attempt_id: int) -> dict[str, Any] | None:
    """What the notification call said before the customer pressed the operator key (AI-2 evidence)."""
    found = session.execute(select(Attempt, Delivery, Campaign).join(Delivery, Delivery.id == Attempt.delivery_id)
                            .join(Campaign, Campaign.id == Delivery.campaign_id)
                            .where(Attempt.id == attempt_id)).first()
    if found is None:
        return None
    attempt, _, campaign = found
    detail = attempt.detail or {}
    spoken = [p.get("text", "") for p in detail.get("prompts", []) if isinstance(p, dict) and p.get("text")]
    keys = [k.get("key", "") for k in detail.get("keys", []) if isinstance(k, dict)]
    return {"attempt_id": attempt.id, "campaign": campaign.name, "campaign_id": campaign.id,
            "text": " ".join(spoken) or attempt.content, "keys": keys, "started_at": attempt.started_at.isoformat()}


def _notified(session: Session, attempt_id: int) -> Customer | None:
    """The customer a transferred notification call was made to (its caller id is ours, not theirs)."""
    return session.scalar(select(Customer).join(Delivery, Delivery.customer_id == Customer.id)
                          .join(Attempt, Attempt.delivery_id == Delivery.id).where(Attempt.id == attempt_id))


def call_card(session: Session, call: DeskCall, *, readings: int = 5, now: datetime) -> dict[str, Any]:
    notified = _notified(session, call.attempt_id) if call.attempt_id else None
    how, customers = ("notice", [notified]) if notified is not None else \
        customers_for(session, call.account, call.caller)
    accounts = [c.account for c in customers] or ([call.account] if call.account else [])
    hotline = session.scalar(select(HotlineCall).where(HotlineCall.call_id == call.call_id))
    operator = session.get(User, call.operator_id) if call.operator_id else None
    open_tasks = list(session.scalars(
        select(HotlineTask).where(HotlineTask.state != TaskState.DONE.value,
                                  or_(HotlineTask.caller == call.caller, HotlineTask.account.in_(accounts)))
        .order_by(HotlineTask.deadline).limit(20))) if (call.caller or accounts) else []
    recent = list(session.scalars(select(MeterReading).where(MeterReading.account.in_(accounts))
                                  .order_by(MeterReading.at.desc()).limit(readings))) if accounts and readings else []
    return {
        "call_id": call.call_id,
        "operator": operator.login if operator else None,
        "caller": call.caller,
        "queue": call.queue,
        "connected_at": call.connected_at.isoformat(),
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "on_line": call.ended_at is None,
        "waited_s": call.hold_s,
        "account_typed": call.account,
        "found_by": how,
        "customers": [{"account": c.account, "name": c.name, "address": c.address,
                       "balance": _balance(session, c.account)} for c in customers],
        "balance": _balance(session, call.account) if call.account and not customers else None,
        "menu_path": list(hotline.menu_path) if hotline else [],
        "in_ivr_s": round((call.connected_at - hotline.started_at).total_seconds(), 1) if hotline else None,
        "notice": _notice(session, call.attempt_id) if call.attempt_id else None,
        "open_tasks": [{"id": t.id, "kind": t.kind, "state": t.state, "deadline": t.deadline.isoformat(),
                        "overdue": t.deadline < now, "note": t.note} for t in open_tasks],
        "readings": [{"account": r.account, "register": r.register, "value": r.value, "source": r.source,
                      "at": r.at.isoformat()} for r in recent],
        "history": [{"at": h.connected_at.isoformat(), "topic": h.topic, "note": h.note}
                    for h in store.history(session, call.account, call.caller, limit=5)
                    if h.call_id != call.call_id],
        "topic": call.topic,
        "wrapped": call.wrapped_at is not None,
    }


def desk_state(session: Session, user_id: int, *, readings: int = 5, now: datetime) -> dict[str, Any]:
    """The live state of one operator's desk: their phone and the card of their current call."""
    call = store.current_call(session, user_id)
    return {"user_id": user_id, "phone": store.phone_of(session, user_id),
            "call": call_card(session, call, readings=readings, now=now) if call is not None else None}
