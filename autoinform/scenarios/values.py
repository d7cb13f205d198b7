"""Typed scenario variables: coercing raw list values and formatting them for text channels.

Raw values come from list rows and the command line. Money given as an `int` is kopecks (how
lists store it); money given as text is an amount in rubles as billing systems write it
("1 234,56", "1234.56"). Dates come as `date` objects, ISO text or "05.12.2026"; times as `time`
or "HH:MM". Coercion errors are ValueError with a message naming the expected form.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import phonenumbers

from ivr import say

Value = int | str | date | time


class VarType(enum.StrEnum):
    MONEY = "money"  # int kopecks
    DATE = "date"
    TIME = "time"
    INTEGER = "integer"
    QUANTITY = "quantity"  # whole units of `unit`
    PHONE = "phone"  # E.164 text
    TEXT = "text"


class Unit(enum.StrEnum):
    KWH = "kwh"
    DAY = "day"
    WORKDAY = "workday"
    HOUR = "hour"
    MINUTE = "minute"
    MONTH = "month"


# Formats each type accepts in a `{name:format}` placeholder; None is the default format.
FORMATS: Final[Mapping[VarType, frozenset[str | None]]] = MappingProxyType({
    VarType.MONEY: frozenset({None, "number"}),
    VarType.DATE: frozenset({None, "long", "short"}),
    VarType.TIME: frozenset({None}),
    VarType.INTEGER: frozenset({None}),
    VarType.QUANTITY: frozenset({None, "number"}),
    VarType.PHONE: frozenset({None, "e164"}),
    VarType.TEXT: frozenset({None}),
})

_MONTHS_GEN: Final = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
                      "сентября", "октября", "ноября", "декабря")
_AMOUNT = re.compile(r"[+-]?\d+(?:[.,]\d{1,2})?")
_INTEGER = re.compile(r"[+-]?\d+")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_RU_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
# Spaces billing systems put between thousands: ordinary, no-break and narrow no-break.
_GROUPING = str.maketrans("", "", " \u00a0\u202f")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def coerce(vtype: VarType, raw: object, *, max_length: int | None = None, signed: bool = False) -> Value:
    """The typed value of a raw variable value, or ValueError saying what was expected.
    `signed`: a negative amount is a value (an overpayment compared by a skip rule), not an error."""
    if raw is None or raw == "":
        raise ValueError("empty value")
    if isinstance(raw, bool):
        raise ValueError(f"a boolean is not a {vtype} value")
    match vtype:
        case VarType.MONEY:
            return _money(raw, signed)
        case VarType.DATE:
            return _date(raw)
        case VarType.TIME:
            return _time(raw)
        case VarType.INTEGER | VarType.QUANTITY:
            return _integer(raw)
        case VarType.PHONE:
            return _phone(raw)
        case VarType.TEXT:
            return _text(raw, max_length)
    raise AssertionError(vtype)


def _money(raw: object, signed: bool = False) -> int:
    if isinstance(raw, int):
        kopecks = raw
    elif isinstance(raw, Decimal | float | str):
        text = str(raw).translate(_GROUPING)
        if not _AMOUNT.fullmatch(text):
            raise ValueError(f"not an amount: {raw!r} (expected rubles like '1 234,56' or int kopecks)")
        try:
            kopecks = int(Decimal(text.replace(",", ".")) * 100)
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
            raise ValueError(f"not an amount: {raw!r}") from exc
    else:
        raise ValueError(f"not an amount: {raw!r}")
    if kopecks < 0 and not signed:
        raise ValueError(f"negative amount {raw!r}")
    return kopecks


def _date(raw: object) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        ru = _RU_DATE.fullmatch(text)
        try:
            if ru:
                return date(int(ru.group(3)), int(ru.group(2)), int(ru.group(1)))
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"not a date: {raw!r} (expected YYYY-MM-DD or DD.MM.YYYY)")


def _time(raw: object) -> time:
    if isinstance(raw, time):
        return raw
    if isinstance(raw, str) and (m := _TIME.fullmatch(raw.strip())):
        try:
            return time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
        except ValueError:
            pass
    raise ValueError(f"not a time of day: {raw!r} (expected HH:MM)")


def _integer(raw: object) -> int:
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _INTEGER.fullmatch(text := raw.translate(_GROUPING)):
        return int(text)
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    raise ValueError(f"not a whole number: {raw!r}")


def _phone(raw: object) -> str:
    if not isinstance(raw, str | int):
        raise ValueError(f"not a phone number: {raw!r}")
    return _e164(str(raw))


# phonenumbers costs ~100 µs a parse and the same numbers (the hotline) recur in every message.
@lru_cache(maxsize=4096)
def _e164(raw: str) -> str:
    try:
        number = phonenumbers.parse(raw, "RU")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {raw!r} ({exc})") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _text(raw: object, max_length: int | None) -> str:
    if not isinstance(raw, str | int):
        raise ValueError(f"not text: {raw!r}")
    text = str(raw).strip()
    if _CONTROL.search(text):
        raise ValueError("control characters in text")
    if max_length is not None and len(text) > max_length:
        raise ValueError(f"{len(text)} characters, more than max_length {max_length}")
    return text


def format_text(vtype: VarType, value: Value, fmt: str | None = None, unit: Unit | None = None) -> str:
    """A typed value as written in an SMS or e-mail."""
    match vtype, value:
        case VarType.MONEY, int():
            rubles, kopecks = divmod(value, 100)
            if fmt == "number":
                return f"{_grouped(rubles)},{kopecks:02d}"
            return f"{_grouped(rubles)} руб. {kopecks:02d} коп."
        case VarType.DATE, date():
            if fmt == "long":
                return f"{value.day} {_MONTHS_GEN[value.month - 1]} {value.year} года"
            if fmt == "short":
                return value.strftime("%d.%m")
            return value.strftime("%d.%m.%Y")
        case VarType.TIME, time():
            return value.strftime("%H:%M")
        case VarType.QUANTITY, int():
            if fmt == "number" or unit is None:
                return str(value)
            return f"{value} {unit_word(value, unit)}"
        case VarType.PHONE, str():
            if fmt == "e164":
                return value
            return _national(value)
        case (VarType.INTEGER, int()) | (VarType.TEXT, str()):
            return str(value)
    raise TypeError(f"{value!r} is not a {vtype} value")


@lru_cache(maxsize=4096)
def _national(e164: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(e164, "RU"), phonenumbers.PhoneNumberFormat.NATIONAL)


def unit_word(n: int, unit: Unit) -> str:
    """The unit as written after a number: "кВт·ч" for energy, else the agreeing noun ("3 дня")."""
    if unit is Unit.KWH:
        return "кВт·ч"
    _, forms = say.UNITS[unit.value]
    return say.plural(n, *forms)


def _grouped(n: int) -> str:
    return f"{n:,}".replace(",", " ")
