"""`import_list`: a billing export → customers, contact points and one stored contact list (AI-4, AI-11).

The file is streamed in batches; each batch is one transaction. The list row is created first with
complete=False and marked complete only after the last batch, so an import that dies midway leaves
an incomplete list behind. Importing again under the same name replaces an incomplete list; a
complete list is never replaced (campaigns may already point at it): pick another name.

Counting: every data row read is exactly one of
- imported: a new row of the list (the customer is created, or updated when the account exists);
- merged: its account appeared earlier in the same file: its contacts are added to that customer,
  its other values are ignored, and a warning says so;
- rejected: not imported; the reasons are in the rejection report.
Warnings (a bad phone beside a good e-mail, an unknown division…) sit beside the rejections in the
report with kind="warning" and do not count as rejected rows.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from autoinform.errors import AutoinformError, ImportFileError
from autoinform.importing.headers import HEADER_ROW, Field, HeaderMap, header_notes, map_headers
from autoinform.importing.normalise import KIND_BITS, CustomerRow, Issue, RejectedRow, RowNormaliser
from autoinform.importing.reader import BadRecord, open_table
from autoinform.importing.store import BulkWriter, Row
from autoinform.importing.values import format_kopecks
from autoinform.models import (
    AuditEntry,
    Base,
    Channel,
    ContactList,
    ContactPoint,
    ContactSource,
    Customer,
    Division,
    ListRejection,
    ListRow,
    ListRowContact,
)
from autoinform.runtime import Runtime

log = logging.getLogger(__name__)

BATCH = 5000
NAME_MAX = 200  # ContactList.name
ACTOR_MAX = 64  # ContactList.created_by, AuditEntry.actor
SOURCE_MAX = 150  # file name in ContactPoint.source_ref (200 with ":row N")
KIND_REJECTED = "rejected"
KIND_WARNING = "warning"
DUPLICATE_WARNING = ("лицевой счёт повторяется: контакты строки добавлены к первой строке этого счёта, "
                     "остальные значения строки не учтены")
# The rule that decides between rows of one account, stated in every conflict warning.
DUPLICATE_RULE = ("действует первая строка счёта в файле; из следующих берутся только контакты")

customers_t = Base.metadata.tables[Customer.__tablename__]
contacts_t = Base.metadata.tables[ContactPoint.__tablename__]
rows_t = Base.metadata.tables[ListRow.__tablename__]
links_t = Base.metadata.tables[ListRowContact.__tablename__]
rejections_t = Base.metadata.tables[ListRejection.__tablename__]
lists_t = Base.metadata.tables[ContactList.__tablename__]
audit_t = Base.metadata.tables[AuditEntry.__tablename__]


class ListExistsError(AutoinformError):
    """A complete list already has this name; lists that campaigns may use are never replaced."""

    def __init__(self, name: str, list_id: int) -> None:
        super().__init__(f"a complete list named {name!r} already exists (id {list_id}); choose another name")
        self.name = name
        self.list_id = list_id


class ListInUseError(AutoinformError):
    """An incomplete list cannot be replaced because something (a campaign) already refers to it."""

    def __init__(self, name: str, list_id: int) -> None:
        super().__init__(f"the incomplete list {name!r} (id {list_id}) is used by a campaign and cannot be "
                         f"replaced; import under another name")
        self.name = name
        self.list_id = list_id


@dataclass
class ImportReport:
    list_id: int
    name: str
    source_file: str
    format: str
    encoding: str
    delimiter: str
    rows_read: int = 0
    imported: int = 0
    merged: int = 0
    rejected: int = 0
    warnings: int = 0
    no_debt: int = 0  # imported rows with a debt of zero or less: a debt scenario skips them (no_debt)
    conflicts: int = 0  # repeated accounts whose values differ from the first row's
    notes: list[str] = field(default_factory=list)  # about the file as a whole (header row entries)
    customers_created: int = 0
    customers_updated: int = 0
    superseded: int = 0  # customers' older contacts this list no longer has (see _supersede)
    contacts: dict[str, int] = field(default_factory=lambda: {"phone": 0, "sms": 0, "email": 0})
    free_variables: list[str] = field(default_factory=list)
    ignored_columns: list[int] = field(default_factory=list)
    replaced_incomplete: bool = False
    complete: bool = False
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.imported + self.merged + self.rejected

    def equation(self) -> str:
        return (f"read = imported + merged + rejected: {self.rows_read} = {self.imported} + "
                f"{self.merged} + {self.rejected}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "balanced": self.balanced}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class _Batch:
    first: list[CustomerRow] = field(default_factory=list)  # first row of an account in the file
    merged: list[CustomerRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    read: int = 0


class _ListImport:
    """The state of one import: the seen accounts, the division ids, the running report."""

    def __init__(self, rt: Runtime, report: ImportReport, source_name: str, headers: HeaderMap) -> None:
        self.rt = rt
        self.headers = headers
        self.account_column = headers.column(headers.fields[Field.ACCOUNT])
        self.debt_column = headers.column(headers.fields[Field.DEBT]) if Field.DEBT in headers.fields else ""
        self.report = report
        self.source_name = source_name
        self.seen: set[str] = set()  # ~90 MB at 1,000,000 accounts: the price of exact merging
        self.position = 0  # of list row contacts: increasing in file order across the whole import
        with self.rt.engine.connect() as conn:
            rows = conn.execute(select(Division.code, Division.id))
            self.division_ids: dict[str, int] = {code: did for code, did in rows}

    def ref(self, number: int) -> str:
        return f"{self.source_name}:row {number}"

    def write(self, batch: _Batch) -> None:
        now = datetime.now(UTC)
        with self.rt.engine.begin() as conn:
            writer = BulkWriter(conn)
            ids = self._customers(conn, writer, batch.first, now)
            created = {r.account for r in batch.first if r.account not in ids.existing}
            need = [r.account for r in batch.merged if r.account not in ids.all]
            if need:
                ids.all.update(writer.ids_by_key(customers_t, "account", need))
            self._contacts(writer, batch, ids.all, created, now)
            writer.insert(rows_t, [
                {"list_id": self.report.list_id, "customer_id": ids.all[r.account], "row_number": r.number,
                 "variables": r.variables, "contact_kinds": r.kinds} for r in batch.first])
            self._links(writer, batch, ids.all)
            firsts = self._first_rows(writer, batch, ids.all)
            merged_kinds = [{"lid": self.report.list_id, "cid": ids.all[r.account], "k": r.kinds}
                            for r in batch.merged if r.kinds]
            if merged_kinds:  # a repeated account restates what any of its rows has a cell for
                conn.execute(update(rows_t).where(rows_t.c.list_id == bindparam("lid"),
                                                  rows_t.c.customer_id == bindparam("cid"))
                             .values(contact_kinds=rows_t.c.contact_kinds.op("|")(bindparam("k"))), merged_kinds)
            writer.insert(rejections_t, self._issues(batch, firsts))
            rep = self.report
            rep.rows_read += batch.read
            rep.imported += len(batch.first)
            rep.merged += len(batch.merged)
            rep.rejected += len(batch.rejected)
            conn.execute(update(lists_t).where(lists_t.c.id == rep.list_id).values(
                rows_read=rep.rows_read, rows_imported=rep.imported, rows_merged=rep.merged,
                rows_rejected=rep.rejected))

    def _customers(self, conn: Connection, writer: BulkWriter, rows: list[CustomerRow],
                   now: datetime) -> _Ids:
        accounts = [r.account for r in rows]
        existing = writer.ids_by_key(customers_t, "account", accounts) if accounts else {}
        new = [r for r in rows if r.account not in existing]
        writer.insert(customers_t, [
            {"account": r.account, "name": r.name, "group": r.group,
             "division_id": self.division_ids.get(r.division) if r.division else None,
             "address": r.address, "created_at": now, "updated_at": now} for r in new])
        old = [r for r in rows if r.account in existing]
        if old:
            conn.execute(
                update(customers_t).where(customers_t.c.id == bindparam("cid")).values(
                    name=bindparam("name"), group=bindparam("grp"), division_id=bindparam("div"),
                    address=bindparam("addr"), updated_at=bindparam("now")),
                [{"cid": existing[r.account], "name": r.name, "grp": r.group,
                  "div": self.division_ids.get(r.division) if r.division else None,
                  "addr": r.address, "now": now} for r in old])
        self.report.customers_created += len(new)
        self.report.customers_updated += len(old)
        all_ids = dict(existing)
        if new:
            all_ids.update(writer.ids_by_key(customers_t, "account", [r.account for r in new]))
        return _Ids(existing, all_ids)

    def _contacts(self, writer: BulkWriter, batch: _Batch, ids: dict[str, int], created: set[str],
                  now: datetime) -> None:
        fresh: dict[tuple[int, str, str], Row] = {}  # customers created in this batch: no conflicts
        known: dict[tuple[int, str, str], Row] = {}  # customers that may already have these contacts
        for r in (*batch.first, *batch.merged):
            cid = ids[r.account]
            target = fresh if r.account in created else known
            for c in r.contacts:
                key = (cid, c.channel.value, c.value)
                if key not in target:
                    target[key] = {"customer_id": cid, "channel": c.channel.value, "value": c.value,
                                   "line_type": c.line_type.value, "source": c.source.value,
                                   "source_ref": self.ref(r.number), "consent": True,
                                   "opted_out_at": None, "created_at": now}
                    self.report.contacts[c.channel.value] += 1
        writer.insert(contacts_t, list(fresh.values()))
        writer.insert_ignoring_conflicts(contacts_t, list(known.values()),
                                         ("customer_id", "channel", "value"))

    def _links(self, writer: BulkWriter, batch: _Batch, ids: dict[str, int]) -> None:
        """Link each list row to the contacts its file rows gave, in their order (AI-11): the
        campaign on this list writes to these, not to whatever else the customer once had."""
        customers = list({ids[r.account] for r in (*batch.first, *batch.merged)})
        if not customers:
            return
        row_of: dict[int, int] = dict(writer.rows_where_in(
            rows_t, "customer_id", customers, (rows_t.c.customer_id, rows_t.c.id),
            where=rows_t.c.list_id == self.report.list_id))
        contact_of = {(cid, str(ch), v): i for i, cid, ch, v in writer.rows_where_in(
            contacts_t, "customer_id", customers,
            (contacts_t.c.id, contacts_t.c.customer_id, contacts_t.c.channel, contacts_t.c.value))}
        here = {r.account for r in batch.first}
        new: dict[tuple[int, int], Row] = {}  # rows first seen in this batch: nothing linked yet
        more: dict[tuple[int, int], Row] = {}  # merged into a row of an earlier batch: may repeat
        for r in (*batch.first, *batch.merged):
            cid = ids[r.account]
            target = new if r.account in here else more
            for c in r.contacts:
                key = (row_of[cid], contact_of[cid, c.channel.value, c.value])
                if key not in target:
                    self.position += 1
                    target[key] = {"list_row_id": key[0], "contact_point_id": key[1], "position": self.position}
        writer.insert(links_t, list(new.values()))
        writer.insert_ignoring_conflicts(links_t, list(more.values()), ("list_row_id", "contact_point_id"))

    def notes(self, notes: list[tuple[str, str]]) -> None:
        """File-level warnings, stored on the header row so that the report shows them first."""
        if not notes:
            return
        self.report.notes = [reason for _, reason in notes]
        with self.rt.engine.begin() as conn:
            BulkWriter(conn).insert(rejections_t, [
                {"list_id": self.report.list_id, "row_number": HEADER_ROW, "column": column[:100],
                 "kind": KIND_WARNING, "reason": reason[:500], "raw": ""} for column, reason in notes])

    def _first_rows(self, writer: BulkWriter, batch: _Batch, ids: dict[str, int]) -> dict[str, _First]:
        """What the first row of each repeated account in this batch stored (the values that stand)."""
        customers = list({ids[r.account] for r in batch.merged})
        if not customers:
            return {}
        rows = writer.rows_where_in(rows_t, "customer_id", customers,
                                    (rows_t.c.customer_id, rows_t.c.row_number, rows_t.c.variables),
                                    where=rows_t.c.list_id == self.report.list_id)
        people = {cid: (name, group, address) for cid, name, group, address in writer.rows_where_in(
            customers_t, "id", customers,
            (customers_t.c.id, customers_t.c.name, customers_t.c.group, customers_t.c.address))}
        by_customer = {cid: _First(number, variables or {}, *people[cid]) for cid, number, variables in rows}
        return {r.account: by_customer[ids[r.account]] for r in batch.merged}

    def _conflict(self, row: CustomerRow, first: _First) -> Issue:
        """The repeated row's warning: which values differ from the first row's, and the rule."""
        def shown(name: str, value: object) -> str:
            if value is None or value == "":
                return "пусто"
            if name == "debt" and isinstance(value, int):
                return format_kopecks(value)
            if name == "due_date" and isinstance(value, str) and len(value) == 10:
                return f"{value[8:10]}.{value[5:7]}.{value[0:4]}"  # ISO as stored → as the file wrote it
            return str(value)

        f = self.headers.fields
        pairs: list[tuple[str, object, object]] = []  # (column in the file's words, first, this)
        for fld, mine, theirs in ((Field.NAME, row.name, first.name), (Field.GROUP, row.group, first.group),
                                  (Field.ADDRESS, row.address, first.address)):
            if fld in f and mine and mine != theirs:
                pairs.append((self.headers.column(f[fld]), theirs, mine))
        columns = {"debt": self.debt_column} | {
            name: self.headers.column(idx) for name, idx in self.headers.variables.items()}
        if Field.DUE_DATE in f:
            columns["due_date"] = self.headers.column(f[Field.DUE_DATE])
        for name, value in row.variables.items():
            if value != first.variables.get(name):
                pairs.append((columns.get(name, name), shown(name, first.variables.get(name)),
                              shown(name, value)))
        if not pairs:
            return Issue(self.account_column, f"{DUPLICATE_WARNING} (первая строка {first.number})", row.account)
        self.report.conflicts += 1
        differ = "; ".join(f"«{col}»: в строке {first.number} — {a}, в этой строке — {b}" for col, a, b in pairs)
        return Issue(self.account_column,
                     f"лицевой счёт {row.account} уже был в строке {first.number}, значения расходятся: "
                     f"{differ}. Принята строка {first.number}: {DUPLICATE_RULE}", row.account)

    def _no_debt(self, row: CustomerRow) -> Issue | None:
        debt = row.variables.get("debt")
        if not isinstance(debt, int) or debt > 0:
            return None
        self.report.no_debt += 1
        what = "нулевой долг" if debt == 0 else "отрицательный долг (переплата)"
        return Issue(self.debt_column, f"{what} {format_kopecks(debt)}: сценарий о задолженности не отправит "
                                       f"этому клиенту «оплатите» (доставка завершится с причиной no_debt)",
                     format_kopecks(debt))

    def _issues(self, batch: _Batch, firsts: dict[str, _First]) -> list[Row]:
        lid = self.report.list_id
        out: list[Row] = []

        def add(number: int, issue: Issue, kind: str, raw: str) -> None:
            # PostgreSQL text cannot hold NUL; the report shows where it was.
            out.append({"list_id": lid, "row_number": number, "column": issue.column[:100], "kind": kind,
                        "reason": issue.reason[:500], "raw": raw.replace("\x00", "\\0")})

        for rej in batch.rejected:
            for issue in rej.issues:
                add(rej.number, issue, KIND_REJECTED, rej.raw)
        for r in batch.first:
            for issue in r.warnings:
                add(r.number, issue, KIND_WARNING, issue.raw)
            if (no_debt := self._no_debt(r)) is not None:
                add(r.number, no_debt, KIND_WARNING, no_debt.raw)
        for r in batch.merged:
            conflict = self._conflict(r, firsts[r.account])
            add(r.number, conflict, KIND_WARNING, r.account)
            for issue in r.warnings:
                add(r.number, issue, KIND_WARNING, issue.raw)
        self.report.warnings += sum(1 for row in out if row["kind"] == KIND_WARNING)
        return out


@dataclass(frozen=True, slots=True)
class _First:
    number: int
    variables: dict[str, Any]
    name: str
    group: int
    address: str


@dataclass
class _Ids:
    existing: dict[str, int]
    all: dict[str, int]


def _start_list(rt: Runtime, name: str, path: Path, created_by: str, sha: str) -> tuple[int, bool]:
    """Create the (incomplete) list, replacing an incomplete one of the same name."""
    with rt.engine.connect() as conn:
        old = conn.execute(select(lists_t.c.id, lists_t.c.complete).where(lists_t.c.name == name)).first()
    if old is not None and old.complete:
        raise ListExistsError(name, old.id)
    try:
        with rt.engine.begin() as conn:
            if old is not None:  # leftover of an import that died: its rows are partial, they go with it
                conn.execute(delete(links_t).where(links_t.c.list_row_id.in_(
                    select(rows_t.c.id).where(rows_t.c.list_id == old.id))))
                conn.execute(delete(rows_t).where(rows_t.c.list_id == old.id))
                conn.execute(delete(rejections_t).where(rejections_t.c.list_id == old.id))
                conn.execute(delete(lists_t).where(lists_t.c.id == old.id, lists_t.c.complete.is_(False)))
                log.warning("replacing incomplete list %s", old.id, extra={"list_id": old.id})
            list_id: int = conn.execute(insert(lists_t).values(
                name=name, source_file=path.name[:500], sha256=sha, created_by=created_by,
                created_at=datetime.now(UTC), rows_read=0, rows_imported=0, rows_merged=0, rows_rejected=0,
                complete=False).returning(lists_t.c.id)).scalar_one()
    except IntegrityError:
        if old is None:
            raise  # not ours to explain (a concurrent import of the same name)
        raise ListInUseError(name, old.id) from None  # a campaign refers to the old list
    return list_id, old is not None


# The kinds of contact a billing export restates: each is one channel with its one source (AI-11).
CONTACT_KINDS: tuple[tuple[Channel, ContactSource], ...] = (
    (Channel.PHONE, ContactSource.CONTRACT),
    (Channel.SMS, ContactSource.VOLUNTARY),
    (Channel.EMAIL, ContactSource.VOLUNTARY),
)


def _supersede(conn: Connection, list_id: int, now: datetime) -> int:
    """Retire the contacts this list replaced; bring back those it carries again. Returns how many
    were retired.

    "The same source" is a kind of contact: the contract phone, the voluntary SMS mobile or the
    voluntary e-mail (a channel and where it came from), each one column of a billing export. A
    row whose cell for a kind holds anything restates that kind for its customer: the customer's
    contacts of that kind the row does not carry (an older number, an address billing no longer
    holds, even when the new value is unusable) are superseded by this list and never used again.
    An empty cell, a file without the column, or a customer the list rejected changes nothing;
    withdrawing a contact is an opt-out. Set-based, walking this list's rows (UPDATE … FROM), in
    the transaction that marks the list complete, so an import that dies supersedes nothing.
    """
    carried = (select(links_t.c.contact_point_id).join(rows_t, rows_t.c.id == links_t.c.list_row_id)
               .where(rows_t.c.list_id == list_id))
    conn.execute(update(contacts_t).where(contacts_t.c.superseded_at.is_not(None), contacts_t.c.id.in_(carried))
                 .values(superseded_at=None, superseded_by_list_id=None))
    restated = or_(*(and_(contacts_t.c.channel == channel, contacts_t.c.source == source,
                          rows_t.c.contact_kinds.op("&")(KIND_BITS[channel]) != 0)
                     for channel, source in CONTACT_KINDS))
    row_carries = (select(links_t.c.contact_point_id)
                   .where(links_t.c.list_row_id == rows_t.c.id, links_t.c.contact_point_id == contacts_t.c.id)
                   .exists())
    result = conn.execute(
        update(contacts_t)
        .where(rows_t.c.list_id == list_id, rows_t.c.customer_id == contacts_t.c.customer_id,
               contacts_t.c.superseded_at.is_(None), restated, ~row_carries)
        .values(superseded_at=now, superseded_by_list_id=list_id))
    return int(result.rowcount or 0)


def _finish_list(rt: Runtime, report: ImportReport, created_by: str) -> None:
    with rt.engine.begin() as conn:
        report.superseded = _supersede(conn, report.list_id, datetime.now(UTC))
        conn.execute(update(lists_t).where(lists_t.c.id == report.list_id).values(complete=True))
        conn.execute(insert(audit_t).values(
            at=datetime.now(UTC), actor=created_by or "cli", action="list.import", entity="contact_list",
            entity_id=str(report.list_id),
            detail={"name": report.name, "file": report.source_file, "read": report.rows_read,
                    "imported": report.imported, "merged": report.merged, "rejected": report.rejected,
                    "warnings": report.warnings, "superseded_contacts": report.superseded}))


def import_list(rt: Runtime, path: Path, name: str, *, created_by: str = "",
                progress: Callable[[int], None] | None = None, batch_size: int = BATCH) -> ImportReport:
    """Import a CSV or XLSX billing export as the contact list `name` (AI-4, AI-11).

    Raises ImportFileError when the file as a whole cannot be read (nothing is stored then),
    ListExistsError when a complete list already has this name, and ListInUseError when an
    incomplete one of that name cannot be replaced because a campaign refers to it.
    """
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise ImportFileError(str(path), f"the list needs a name of 1 to {NAME_MAX} characters")
    if len(created_by) > ACTOR_MAX:
        raise ImportFileError(str(path), f"created_by longer than {ACTOR_MAX} characters")
    started = time.perf_counter()
    with open_table(path) as table:
        headers: HeaderMap = map_headers(str(path), table.header)
        normalise = RowNormaliser(headers, table.encoding)
        list_id, replaced = _start_list(rt, name, path, created_by, file_sha256(path))
        report = ImportReport(list_id=list_id, name=name, source_file=path.name, format=table.kind,
                              encoding=table.encoding, delimiter=table.delimiter,
                              free_variables=list(headers.variables), ignored_columns=headers.ignored,
                              replaced_incomplete=replaced)
        log.info("importing list %s from a %s file", list_id, table.kind, extra={"list_id": list_id})
        job = _ListImport(rt, report, path.name[:SOURCE_MAX], headers)
        job.notes(header_notes(headers))
        batch = _Batch()
        for record in table.records():
            batch.read += 1
            if isinstance(record, BadRecord):
                batch.rejected.append(RejectedRow(record.number, [Issue("", record.reason)], record.raw))
            else:
                row = normalise(record)
                if isinstance(row, RejectedRow):
                    batch.rejected.append(row)
                elif row.account in job.seen:
                    batch.merged.append(row)
                else:
                    job.seen.add(row.account)
                    batch.first.append(row)
            if batch.read >= batch_size:
                job.write(batch)
                batch = _Batch()
                if progress:
                    progress(report.rows_read)
        job.write(batch)
        if progress:
            progress(report.rows_read)
    if not report.balanced:  # a bug, not bad input: never mark such a list complete
        raise AssertionError(report.equation())
    _finish_list(rt, report, created_by)
    if rt.engine.dialect.name == "postgresql":
        # Fresh statistics for the tables a bulk load grew: without them the claims that follow
        # plan their lookups as scans of every row.
        with rt.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE customers, contact_points, list_rows, list_row_contacts")
    report.complete = True
    report.seconds = round(time.perf_counter() - started, 3)
    log.info("list %s imported: read %d, imported %d, merged %d, rejected %d, warnings %d",
             list_id, report.rows_read, report.imported, report.merged, report.rejected, report.warnings,
             extra={"list_id": list_id})
    return report
