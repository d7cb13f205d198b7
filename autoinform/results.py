"""Results as evidence (AI-2, AI-14): a customer's notice history, and stop-list uploads."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from autoinform.errors import ImportFileError, NotFoundError
from autoinform.importing.export import excel_safe
from autoinform.models import Attempt, Campaign, Customer, Delivery, StopEntry
from autoinform.sendgate import STOP_LIST, bump
from autoinform.users import audit

HISTORY_COLUMNS = ("campaign_id", "campaign", "delivery_id", "final_outcome", "final_reason", "attempt_id",
                   "channel", "destination", "started_at", "ended_at", "outcome", "reason", "disposition",
                   "provider_id", "possible_duplicate_of", "content")


def account_history(session: Session, account: str) -> list[dict[str, Any]]:
    """Every attempt ever made for one account, oldest first; nothing is overwritten."""
    customer = session.scalar(select(Customer).where(Customer.account == account))
    if customer is None:
        raise NotFoundError("account", account)
    rows = session.execute(
        select(Campaign, Delivery, Attempt)
        .join(Delivery, Delivery.campaign_id == Campaign.id)
        .join(Attempt, Attempt.delivery_id == Delivery.id)
        .where(Delivery.customer_id == customer.id)
        .order_by(Attempt.id)).all()
    return [{
        "campaign_id": c.id, "campaign": c.name, "delivery_id": d.id,
        "final_outcome": d.outcome.value if d.outcome else None, "final_reason": d.reason,
        "attempt_id": a.id, "channel": a.channel.value, "destination": a.destination,
        "started_at": a.started_at.isoformat(), "ended_at": a.ended_at.isoformat() if a.ended_at else None,
        "outcome": a.outcome.value if a.outcome else None, "reason": a.reason, "disposition": a.disposition,
        "provider_id": a.provider_id, "possible_duplicate_of": a.duplicate_of, "content": a.content,
    } for c, d, a in rows]


def to_csv(rows: Iterable[dict[str, Any]], columns: Iterable[str] = HISTORY_COLUMNS) -> str:
    """UTF-8 with BOM and ';' so Excel opens Cyrillic as such; every cell formula-safe."""
    cols = list(columns)
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([excel_safe(r.get(c)) for c in cols])
    return buf.getvalue()


def read_accounts(path: Path) -> list[str]:
    """Accounts from a file: one per line, or a CSV whose first column (or 'account'/'лицевой счет')
    holds them. Blank lines are skipped; anything else non-numeric is an error naming the line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(str(path), exc.strerror or str(exc)) from None
    for enc in ("utf-8-sig", "cp1251"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError(str(path), "neither UTF-8 nor CP1251")
    accounts: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        cell = line.replace(",", ";").split(";")[0].strip().strip('"')
        if not cell:
            continue
        if n == 1 and not cell.isdigit():
            continue  # a header
        if not cell.replace("-", "").isdigit():
            raise ImportFileError(str(path), f"line {n}: {cell!r} is not an account number")
        accounts.append(cell)
    return accounts


def add_stops(session: Session, accounts: Iterable[str], *, reason: str, source: str, actor: str) -> int:
    bump(session, STOP_LIST)  # first: sends in flight see these entries (sendgate.py)
    n = 0
    for account in accounts:
        session.add(StopEntry(account=account, reason=reason, source=source))
        n += 1
    audit(session, actor, "stoplist.add", "stop_list", source, accounts=n, reason=reason)
    return n
