"""Report test data written straight through the models: campaigns whose deliveries have ended on
several channels, in several divisions and customer groups, at several hours, with attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from autoinform import db
from autoinform.models import (
    Attempt,
    Campaign,
    CampaignState,
    Channel,
    ContactList,
    Customer,
    Delivery,
    DeliveryState,
    Division,
    ListRow,
    Outcome,
    Role,
    ScenarioVersion,
)
from autoinform.runtime import Runtime
from autoinform.users import add_user

# Monday 7 December 2026; Astrakhan is UTC+4, so 06:00 UTC is 10:00 local.
DAY1 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
EVIL = '=HYPERLINK("http://evil.example/x","click")'
ODD = "Сидоров\x01 Семён"


@dataclass(frozen=True)
class Row:
    """One customer of a seeded campaign and how their notice went."""

    division: str | None
    group: int
    channel: Channel
    outcome: Outcome | None  # None: still pending
    reason: str | None
    attempts: int
    at: datetime  # first attempt; each next one an hour later; the result at the last


CAMPAIGN_A = [  # 12 customers: three channels, four divisions (one unknown), groups 1-3
    Row("central", 1, Channel.PHONE, Outcome.POSITIVE, "answered", 1, DAY1),
    Row("central", 1, Channel.PHONE, Outcome.NEGATIVE, "no_answer", 3, DAY1),
    Row("central", 2, Channel.SMS, Outcome.POSITIVE, "delivered", 1, DAY1 + timedelta(hours=2)),
    Row("harabali", 1, Channel.SMS, Outcome.NEGATIVE, "undelivered", 2, DAY1 + timedelta(hours=1)),
    Row("harabali", 3, Channel.EMAIL, Outcome.POSITIVE, "accepted", 1, DAY1 + timedelta(hours=3)),
    Row("akhtubinsk", 1, Channel.EMAIL, Outcome.NEGATIVE, "bounced", 1, DAY1 + timedelta(hours=3)),
    Row("akhtubinsk", 2, Channel.PHONE, Outcome.POSITIVE, "answered", 2, DAY2),
    Row("akhtubinsk", 2, Channel.PHONE, Outcome.POSITIVE, "answered", 1, DAY2 + timedelta(hours=5)),
    Row(None, 3, Channel.SMS, Outcome.POSITIVE, "delivered", 1, DAY2 + timedelta(hours=4)),
    Row(None, 1, Channel.PHONE, Outcome.NEGATIVE, "window_closed", 0, DAY2 + timedelta(hours=9)),
    Row("central", 1, Channel.PHONE, None, None, 1, DAY2 + timedelta(hours=1)),
    Row("harabali", 2, Channel.EMAIL, None, None, 0, DAY2),
]
CAMPAIGN_B = [  # a second campaign a week later: the period report spans both
    Row("central", 1, Channel.SMS, Outcome.POSITIVE, "delivered", 1, DAY1 + timedelta(days=7)),
    Row("liman", 4, Channel.EMAIL, Outcome.NEGATIVE, "bounced", 1, DAY1 + timedelta(days=7, hours=2)),
    Row("liman", 4, Channel.EMAIL, Outcome.POSITIVE, "accepted", 1, DAY1 + timedelta(days=8)),
]


def users(rt: Runtime) -> None:
    with db.transaction(rt.sessions) as s:
        add_user(s, "spec", Role.SPECIALIST)
        add_user(s, "boss", Role.MANAGER)
        add_user(s, "oper", Role.OPERATOR)


def _destination(channel: Channel, n: int) -> str:
    if channel is Channel.EMAIL:
        return f"client{n}@mail.example.ru"
    return f"+7927123{n % 10000:04d}"


def seed(rt: Runtime, name: str, rows: list[Row], *, first_account: int, evil_first: bool = False,
         odd_first: bool = False) -> int:
    """A completed campaign with `rows`; returns its id. The first customer may be named EVIL, or
    ODD (a control character, as a careless billing export may carry)."""
    with db.transaction(rt.sessions) as s:
        divisions = {d.code: d.id for d in s.scalars(select(Division))}
        lst = ContactList(name=f"list-{name}", complete=True, rows_read=len(rows), rows_imported=len(rows))
        sv = ScenarioVersion(name="debt", version=1, sha256=name, source="name: debt")
        s.add_all([lst, sv])
        s.flush()
        camp = Campaign(name=name, scenario_id=sv.id, list_id=lst.id, channels=["phone", "sms", "email"],
                        start_at=rows[0].at - timedelta(hours=1), end_at=rows[0].at + timedelta(days=3),
                        state=CampaignState.COMPLETED, created_by="spec", approved_by="boss")
        s.add(camp)
        s.flush()
        for i, r in enumerate(rows):
            n = first_account + i
            name_ = EVIL if evil_first and i == 0 else ODD if odd_first and i == 0 else f"Иванов Пётр {n}"
            c = Customer(account=f"{n:012d}", name=name_,
                         group=r.group, division_id=divisions[r.division] if r.division else None)
            s.add(c)
            s.flush()
            row = ListRow(list_id=lst.id, customer_id=c.id, row_number=i + 1, variables={})
            s.add(row)
            s.flush()
            last = r.at + timedelta(hours=max(r.attempts - 1, 0))
            d = Delivery(campaign_id=camp.id, customer_id=c.id, list_row_id=row.id, channel=r.channel,
                         state=DeliveryState.DONE if r.outcome else DeliveryState.PENDING, next_attempt_at=r.at,
                         attempts=r.attempts, outcome=r.outcome, reason=r.reason,
                         finished_at=last if r.outcome else None)
            s.add(d)
            s.flush()
            for k in range(r.attempts):
                final = k == r.attempts - 1 and r.outcome is not None
                s.add(Attempt(delivery_id=d.id, channel=r.channel, destination=_destination(r.channel, n),
                              started_at=r.at + timedelta(hours=k), ended_at=r.at + timedelta(hours=k, minutes=1),
                              outcome=r.outcome if final else Outcome.NEGATIVE if k < r.attempts - 1 else None,
                              reason=r.reason if final else "busy"))
        return camp.id
