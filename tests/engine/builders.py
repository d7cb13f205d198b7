"""Test data built through the models: customers with contacts, a list, users, a campaign."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from autoinform import campaigns, db
from autoinform.content import Content, EmailContent, PhoneContent, PhoneStep, Recipient, SmsContent
from autoinform.models import (
    Channel,
    ContactList,
    ContactPoint,
    ContactSource,
    Customer,
    LineType,
    ListRow,
    ListRowContact,
    Role,
    ScenarioVersion,
)
from autoinform.runtime import Runtime
from autoinform.scenarios import load_scenario
from autoinform.scenarios.store import snapshot
from autoinform.users import add_user


@dataclass
class Person:
    account: str
    email: str | None = None
    mobile: str | None = None  # voluntary, for SMS
    phone: str | None = None  # contract
    debt: int = 123456
    sms_consent: bool = True


class SimpleRenderer:
    """Renders debt reminders without scenario files: the dispatcher's tests are about dispatching."""

    def render(self, scenario_id: int, channel: Channel, r: Recipient) -> Content:
        debt = r.variables["debt"]
        if channel is Channel.EMAIL:
            return EmailContent(subject=f"Задолженность по л/с {r.account}", text=f"{r.name}: {debt} коп.")
        if channel is Channel.SMS:
            return SmsContent(text=f"Долг {debt} коп.", encoding="UCS-2", segments=1)
        return PhoneContent(steps=(PhoneStep("intro", ("x",), "долг", required=True),))


@dataclass
class Built:
    campaign_id: int
    list_id: int
    accounts: list[str] = field(default_factory=list)


def users(rt: Runtime) -> None:
    with db.transaction(rt.sessions) as s:
        add_user(s, "spec", Role.SPECIALIST)
        add_user(s, "boss", Role.MANAGER)


def campaign(rt: Runtime, people: list[Person], *, channels: list[Channel], start: datetime,
             end: datetime | None = None, approve: bool = True, launch: bool = True,
             name: str = "test", scenario_file: Path | None = None) -> Built:
    """With `scenario_file` the campaign stores that real scenario (for the engine's own renderer);
    without, a placeholder version for tests that render with SimpleRenderer."""
    with db.transaction(rt.sessions) as s:
        lst = ContactList(name=f"list-{name}", complete=True, rows_read=len(people),
                          rows_imported=len(people), created_at=start - timedelta(days=1))
        s.add(lst)
        if scenario_file is not None:
            sv = snapshot(s, load_scenario(scenario_file))
        else:
            sv = ScenarioVersion(name="debt", version=1, sha256=name, source="name: debt")
            s.add(sv)
            s.flush()
        for i, p in enumerate(people, 1):
            c = Customer(account=p.account, name=f"Клиент {p.account}", group=1)
            s.add(c)
            s.flush()
            points: list[ContactPoint] = []
            if p.email:
                points.append(ContactPoint(customer_id=c.id, channel=Channel.EMAIL, value=p.email,
                                           line_type=LineType.EMAIL, source=ContactSource.VOLUNTARY))
            if p.mobile:
                points.append(ContactPoint(customer_id=c.id, channel=Channel.SMS, value=p.mobile,
                                           line_type=LineType.MOBILE, source=ContactSource.VOLUNTARY,
                                           consent=p.sms_consent))
            if p.phone:
                points.append(ContactPoint(customer_id=c.id, channel=Channel.PHONE, value=p.phone,
                                           line_type=LineType.LANDLINE, source=ContactSource.CONTRACT))
            row = ListRow(list_id=lst.id, customer_id=c.id, row_number=i, variables={"debt": p.debt})
            s.add_all([*points, row])
            s.flush()
            # A campaign writes to its list row's contacts (issue 8 item 4), as the importer links them.
            s.add_all([ListRowContact(list_row_id=row.id, contact_point_id=cp.id, position=n)
                       for n, cp in enumerate(points)])
        camp = campaigns.create(s, name=name, scenario=sv, contact_list=lst, channels=channels,
                                start_at=start, end_at=end or start + timedelta(days=3), actor="spec")
        cid, lid = camp.id, lst.id
    if approve:
        with db.transaction(rt.sessions) as s:
            campaigns.approve(s, cid, "boss")
    if launch:
        with db.transaction(rt.sessions) as s:
            campaigns.start(s, cid, "spec", now=start)
    return Built(cid, lid, [p.account for p in people])
