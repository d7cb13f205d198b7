"""Read side of stored lists: find by name or id, summaries for the CLI and the web."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autoinform.errors import NotFoundError
from autoinform.models import ContactList, ContactPoint, Customer, ListRejection, ListRow, ListRowContact


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
    kinds = session.execute(
        select(ListRejection.kind, func.count()).where(ListRejection.list_id == lst.id)
        .group_by(ListRejection.kind)).all()
    return {
        **list_info(lst),
        "by_group": {str(g): n for g, n in groups},
        "contact_points": [{"channel": str(c), "line_type": str(t), "count": n} for c, t, n in channels],
        "report_entries": {str(k): n for k, n in kinds},
    }
