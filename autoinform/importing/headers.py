"""Column headers of billing exports → the fields the importer knows, or free variables.

Matching ignores case, ё/е, spaces and punctuation, so "Лицевой счёт", "ЛИЦЕВОЙ СЧЕТ" and
"л/с" all name the account.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from autoinform.errors import ImportFileError


class Field(enum.StrEnum):
    ACCOUNT = "account"
    NAME = "name"
    GROUP = "group"
    DIVISION = "division"
    ADDRESS = "address"
    PHONE = "phone"  # the number in the contract: calls only (AI-11)
    SMS_PHONE = "sms_phone"  # a mobile the customer gave voluntarily: SMS (AI-11)
    EMAIL = "email"  # given voluntarily (AI-11)
    DEBT = "debt"
    DUE_DATE = "due_date"


# How the report and errors name a field the file lacks (a column it has is named as the file names it).
LABELS: dict[Field, str] = {
    Field.ACCOUNT: "Лицевой счёт", Field.NAME: "ФИО", Field.GROUP: "Группа", Field.DIVISION: "РОС",
    Field.ADDRESS: "Адрес", Field.PHONE: "Телефон", Field.SMS_PHONE: "Мобильный для SMS",
    Field.EMAIL: "E-mail", Field.DEBT: "Сумма долга", Field.DUE_DATE: "Дата оплаты",
}
HEADER_ROW = 1  # the row number of file-level notes in the report (a column taken as the contract phone)
REQUIRED = (Field.ACCOUNT, Field.NAME, Field.GROUP)
CONTACT_FIELDS = (Field.PHONE, Field.SMS_PHONE, Field.EMAIL)

ALIASES: dict[Field, tuple[str, ...]] = {
    Field.ACCOUNT: ("лицевой счет", "л/с", "лс", "номер лицевого счета", "номер л/с", "account",
                    "account number", "лицевой", "ls", "лиц. счет", "номер лс", "лицевой счет абонента"),
    Field.NAME: ("фио", "наименование", "наименование потребителя", "потребитель", "абонент",
                 "name", "customer", "фио наименование", "фио/наименование", "фамилия имя отчество",
                 "наименование абонента", "наименование клиента", "клиент"),
    Field.GROUP: ("группа", "группа потребителей", "группа потребителя", "group", "customer group",
                  "категория потребителя", "категория потребителей", "тип потребителя", "группа клиента"),
    Field.DIVISION: ("рос", "подразделение", "division", "отделение", "участок"),
    Field.ADDRESS: ("адрес", "адрес объекта", "адрес потребителя", "address"),
    Field.PHONE: ("телефон", "телефон по договору", "контактный телефон", "phone", "contract phone",
                  "tel", "тел", "номер телефона", "телефон абонента", "стационарный телефон"),
    Field.SMS_PHONE: ("мобильный", "мобильный телефон", "телефон для sms", "телефон для смс",
                      "мобильный для sms", "мобильный для смс", "телефон sms", "мобильный телефон для sms",
                      "sms", "смс", "sms phone", "sms_phone", "mobile", "сотовый", "сотовый телефон",
                      "номер для sms", "номер для смс"),
    Field.EMAIL: ("email", "e-mail", "электронная почта", "эл почта", "эл. почта", "почта", "mail"),
    Field.DEBT: ("сумма долга", "задолженность", "долг", "сумма задолженности", "debt", "amount due",
                 "долг руб", "задолженность руб", "сумма долга руб"),
    Field.DUE_DATE: ("дата оплаты", "оплатить до", "срок оплаты", "due date", "due_date"),
}

# Columns that feed the shipped scenarios' variables (scenarios/*.yaml): named as the scenarios name
# them. Their values stay text; the scenario coerces them to its declared type at render time.
VARIABLE_ALIASES: dict[str, tuple[str, ...]] = {
    "amount": ("сумма к оплате", "к оплате", "сумма по платежному документу", "amount"),
    "outage_date": ("дата отключения", "дата отключения электроэнергии", "outage date"),
    "start_time": ("время начала", "начало отключения", "start time"),
    "end_time": ("время окончания", "окончание отключения", "end time"),
    "restriction_date": ("дата ограничения", "дата введения ограничения", "restriction date"),
    "readings_by": ("показания до", "срок передачи показаний", "readings by"),
    "new_tariff": ("новый тариф", "тариф", "new tariff"),
    "effective_date": ("дата вступления в силу", "тариф действует с", "effective date"),
    "hotline_phone": ("телефон горячей линии", "горячая линия", "hotline phone"),
}

_PUNCT = re.compile(r"[\W_]+")
_NON_WORD = re.compile(r"[^\w]+")


def header_key(text: str) -> str:
    """What is left of a header once case, ё, spaces and punctuation are ignored."""
    return _PUNCT.sub("", text.lower().replace("ё", "е"))


def variable_name(text: str) -> str:
    """A free variable's name: the header lower-cased, words joined by underscores."""
    return _NON_WORD.sub("_", text.strip().lower().replace("ё", "е")).strip("_")


