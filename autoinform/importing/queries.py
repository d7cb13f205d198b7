"""Read side of stored lists: find by name or id, summaries for the CLI and the web."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autoinform.errors import NotFoundError
from autoinform.importing.headers import HEADER_ROW
from autoinform.models import Channel, ContactList, ContactPoint, Customer, ListRejection, ListRow, ListRowContact


def find_list(session: Session, key: str) -> ContactList:
    """A list by exact name, or by id when `key` is a number and no list has that name."""
    found = session.scalars(select(ContactList).where(ContactList.name == key)).first()
    if found is None and key.isdigit():
        found = session.get(ContactList, int(key))
    if found is None:
        raise NotFoundError("list", key)
    return found


def list_info(lst: ContactList) -> dict[str, Any]:
    return {"id": lst.id, "name": lst.name, "source_file": lst.source_file, "sha256": lst.sha256,
            "created_by": lst.created_by, "created_at": lst.created_at.isoformat(),
            "rows_read": lst.rows_read, "imported": lst.rows_imported, "merged": lst.rows_merged,
            "rejected": lst.rows_rejected, "complete": lst.complete}


def all_lists(session: Session) -> list[dict[str, Any]]:
    return [list_info(lst) for lst in session.scalars(select(ContactList).order_by(ContactList.id))]


def list_summary(session: Session, lst: ContactList) -> dict[str, Any]:
    """The list with its rows by customer group and the contact points its rows can be reached on
    (the rows' own, not superseded since: what a campaign on the list writes to)."""
    groups = session.execute(
        select(Customer.group, func.count()).join(ListRow, ListRow.customer_id == Customer.id)
        .where(ListRow.list_id == lst.id).group_by(Customer.group).order_by(Customer.group)).all()
    channels = session.execute(
        select(ContactPoint.channel, ContactPoint.line_type, func.count())
        .join(ListRowContact, ListRowContact.contact_point_id == ContactPoint.id)
        .join(ListRow, ListRow.id == ListRowContact.list_row_id)
        .where(ListRow.list_id == lst.id, ContactPoint.superseded_at.is_(None))
        .group_by(ContactPoint.channel, ContactPoint.line_type)
        .order_by(ContactPoint.channel, ContactPoint.line_type)).all()
    # Customers a campaign on this list can reach on each channel: a row counts once per channel
    # when one of its own current contacts there has consent and no opt-out (AI-11).
    reachable = dict(session.execute(
        select(ContactPoint.channel, func.count(func.distinct(ListRow.id)))
        .join(ListRowContact, ListRowContact.contact_point_id == ContactPoint.id)
        .join(ListRow, ListRow.id == ListRowContact.list_row_id)
        .where(ListRow.list_id == lst.id, ContactPoint.superseded_at.is_(None), ContactPoint.consent.is_(True),
               ContactPoint.opted_out_at.is_(None))
        .group_by(ContactPoint.channel)).all())
    data_row = ListRejection.row_number > HEADER_ROW
    kinds = session.execute(
        select(ListRejection.kind, func.count(), func.count(func.distinct(ListRejection.row_number)))
        .where(ListRejection.list_id == lst.id, data_row).group_by(ListRejection.kind)).all()
    entries = {str(k): n for k, n, _ in kinds}
    rows = {str(k): n for k, _, n in kinds}
    notes = list(session.scalars(select(ListRejection.reason).where(
        ListRejection.list_id == lst.id, ~data_row).order_by(ListRejection.id)))
    return {
        **list_info(lst),
        "by_group": {str(g): n for g, n in groups},
        "reachable": {str(ch): int(reachable.get(ch, 0)) for ch in Channel},
        "contact_points": [{"channel": str(c), "line_type": str(t), "count": n} for c, t, n in channels],
        "rows_with_warnings": rows.get("warning", 0),
        "report_entries": {"rejected": entries.get("rejected", 0), "warning": entries.get("warning", 0)},
        "notes": notes,
    }
