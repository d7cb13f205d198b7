"""One record of a list file → a customer with contact points and variables, or a rejection.

Pure: no I/O. The consent rules of AI-11 live here: the contract phone is for calls only; SMS goes
only to a mobile the customer gave voluntarily; e-mail only to an address given voluntarily.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from autoinform.accounts import ACCOUNT_MAX, parse_account
from autoinform.divisions import resolve
from autoinform.importing import phones
from autoinform.importing.headers import CONTACT_FIELDS, Field, HeaderMap
from autoinform.importing.reader import Record
from autoinform.importing.values import parse_date, parse_email, parse_group, parse_kopecks
from autoinform.models import Channel, ContactSource, LineType

MAX_CELL = 2000  # characters; billing data never needs more, and a 10 MB cell must not reach the DB
ACCOUNT_RULE_RU = f"буквы, цифры, - / _ . до {ACCOUNT_MAX} знаков"
MAX_RAW = 500  # characters of the original row kept in the rejection report
_LIST_SPLIT = re.compile(r"[,;]")
_LIMITS = {Field.NAME: 300, Field.ADDRESS: 500}
# The file was written by a program that stores formulas but does not compute them.
UNCACHED_FORMULA = "формула {} без сохранённого значения: откройте и сохраните файл в Excel или LibreOffice"


# A row restates the customer's contacts of a kind when its cell for that kind holds anything, even
# an unusable value (billing no longer has the old one); an empty cell says nothing about the kind.
KIND_BITS: dict[Channel, int] = {Channel.PHONE: 1, Channel.SMS: 2, Channel.EMAIL: 4}
_PHONE_BIT, _SMS_BIT, _EMAIL_BIT = KIND_BITS[Channel.PHONE], KIND_BITS[Channel.SMS], KIND_BITS[Channel.EMAIL]


class Contact(NamedTuple):  # a tuple: built for every contact of a million rows, hashed to dedupe
    channel: Channel
    value: str
    line_type: LineType
    source: ContactSource


@dataclass(frozen=True, slots=True)
class Issue:
    column: str
    reason: str
    raw: str = ""


@dataclass(slots=True)
class CustomerRow:
    number: int
    account: str
    name: str
    group: int
    division: str | None  # division code
    address: str
    contacts: list[Contact]
    variables: dict[str, Any]
    warnings: list[Issue] = field(default_factory=list)
    kinds: int = 0  # KIND_BITS of the contact cells that hold anything: what this row restates


@dataclass(slots=True)
class RejectedRow:
    number: int
    issues: list[Issue]
    raw: str


def _parts(cell: str) -> list[str]:
    """The values written in one cell: exports put several phones or e-mails in one, split by , or ;"""
    if not cell:
        return []
    if "," not in cell and ";" not in cell:
        return [cell]
    return [p.strip() for p in _LIST_SPLIT.split(cell) if p.strip()]


def excerpt(cells: list[str], delimiter: str = ";") -> str:
    text = delimiter.join(cells)
    return text if len(text) <= MAX_RAW else text[:MAX_RAW] + "…"


def _as_written(record: Record) -> list[str]:
    """The row's cells with uncomputed formulas shown as written, for the rejection report."""
    if not record.uncached:
        return record.cells
    cells = list(record.cells)
    for idx, formula in record.uncached:
        if idx < len(cells):
            cells[idx] = formula
    return cells


