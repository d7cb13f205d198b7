"""Cell values as billing exports write them: amounts, dates, customer groups, e-mail addresses.

Each parser takes the raw cell text and returns the typed value or raises ValueError whose message
is the reason shown in the rejection report.
"""

from __future__ import annotations

import re
from datetime import date

# Thousands separators Excel and 1C put in amounts.
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'")
_AMOUNT = re.compile(r"([+-]?)(\d+)(?:[.,](\d{1,2}))?")
_EMPTY_AMOUNT = {"", "-", "—", "–"}
_DMY = re.compile(r"(\d{1,2})[./](\d{1,2})[./](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
MAX_KOPECKS = 10**15  # far beyond any real debt; guards against a phone number in the debt column

# The customer groups of the customer-service standard, clause 3, as billing systems word them.
# Matched after lower-casing, ё → е and dropping spaces and punctuation: "Физ. лицо", "физлицо"
# and "ФИЗ ЛИЦО" are one wording. docs/lists.md lists them.
GROUP_NAMES: dict[int, str] = {
    1: "граждане-потребители (население)",
    2: "исполнители коммунальных услуг",
    3: "юридические лица и предприниматели",
    4: "организации, финансируемые из бюджета",
}
GROUP_ALIASES: dict[int, tuple[str, ...]] = {
    1: ("население", "бытовые", "бытовой потребитель", "бытовые потребители", "граждане", "гражданин",
        "граждане-потребители", "гражданин-потребитель", "физическое лицо", "физические лица",
        "физ. лицо", "физ. лица", "физлицо", "физлица", "ФЛ", "households", "residential", "individual"),
    2: ("исполнители коммунальных услуг", "исполнитель коммунальных услуг", "ИКУ",
        "управляющая компания", "управляющие компании", "УК", "ТСЖ", "ЖСК", "ТСН",
        "utilities"),
    3: ("юридическое лицо", "юридические лица", "юр. лицо", "юр. лица", "юрлицо", "юрлица", "ЮЛ",
        "индивидуальный предприниматель", "индивидуальные предприниматели", "предприниматель",
        "предприниматели", "ИП", "прочие", "прочие потребители", "business", "legal entity"),
    4: ("бюджет", "бюджетные", "бюджетный потребитель", "бюджетные потребители",
        "бюджетная организация", "бюджетные организации", "бюджетное учреждение",
        "бюджетные учреждения", "бюджетники", "budget"),
}
_GROUP_KEY = re.compile(r"[\W_]+")


def group_key(text: str) -> str:
    return _GROUP_KEY.sub("", text.lower().replace("ё", "е"))


_GROUP_INDEX: dict[str, int] = {group_key(a): g for g, names in GROUP_ALIASES.items() for a in names}
_PLAIN_GROUPS = {str(g): g for g in (1, 2, 3, 4)}
# "1", "группа 1", "1 группа", "1-я группа", "гр. 1", "I" (spaces and punctuation already dropped)
_GROUP_NUMBER = re.compile(r"(?:группа|group|гр)?([1-4]|i{1,3}|iv)(?:я|ая)?(?:группа|group|гр)?")
_EXCEL_NUMBER = re.compile(r"\s*([1-4])\.0+\s*")
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}

# A practical check, not RFC 5322: one @, a sane local part, a dotted domain with a letter TLD.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@((?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63})"
)
MAX_EMAIL = 254


def parse_kopecks(text: str) -> int | None:
    """'1 234,56', '1234.56', '1 234', '-' → kopecks (None for an empty cell)."""
    s = text.strip().translate(_SPACES)
    if s in _EMPTY_AMOUNT:
        return None
    if "," in s and "." in s:  # 1.234,56 or 1,234.56: the last one is the decimal mark
        decimal = "," if s.rfind(",") > s.rfind(".") else "."
        s = s.replace("." if decimal == "," else ",", "")
    m = _AMOUNT.fullmatch(s)
    if m is None:
        raise ValueError(f"не сумма: {text.strip()[:40]!r} (ожидается, например, 1 234,56)")
    sign, rubles, kop = m.groups()
    value = int(rubles) * 100 + int((kop or "0").ljust(2, "0"))
    if value >= MAX_KOPECKS:
        raise ValueError(f"слишком большая сумма: {text.strip()[:40]!r}")
    return -value if sign == "-" else value


def format_kopecks(kopecks: int) -> str:
    """1234556 → '12 345,56' as the report shows an amount (a minus for an overpayment)."""
    rubles, kop = divmod(abs(kopecks), 100)
    return f"{'-' if kopecks < 0 else ''}{rubles:,}".replace(",", " ") + f",{kop:02d}"


def parse_date(text: str) -> date | None:
    """'05.12.2026', '2026-12-05', '05/12/2026' (day first, as in Russia) → date (None if empty)."""
    s = text.strip()
    if not s:
        return None
    s = s.split(" ")[0].split("T")[0]  # a time part from Excel ("05.12.2026 0:00:00")
    if m := _DMY.fullmatch(s):
        day, month, year = m.groups()
    elif m := _ISO.fullmatch(s):
        year, month, day = m.groups()
    else:
        raise ValueError(f"не дата: {text.strip()[:40]!r} (ожидается дд.мм.гггг)")
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"нет такой даты: {text.strip()[:40]!r}") from None


def parse_group(text: str) -> int:
    """Customer group 1–4 of clause 3, by number or by name (GROUP_ALIASES)."""
    if text in _PLAIN_GROUPS:  # the usual cell, without the normalising below
        return _PLAIN_GROUPS[text]
    if m := _EXCEL_NUMBER.fullmatch(text):  # a number cell of a workbook: "2.0"
        return int(m.group(1))
    key = group_key(text)
    if not key:
        raise ValueError("пусто: нужна группа потребителей 1–4")
    if key in _GROUP_INDEX:
        return _GROUP_INDEX[key]
    if m := _GROUP_NUMBER.fullmatch(key):
        n = m.group(1)
        return int(n) if n.isdigit() else _ROMAN[n]
    raise ValueError(f"не группа потребителей 1–4: {text.strip()[:40]!r} (1 — население, "
                     f"2 — исполнители коммунальных услуг, 3 — юридические лица и ИП, 4 — бюджетные "
                     f"организации; или их номер)")


def parse_email(text: str) -> str:
    """A validated address, domain lower-cased (the local part is the mailbox owner's business)."""
    s = text.strip()
    if s.lower().startswith("mailto:"):
        s = s[7:]
    if not s:
        raise ValueError("пусто")
    if len(s) > MAX_EMAIL:
        raise ValueError(f"адрес e-mail длиннее {MAX_EMAIL} знаков")
    m = _EMAIL.fullmatch(s)
    if m is None:
        raise ValueError(f"не адрес e-mail: {s[:60]!r}")
    local = s[: m.start(1) - 1]
    if len(local) > 64:
        raise ValueError("имя ящика e-mail (до @) длиннее 64 знаков")
    return f"{local}@{m.group(1).lower()}"
