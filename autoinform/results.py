"""Results as evidence (AI-2, AI-14): a customer's notice history, and stop-list uploads."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from autoinform.accounts import parse_account
from autoinform.errors import ImportFileError, NotFoundError
from autoinform.importing.export import excel_safe
from autoinform.importing.headers import Field, match_field
from autoinform.importing.reader import SAMPLE_BYTES, detect_delimiter, detect_encoding
from autoinform.models import Attempt, Campaign, Customer, Delivery, StopEntry
from autoinform.reasons import attempt_text, describe
from autoinform.sendgate import STOP_LIST, bump
from autoinform.users import audit

HISTORY_COLUMNS = ("campaign_id", "campaign", "delivery_id", "final_outcome", "final_reason", "final_reason_text",
                   "attempt_id", "channel", "destination", "started_at", "ended_at", "outcome", "reason",
                   "reason_text", "disposition", "provider_id", "possible_duplicate_of", "content")


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
        # Why, in words, beside each code (issue 9 item 2): a render failure's missing variable, what
        # the channel or provider said.
        "final_reason_text": describe(d.reason, d.reason_text) if d.outcome else None,
        "attempt_id": a.id, "channel": a.channel.value, "destination": a.destination,
        "started_at": a.started_at.isoformat(), "ended_at": a.ended_at.isoformat() if a.ended_at else None,
        "outcome": a.outcome.value if a.outcome else None, "reason": a.reason,
        "reason_text": attempt_text(a.reason, a.detail, a.disposition) if a.outcome else None,
        "disposition": a.disposition,
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


@dataclass(frozen=True)
class BadLine:
    line: int  # as a text editor numbers it
    text: str
    reason: str


@dataclass
class StopFile:
    """What a stop-list file holds: its accounts in file order, and every line that is not one."""

    accounts: list[str] = field(default_factory=list)
    rejected: list[BadLine] = field(default_factory=list)
    header: bool = False
    duplicates: int = 0  # repeated accounts, added once


STOP_REASON = re.compile(r"[a-z][a-z0-9_]{0,63}")  # Delivery.reason: the dispatcher ends notices with it


def stop_reason(text: str) -> str:
    """A stop reason as deliveries and reports carry it: 'paid', 'moved_out', …"""
    reason = text.strip()
    if not STOP_REASON.fullmatch(reason):
        raise ValueError(f"a stop reason is a short lower-case word (a-z, 0-9, _; up to 64): {text!r}")
    return reason


def _header_account_column(cells: list[str]) -> int | None:
    """The account column if `cells` is a header line (it names known columns), else None.

    Decided by the header's text ("Лицевой счёт", "ЛС", "account", and the list import's other
    column names), never by a cell failing to parse: an account may well contain letters.
    """
    fields = [match_field(c) for c in cells]
    if not any(fields):
        return None
    if Field.ACCOUNT not in fields:
        return -1  # a header without an account column
    return fields.index(Field.ACCOUNT)


def read_stop_file(path: Path) -> StopFile:
    """Accounts from a stop-list file: one per line, or a CSV (`;`, `,` or tab) whose account column
    is named by a header or is the first column. UTF-8 (with or without BOM) or CP1251.

    Accounts follow the list import's syntax (autoinform.accounts). A line that is not an account
    is kept in `rejected` with its line number and why; the others are still read.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(str(path), exc.strerror or str(exc)) from None
    if not raw.strip(b" \t\r\n" + codecs.BOM_UTF8):
        raise ImportFileError(str(path), "empty file")
    encoding = detect_encoding(str(path), raw[:SAMPLE_BYTES])
    text = raw.decode(encoding, errors="replace")
    delimiter = detect_delimiter(next((line for line in text.splitlines() if line.strip()), ""))
    out = StopFile()
    seen: set[str] = set()
    column = 0
    first = True
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            out.rejected.append(BadLine(line, "", f"malformed CSV ({exc})"))
            line = reader.line_num + 1
            continue
        number, line = line, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue  # blank lines are not entries
        shown = delimiter.join(cells)[:200]
        if first:
            first = False
            header = _header_account_column(cells)
            if header is not None:
                if header < 0:
                    raise ImportFileError(str(path), f"line {number}: the header names no account column "
                                                     f"({shown!r})")
                out.header, column = True, header
                continue
        if "\ufffd" in shown:
            out.rejected.append(BadLine(number, shown, f"bytes that are not valid {encoding}"))
            continue
        try:
            account = parse_account(cells[column] if column < len(cells) else "")
        except ValueError as exc:
            out.rejected.append(BadLine(number, shown, str(exc)))
            continue
        if account in seen:
            out.duplicates += 1
        else:
            seen.add(account)
            out.accounts.append(account)
    return out


def add_stops(session: Session, accounts: Iterable[str], *, reason: str, source: str, actor: str,
              rejected: int = 0) -> int:
    """Put `accounts` on the stop list with `reason`, which each entry keeps (the dispatcher ends
    their pending notices with it)."""
    bump(session, STOP_LIST)  # first: sends in flight see these entries (sendgate.py)
    reason = stop_reason(reason)
    now = datetime.now(UTC)
    rows = [{"account": a, "reason": reason, "source": source[:200], "created_at": now} for a in accounts]
    if rows:
        session.execute(insert(StopEntry), rows)
    audit(session, actor, "stoplist.add", "stop_list", source, accounts=len(rows), reason=reason,
          rejected_lines=rejected)
    return len(rows)


def unknown_accounts(session: Session, accounts: Sequence[str]) -> list[str]:
    """The accounts no customer has: a stop for them stops nothing (a list imported later is newer
    than the stop), so they are reported, not added (issue 9: bad data never passes silently)."""
    known: set[str] = set()
    for i in range(0, len(accounts), 1000):
        known.update(session.scalars(select(Customer.account).where(Customer.account.in_(accounts[i:i + 1000]))))
    return [a for a in accounts if a not in known]


STOP_COLUMNS = ("id", "account", "reason", "source", "created_at")


def list_stops(session: Session, *, account: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Stop-list entries, newest first, each with the reason it was stored with."""
    q = select(StopEntry).order_by(StopEntry.id.desc()).limit(limit)
    if account is not None:
        q = q.where(StopEntry.account == account)
    return [{"id": e.id, "account": e.account, "reason": e.reason, "source": e.source,
             "created_at": e.created_at.isoformat()} for e in session.scalars(q)]