class RowNormaliser:
    """Turns records of one file into CustomerRow / RejectedRow; holds the file's header map."""

    def __init__(self, headers: HeaderMap, encoding: str = "utf-8",
                 division_of: Callable[[str], str | None] = resolve) -> None:
        self.headers = headers
        self.encoding = encoding
        self.division_of = division_of
        self.width = len(headers.headers)
        f = headers.fields
        self._col = {fld: (idx, headers.column(idx)) for fld, idx in f.items()}
        self.account_column = self._col[Field.ACCOUNT][1]
        # The file's own names of its contact columns: a row without a usable contact names them.
        self.contact_columns = ", ".join(self._col[fld][1] for fld in CONTACT_FIELDS if fld in self._col)
        # Column of each field in the order __call__ unpacks them; -1 when the file has no such column.
        self._order = [f.get(fld, -1) for fld in (
            Field.ACCOUNT, Field.NAME, Field.GROUP, Field.DIVISION, Field.ADDRESS, Field.PHONE,
            Field.SMS_PHONE, Field.EMAIL, Field.DEBT, Field.DUE_DATE)]
        self._division_of = functools.lru_cache(maxsize=1024)(division_of)
        # A formula without a cached value reads as an empty cell. Where the row's message needs
        # the value it rejects the row; a contact column is like any bad contact (a warning, the
        # row stands on its other contacts), and a column nothing reads only warns.
        self._formula_warns = {f[fld] for fld in CONTACT_FIELDS if fld in f} | set(headers.ignored)

    def __call__(self, record: Record) -> CustomerRow | RejectedRow:
        cells = record.cells
        shape = self._shape_problems(cells)
        if shape:
            return RejectedRow(record.number, shape, excerpt(cells))
        (account, name, group_text, division_cell, address, phone, sms, email, debt_text,
         due_text) = [cells[i].strip() if i >= 0 else "" for i in self._order]
        problems: list[Issue] = []
        warnings: list[Issue] = []
        for idx, formula in record.uncached:
            column = self.headers.column(idx) or f"#{idx + 1}"
            issue = Issue(column, UNCACHED_FORMULA.format(formula[:60]), formula[:100])
            (warnings if idx in self._formula_warns or idx >= self.width else problems).append(issue)
        try:
            account = parse_account(account)
        except ValueError:
            problems.append(self._issue(Field.ACCOUNT, "пусто" if not account else
                                        f"не номер лицевого счёта ({ACCOUNT_RULE_RU})", account))
        name = " ".join(name.split())
        address = " ".join(address.split())
        if not name:
            problems.append(self._issue(Field.NAME, "пусто"))
        for fld, value in ((Field.NAME, name), (Field.ADDRESS, address)):
            if len(value) > _LIMITS[fld]:
                problems.append(self._issue(fld, f"длиннее {_LIMITS[fld]} знаков"))
        group = 0
        try:
            group = parse_group(group_text)
        except ValueError as exc:
            problems.append(self._issue(Field.GROUP, str(exc), group_text))
        variables = self._variables(cells, debt_text, due_text, problems)
        division: str | None = None
        if division_cell:
            division = self._division_of(division_cell)
            if division is None:
                warnings.append(self._issue(Field.DIVISION, "неизвестное подразделение (оставлено пустым)",
                                            division_cell))
        contacts = self._contacts(phone, sms, email, warnings)
        if not contacts:
            problems.append(Issue(self.contact_columns, "нет ни одного пригодного контакта: ни телефона по "
                                                        "договору, ни мобильного для SMS, ни e-mail"))
        if problems:  # the row's other faults go in the report too, so one fix-up pass finds them all
            return RejectedRow(record.number, problems + warnings, excerpt(_as_written(record)))
        kinds = (_PHONE_BIT if phone else 0) | (_SMS_BIT if sms else 0) | (_EMAIL_BIT if email else 0)
        return CustomerRow(record.number, account, name, group, division, address, contacts,
                           variables, warnings, kinds)

    def _shape_problems(self, cells: list[str]) -> list[Issue]:
        """Wrong cell count, oversized cells, undecodable bytes: the row cannot be read as data."""
        if len(cells) != self.width and (len(cells) < self.width or any(c.strip() for c in
                                                                       cells[self.width:])):
            return [Issue("", f"в строке {len(cells)} ячеек, в заголовке {self.width}")]
        joined = "".join(cells)  # one check for the usual row instead of one per cell
        if len(joined) <= MAX_CELL and "\ufffd" not in joined and "\x00" not in joined:
            return []
        problems = []
        for i, c in enumerate(cells):
            if len(c) > MAX_CELL:
                problems.append(Issue(self.headers.column(i), f"ячейка длиннее {MAX_CELL} знаков",
                                      c[:100]))
            elif "\ufffd" in c:
                problems.append(Issue(self.headers.column(i), f"байты, недопустимые в кодировке {self.encoding}",
                                      c[:100]))
            elif "\x00" in c:  # PostgreSQL text cannot hold it; it is never data
                problems.append(Issue(self.headers.column(i), "символ NUL", c[:100].replace("\x00", "")))
        return problems

    def _variables(self, cells: list[str], debt_text: str, due_text: str,
                   problems: list[Issue]) -> dict[str, Any]:
        """Per-row variables for the scenarios: debt in kopecks, due date ISO, free columns as text."""
        variables: dict[str, Any] = {}
        try:
            debt = parse_kopecks(debt_text) if debt_text else None
        except ValueError as exc:
            problems.append(self._issue(Field.DEBT, str(exc), debt_text))
        else:
            if debt is not None:
                variables["debt"] = debt
        try:
            due = parse_date(due_text) if due_text else None
        except ValueError as exc:
            problems.append(self._issue(Field.DUE_DATE, str(exc), due_text))
        else:
            if due is not None:
                variables["due_date"] = due.isoformat()
        for var, idx in self.headers.variables.items():
            value = cells[idx].strip()
            if value:
                variables[var] = value
        return variables

    def _issue(self, fld: Field, reason: str, raw: str = "") -> Issue:
        return Issue(self._col[fld][1], reason, raw[:100])

    def _contacts(self, phone: str, sms: str, email: str, warnings: list[Issue]) -> list[Contact]:
        contacts: list[Contact] = []
        for part in _parts(phone):
            try:
                p = phones.normalise(part)
            except phones.PhoneError as exc:
                warnings.append(self._issue(Field.PHONE, exc.reason, part))
                continue
            contacts.append(Contact(Channel.PHONE, p.e164, p.line_type, ContactSource.CONTRACT))
        for part in _parts(sms):
            try:
                p = phones.normalise(part)
            except phones.PhoneError as exc:
                warnings.append(self._issue(Field.SMS_PHONE, exc.reason, part))
                continue
            if not p.is_mobile:
                warnings.append(self._issue(Field.SMS_PHONE, "не мобильный номер: SMS на него не отправить", part))
                continue
            contacts.append(Contact(Channel.SMS, p.e164, LineType.MOBILE, ContactSource.VOLUNTARY))
        for part in _parts(email):
            try:
                email = parse_email(part)
            except ValueError as exc:
                warnings.append(self._issue(Field.EMAIL, str(exc), part.strip()))
                continue
            contacts.append(Contact(Channel.EMAIL, email, LineType.EMAIL, ContactSource.VOLUNTARY))
        return list(dict.fromkeys(contacts))  # the same number twice in a row counts once
