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

GROUP_ALIASES: dict[str, int] = {
    "население": 1, "бытовые": 1, "физические лица": 1, "физлица": 1, "households": 1,
    "исполнители коммунальных услуг": 2, "ику": 2, "ук": 2, "тсж": 2, "управляющие компании": 2,
    "utilities": 2,
    "юридические лица": 3, "юрлица": 3, "прочие": 3, "прочие потребители": 3, "ип": 3,
    "business": 3,
    "бюджет": 4, "бюджетные": 4, "бюджетные организации": 4, "budget": 4,
}
_PLAIN_GROUPS = {str(g): g for g in (1, 2, 3, 4)}
_GROUP_PREFIX = re.compile(r"^(?:группа|group|гр\.?)\s*")

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
        raise ValueError(f"not an amount: {text.strip()[:40]!r}")
    sign, rubles, kop = m.groups()
    value = int(rubles) * 100 + int((kop or "0").ljust(2, "0"))
    if value >= MAX_KOPECKS:
        raise ValueError(f"amount too large: {text.strip()[:40]!r}")
    return -value if sign == "-" else value


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
        raise ValueError(f"not a date (expected dd.mm.yyyy): {text.strip()[:40]!r}")
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"no such date: {text.strip()[:40]!r}") from None


def parse_group(text: str) -> int:
    """Customer group 1–4 of clause 3, by number or by name."""
    if text in _PLAIN_GROUPS:  # the usual cell, without the normalising below
        return _PLAIN_GROUPS[text]
    s = " ".join(text.strip().lower().replace("ё", "е").split())
    s = _GROUP_PREFIX.sub("", s)
    if s.endswith(".0"):  # Excel numbers
        s = s[:-2]
    if s in {"1", "2", "3", "4"}:
        return int(s)
    if s in GROUP_ALIASES:
        return GROUP_ALIASES[s]
    if not s:
        raise ValueError("empty")
    raise ValueError(f"not a customer group 1–4: {text.strip()[:40]!r}")


def parse_email(text: str) -> str:
    """A validated address, domain lower-cased (the local part is the mailbox owner's business)."""
    s = text.strip()
    if s.lower().startswith("mailto:"):
        s = s[7:]
    if not s:
        raise ValueError("empty")
    if len(s) > MAX_EMAIL:
        raise ValueError(f"e-mail longer than {MAX_EMAIL} characters")
    m = _EMAIL.fullmatch(s)
    if m is None:
        raise ValueError(f"not an e-mail address: {s[:60]!r}")
    local = s[: m.start(1) - 1]
    if len(local) > 64:
        raise ValueError("e-mail local part longer than 64 characters")
    return f"{local}@{m.group(1).lower()}"
