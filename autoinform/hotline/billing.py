"""`autoinform billing import`: the billing system's balance export → the latest balance per
account (HL-8), which the hotline speaks.

The file is read as a list import reads it (autoinform.importing.reader: CSV in UTF-8 or CP1251 with
`;` `,` or tab, or XLSX; the same whole-file errors). Columns: the account (the list import's names
for it), the balance ("Сальдо", "Задолженность", "Сумма долга"…: > 0 a debt, < 0 an overpayment)
and the date it is valid for ("Дата", "На дату"…; or `as_of` for the whole file).

Every data row read is exactly one of: stored (now the account's balance), older (a balance of a
later date is already stored, or an earlier row of this file has a later or the same date: an older
export never overwrites a newer balance) or rejected (with its reason in billing_rejections).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from autoinform import db
from autoinform.accounts import parse_account
from autoinform.errors import ImportFileError
from autoinform.importing.export import excel_safe
from autoinform.importing.headers import Field, header_key, match_field
from autoinform.importing.importer import file_sha256
from autoinform.importing.reader import BadRecord, Record, open_table
from autoinform.importing.values import parse_date, parse_kopecks
from autoinform.models import AccountBalance, BillingImport, BillingRejection, Customer
from autoinform.runtime import Runtime
from autoinform.users import audit

log = logging.getLogger(__name__)

BATCH = 2000
_BALANCE_ALIASES = ("сальдо", "баланс", "сальдо на дату", "конечное сальдо", "сальдо конечное",
                    "сумма", "balance", "amount")
_DATE_ALIASES = ("дата", "на дату", "дата сальдо", "дата расчета", "дата выгрузки", "по состоянию на",
                 "as of", "as_of", "date", "balance date")
_BALANCE_KEYS = {header_key(a) for a in _BALANCE_ALIASES}
_DATE_KEYS = {header_key(a) for a in _DATE_ALIASES}


@dataclass
class BillingReport:
    import_id: int
    source_file: str
    format: str
    encoding: str
    rows_read: int = 0
    stored: int = 0
    older: int = 0
    rejected: int = 0
    complete: bool = False
    reasons: dict[str, int] = field(default_factory=dict)  # rejection reason → rows

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.stored + self.older + self.rejected

    def equation(self) -> str:
        return (f"read = stored + older + rejected: {self.rows_read} = {self.stored} + {self.older} + "
                f"{self.rejected}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "balanced": self.balanced}


@dataclass(frozen=True)
class Columns:
    account: int
    balance: int
    as_of: int | None
    headers: tuple[str, ...]


def map_columns(path: str, headers: list[str], *, have_as_of: bool) -> Columns:
    """Which column is which; a missing one is a whole-file error naming what was found."""
    account = balance = as_of = None
    for i, raw in enumerate(headers):
        key = header_key(raw)
        if not key:
            continue
        f = match_field(raw)
        if f is Field.ACCOUNT and account is None:
            account = i
        elif (f is Field.DEBT or key in _BALANCE_KEYS) and balance is None:
            balance = i
        elif (f is Field.DUE_DATE or key in _DATE_KEYS) and as_of is None:
            as_of = i
    found = ", ".join(h.strip() for h in headers)[:300]
    if account is None:
        raise ImportFileError(path, f"no account column ('Лицевой счёт', 'л/с'…); headers found: {found}")
    if balance is None:
        raise ImportFileError(path, f"no balance column ('Сальдо', 'Задолженность', 'Сумма долга'…); "
                                    f"headers found: {found}")
    if as_of is None and not have_as_of:
        raise ImportFileError(path, f"no date column ('Дата', 'На дату'…): give the date the balances "
                                    f"are valid for with --as-of; headers found: {found}")
    return Columns(account, balance, as_of, tuple(h.strip() for h in headers))


@dataclass(frozen=True)
class BalanceRow:
    number: int
    account: str
    kopecks: int
    as_of: date


@dataclass(frozen=True)
class Rejected:
    number: int
    column: str
    reason: str
    raw: str


def parse_row(rec: Record, cols: Columns, default_as_of: date | None) -> BalanceRow | Rejected:
    """One data row → a balance, or the reason it is rejected (pure)."""
    cells = rec.cells
    raw = ";".join(cells)[:500]

    def cell(i: int) -> str:
        return cells[i] if i < len(cells) else ""

    if "\ufffd" in raw:
        return Rejected(rec.number, "", "байты, не читаемые в кодировке файла", raw)
    try:
        account = parse_account(cell(cols.account))
    except ValueError as exc:
        return Rejected(rec.number, cols.headers[cols.account], f"лицевой счёт: {exc}", raw)
    try:
        kopecks = parse_kopecks(cell(cols.balance))
    except ValueError as exc:
        return Rejected(rec.number, cols.headers[cols.balance], str(exc), raw)
    if kopecks is None:
        return Rejected(rec.number, cols.headers[cols.balance], "пусто: нужна сумма сальдо", raw)
    as_of = default_as_of
    if cols.as_of is not None:
        try:
            as_of = parse_date(cell(cols.as_of)) or default_as_of
        except ValueError as exc:
            return Rejected(rec.number, cols.headers[cols.as_of], str(exc), raw)
        if as_of is None:
            return Rejected(rec.number, cols.headers[cols.as_of], "пусто: нужна дата сальдо", raw)
    assert as_of is not None  # map_columns: a date column or a default
    return BalanceRow(rec.number, account, kopecks, as_of)


class _Importer:
    def __init__(self, rt: Runtime, report: BillingReport, today: date) -> None:
        self.rt = rt
        self.report = report
        self.today = today
        self.seen: dict[str, tuple[date, int]] = {}  # account → (as_of, kopecks) of its row in this file
        self.rows: list[BalanceRow] = []
        self.rejected: list[Rejected] = []

    def reject(self, r: Rejected) -> None:
        self.rejected.append(r)
        self.report.rejected += 1
        key = r.reason.split(":")[0][:60]
        self.report.reasons[key] = self.report.reasons.get(key, 0) + 1

    def add(self, row: BalanceRow) -> None:
        if row.as_of > self.today:
            self.reject(Rejected(row.number, "", f"дата сальдо {row.as_of:%d.%m.%Y} в будущем",
                                 f"{row.account};{row.kopecks};{row.as_of}"))
            return
        earlier = self.seen.get(row.account)
        if earlier is not None:
            if earlier[0] == row.as_of and earlier[1] != row.kopecks:
                self.reject(Rejected(row.number, "", "лицевой счёт повторяется с другой суммой на ту же "
                                                     "дату: действует первая строка счёта",
                                     f"{row.account};{row.kopecks};{row.as_of}"))
                return
            if earlier[0] >= row.as_of:
                self.report.older += 1
                return
        self.seen[row.account] = (row.as_of, row.kopecks)
        self.rows.append(row)

    def flush(self) -> None:
        rows, rejected = self.rows, self.rejected
        self.rows, self.rejected = [], []
        with db.transaction(self.rt.sessions) as s:
            if rejected:
                s.execute(insert(BillingRejection), [
                    {"import_id": self.report.import_id, "row_number": r.number, "column": r.column[:100],
                     "reason": r.reason[:500], "raw": r.raw} for r in rejected])
            if rows:
                self._store(s, rows)

    def _store(self, s: Session, rows: list[BalanceRow]) -> None:
        # The last row of an account in the batch is the one `add` kept (a later date replaces).
        latest = {r.account: r for r in rows}
        superseded = len(rows) - len(latest)
        self.report.older += superseded
        accounts = list(latest)
        known = set(s.scalars(select(Customer.account).where(Customer.account.in_(accounts))))
        stored = dict(s.execute(select(AccountBalance.account, AccountBalance.as_of)
                                .where(AccountBalance.account.in_(accounts))).all())
        new, changed, unknown = [], [], []
        now = datetime.now(UTC)
        for account, r in latest.items():
            if account not in known:
                unknown.append(r)
                continue
            values = {"account": account, "amount_kopecks": r.kopecks, "as_of": r.as_of,
                      "import_id": self.report.import_id, "updated_at": now}
            if account not in stored:
                new.append(values)
            elif stored[account] <= r.as_of:
                changed.append(values)
            else:
                self.report.older += 1
        if new:
            s.execute(insert(AccountBalance), new)
        if changed:  # ORM bulk UPDATE by primary key: one executemany
            s.execute(update(AccountBalance), changed)
        self.report.stored += len(new) + len(changed)
        if unknown:
            self.report.rejected += len(unknown)
            self.report.reasons["лицевой счёт не найден"] = self.report.reasons.get(
                "лицевой счёт не найден", 0) + len(unknown)
            s.execute(insert(BillingRejection), [
                {"import_id": self.report.import_id, "row_number": r.number, "column": "",
                 "reason": "лицевой счёт не найден в базе клиентов (сначала импортируйте список)",
                 "raw": f"{r.account};{r.kopecks};{r.as_of}"} for r in unknown])


def import_balances(rt: Runtime, path: Path, *, actor: str = "", as_of: date | None = None,
                    today: date | None = None) -> BillingReport:
    """Import a balance export; whole-file problems raise ImportFileError before anything is stored."""
    today = today or datetime.now(rt.settings.tz).date()
    with open_table(path) as table:
        cols = map_columns(str(path), table.header, have_as_of=as_of is not None)
        with db.transaction(rt.sessions) as s:
            imp = BillingImport(source_file=path.name[:500], sha256=file_sha256(path), actor=actor[:64])
            s.add(imp)
            s.flush()
            import_id = imp.id
        report = BillingReport(import_id, path.name, table.kind, table.encoding)
        importer = _Importer(rt, report, today)
        for rec in table.records():
            report.rows_read += 1
            if isinstance(rec, BadRecord):
                importer.reject(Rejected(rec.number, "", rec.reason, rec.raw))
            else:
                parsed = parse_row(rec, cols, as_of)
                if isinstance(parsed, Rejected):
                    importer.reject(parsed)
                else:
                    importer.add(parsed)
            if len(importer.rows) + len(importer.rejected) >= BATCH:
                importer.flush()
        importer.flush()
    report.complete = True
    with db.transaction(rt.sessions) as s:
        s.execute(update(BillingImport).where(BillingImport.id == report.import_id).values(
            rows_read=report.rows_read, rows_stored=report.stored, rows_older=report.older,
            rows_rejected=report.rejected, complete=True))
        audit(s, actor or "cli", "billing.import", "billing_import", report.import_id,
              file=report.source_file, read=report.rows_read, stored=report.stored, older=report.older,
              rejected=report.rejected)
    log.info("billing import %d from %s: %s", report.import_id, report.source_file, report.equation())
    return report


REJECT_HEADER = ("Строка", "Столбец", "Причина", "Исходные данные")


def export_rejections(session: Session, import_id: int, path: Path) -> int:
    """The import's rejected rows as CSV Excel opens safely (UTF-8 BOM, `;`, formulas neutralised)."""
    rows = session.scalars(select(BillingRejection).where(BillingRejection.import_id == import_id)
                           .order_by(BillingRejection.row_number, BillingRejection.id))
    n = 0
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\r\n")
        w.writerow(REJECT_HEADER)
        for r in rows:
            w.writerow([excel_safe(v) for v in (r.row_number, r.column, r.reason, r.raw)])
            n += 1
    return n


def latest_balance(session: Session, account: str) -> AccountBalance | None:
    return session.get(AccountBalance, account)
