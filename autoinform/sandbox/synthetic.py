"""A ready-to-run synthetic e-mail campaign of N customers, written with bulk inserts.

For load tests, crash tests and benchmarks, where importing a file would measure the importer.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

from autoinform import campaigns, db
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
    User,
    utcnow,
)
from autoinform.runtime import Runtime
from autoinform.scenarios import load_scenario
from autoinform.scenarios.store import snapshot
from autoinform.users import add_user

SPECIALIST, MANAGER = "load.specialist", "load.manager"


def email_campaign(rt: Runtime, customers: int, scenario_file: Path, *, name: str = "load",
                   first_account: int = 500_000_000, hours: float = 2.0) -> int:
    """Create, approve and start an e-mail campaign for `customers` synthetic customers; its id."""
    with db.transaction(rt.sessions) as s:
        have = set(s.scalars(select(User.login)))
        if SPECIALIST not in have:
            add_user(s, SPECIALIST, Role.SPECIALIST, actor="synthetic")
        if MANAGER not in have:
            add_user(s, MANAGER, Role.MANAGER, actor="synthetic")
        lst = ContactList(name=name, complete=True, rows_read=customers, rows_imported=customers)
        s.add(lst)
        s.flush()
        accounts = [str(first_account + i) for i in range(customers)]
        s.execute(insert(Customer), [{"account": a, "name": f"Клиент {a}", "group": 1, "address": ""}
                                     for a in accounts])
        ids = dict(s.execute(select(Customer.account, Customer.id).where(Customer.account.in_(accounts))).all())
        s.execute(insert(ContactPoint), [
            {"customer_id": ids[a], "channel": Channel.EMAIL, "value": f"c{a}@example.ru",
             "line_type": LineType.EMAIL, "source": ContactSource.VOLUNTARY, "consent": True}
            for a in accounts])
        s.execute(insert(ListRow), [
            {"list_id": lst.id, "customer_id": ids[a], "row_number": n, "variables": {"debt": 100 * n + 7}}
            for n, a in enumerate(accounts, 1)])
        # Each row's own contact, as the importer links them (a campaign writes to these only).
        s.execute(insert(ListRowContact).from_select(
            ["list_row_id", "contact_point_id", "position"],
            select(ListRow.id, ContactPoint.id, ContactPoint.id)
            .join(ContactPoint, ContactPoint.customer_id == ListRow.customer_id)
            .where(ListRow.list_id == lst.id)))
        version = snapshot(s, load_scenario(scenario_file))
        now = utcnow()
        c = campaigns.create(s, name=name, scenario=version, contact_list=lst, channels=[Channel.EMAIL],
                             start_at=now - timedelta(minutes=1), end_at=now + timedelta(hours=hours),
                             actor=SPECIALIST)
        cid = c.id
    with db.transaction(rt.sessions) as s:
        campaigns.approve(s, cid, MANAGER)
        campaigns.start(s, cid, SPECIALIST)
    return cid