_INDEX: dict[str, Field] = {header_key(a): f for f, names in ALIASES.items() for a in names}
_VAR_INDEX: dict[str, str] = {header_key(a): v for v, names in VARIABLE_ALIASES.items() for a in names}


def match_field(header: str) -> Field | None:
    return _INDEX.get(header_key(header))


@dataclass
class HeaderMap:
    """Which column holds which field; unknown columns become free variables."""

    fields: dict[Field, int]
    variables: dict[str, int] = field(default_factory=dict)
    ignored: list[int] = field(default_factory=list)  # columns with an empty header
    headers: tuple[str, ...] = ()

    def column(self, index: int) -> str:
        return self.headers[index] if index < len(self.headers) else f"#{index + 1}"


def map_headers(path: str, headers: Sequence[str]) -> HeaderMap:
    """Map a header row; duplicates and missing required columns are file-level errors."""
    fields: dict[Field, int] = {}
    variables: dict[str, int] = {}
    ignored: list[int] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(headers):
        text = raw.strip()
        if not text:
            ignored.append(i)
            continue
        key = header_key(text) or text
        if key in seen:
            raise ImportFileError(path, f"duplicated header {text!r} (columns {seen[key] + 1} and {i + 1})")
        seen[key] = i
        f = match_field(text)
        if f is None:
            name = _VAR_INDEX.get(key) or variable_name(text) or f"column_{i + 1}"
            if name in variables or name in {x.value for x in Field}:
                name = f"{name}_{i + 1}"
            variables[name] = i
        elif f in fields:
            raise ImportFileError(
                path, f"columns {fields[f] + 1} ({headers[fields[f]].strip()!r}) and {i + 1} ({text!r}) "
                      f"both name the column {LABELS[f]!r}: keep one")
        else:
            fields[f] = i
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        needed = "; ".join(f"{LABELS[f]!r} (or: {', '.join(_russian_aliases(f)[:4])})" for f in missing)
        raise ImportFileError(path, f"missing required column(s): {needed}; headers found: "
                                    f"{', '.join(h.strip() for h in headers)[:300]} (the list format: "
                                    f"docs/lists.md)")
    if not any(f in fields for f in CONTACT_FIELDS):
        raise ImportFileError(path, f"no contact column: need {LABELS[Field.PHONE]!r} (contract phone, calls), "
                                    f"{LABELS[Field.SMS_PHONE]!r} (SMS) or {LABELS[Field.EMAIL]!r} "
                                    f"(the list format: docs/lists.md)")
    return HeaderMap(fields, variables, ignored, tuple(h.strip() for h in headers))


def _russian_aliases(f: Field) -> list[str]:
    label = header_key(LABELS[f])
    return [a for a in ALIASES[f] if re.search("[а-я]", a) and header_key(a) != label]


def header_notes(headers: HeaderMap) -> list[tuple[str, str]]:
    """File-level warnings about the columns: (column, reason in Russian). A phone column without a
    mobile column is the contract phone (AI-11: SMS only to a mobile the customer gave for it),
    so such a list reaches nobody by SMS: say so at import rather than show `sms 0` unexplained."""
    notes: list[tuple[str, str]] = []
    f = headers.fields
    if Field.PHONE in f and Field.SMS_PHONE not in f:
        column = headers.column(f[Field.PHONE])
        notes.append((column, f"столбец {column!r} принят как телефон по договору (только для звонков); "
                              f"столбца мобильного для SMS нет, поэтому SMS-контактов в этом списке нет. "
                              f"Мобильные, данные клиентами для SMS, дайте отдельным столбцом "
                              f"«{LABELS[Field.SMS_PHONE]}»"))
    return notes
