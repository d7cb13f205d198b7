"""Russian speech of numbers, money, quantities, dates, times and phone numbers (AI-10).

Every function returns a `Speech` with two outputs for the same value: the prompt ids to play
(word prompts in `WORD_PROMPTS`, recorded under audio/) and the Russian text (for TTS and SMS).
The text is always the prompts' texts joined by single spaces, so the two outputs cannot disagree.

Pure: no I/O, no state. Rules chosen where Russian usage varies:
- "одна тысяча", "один миллион" are said in full in cardinals; years say "тысяча девятьсот …"
  without "одна", as speakers do.
- Money: "ноль копеек" only with `zero_kopecks=True`; "ноль рублей" only when the whole amount
  is zero (a kopecks-only amount reads "пятьдесят копеек").
- Time: minutes are always said, "десять часов ноль минут" (the issue's form), unless
  `zero_minutes=False` asks for "десять часов"; seconds are not spoken.
- Phone numbers: see `phone()`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from ivr.errors import AgiError
from ivr.phrases import PHRASES

Gender = Literal["m", "f", "n"]

MAX_NUMBER: Final = 999_999_999_999


class SpeechError(AgiError, ValueError):
    """A value cannot be spoken; carries the value and the reason (a ValueError: bad input)."""

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(f"cannot speak {value!r}: {reason}")
        self.value = value
        self.reason = reason


def _table(pairs: Iterable[tuple[str, str]]) -> Mapping[str, str]:
    return MappingProxyType(dict(pairs))


_UNITS: Final = ("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять",
                 "десять", "одиннадцать", "двенадцать", "тринадцать", "четырнадцать", "пятнадцать",
                 "шестнадцать", "семнадцать", "восемнадцать", "девятнадцать")
_TENS: Final = ("", "", "двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят",
                "восемьдесят", "девяносто")
_HUNDREDS: Final = ("", "сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот",
                    "восемьсот", "девятьсот")
# Ordinal stems: + "ое" (neuter nominative, dates) or + "ого" (genitive, years).
_ORD_STEMS: Final = {
    1: "перв", 2: "втор", 3: "треть", 4: "четвёрт", 5: "пят", 6: "шест", 7: "седьм", 8: "восьм",
    9: "девят", 10: "десят", 11: "одиннадцат", 12: "двенадцат", 13: "тринадцат", 14: "четырнадцат",
    15: "пятнадцат", 16: "шестнадцат", 17: "семнадцат", 18: "восемнадцат", 19: "девятнадцат",
    20: "двадцат", 30: "тридцат", 40: "сороков", 50: "пятидесят", 60: "шестидесят", 70: "семидесят",
    80: "восьмидесят", 90: "девяност", 100: "сот", 200: "двухсот", 300: "трёхсот", 400: "четырёхсот",
    500: "пятисот", 600: "шестисот", 700: "семисот", 800: "восьмисот", 900: "девятисот",
    1000: "тысячн", 2000: "двухтысячн", 3000: "трёхтысячн", 4000: "четырёхтысячн", 5000: "пятитысячн",
    6000: "шеститысячн", 7000: "семитысячн", 8000: "восьмитысячн", 9000: "девятитысячн",
}
_MONTHS_GEN: Final = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
                      "сентября", "октября", "ноября", "декабря")

# Nouns that agree with a number: (gender of the noun, forms for 1 / 2-4 / 5+).
UNITS: Final[Mapping[str, tuple[Gender, tuple[str, str, str]]]] = MappingProxyType({
    "kwh": ("m", ("киловатт-час", "киловатт-часа", "киловатт-часов")),
    "ruble": ("m", ("рубль", "рубля", "рублей")),
    "kopeck": ("f", ("копейка", "копейки", "копеек")),
    "day": ("m", ("день", "дня", "дней")),
    "workday": ("m", ("рабочий день", "рабочих дня", "рабочих дней")),
    "hour": ("m", ("час", "часа", "часов")),
    "minute": ("f", ("минута", "минуты", "минут")),
    "month": ("m", ("месяц", "месяца", "месяцев")),
})
# The scale words of a cardinal, each with the gender of its count.
_SCALES: Final[tuple[tuple[int, str, Gender, tuple[str, str, str]], ...]] = (
    (1_000_000_000, "billion", "m", ("миллиард", "миллиарда", "миллиардов")),
    (1_000_000, "million", "m", ("миллион", "миллиона", "миллионов")),
    (1_000, "thousand", "f", ("тысяча", "тысячи", "тысяч")),
)
_FORM_SUFFIX: Final = ("1", "2", "5")


def _inventory() -> Mapping[str, str]:
    words: dict[str, str] = {f"num/{n}": w for n, w in enumerate(_UNITS) if n not in (1, 2)}
    words |= {"num/1m": "один", "num/1f": "одна", "num/1n": "одно", "num/2": "два", "num/2f": "две"}
    words |= {f"num/{10 * i}": _TENS[i] for i in range(2, 10)}
    words |= {f"num/{100 * i}": _HUNDREDS[i] for i in range(1, 10)}
    for _, name, _, forms in _SCALES:
        words |= {f"num/{name}_{s}": f for s, f in zip(_FORM_SUFFIX, forms, strict=True)}
    # "треть-" is the one soft stem: третье, третьего.
    words |= {f"ord/{n}n": stem + ("е" if n == 3 else "ое") for n, stem in _ORD_STEMS.items()
              if n <= 20 or n == 30}
    words |= {f"ord/{n}gen": stem + ("его" if n == 3 else "ого") for n, stem in _ORD_STEMS.items()}
    words |= {f"month/{i}gen": m for i, m in enumerate(_MONTHS_GEN, start=1)}
    for unit, (_, forms) in UNITS.items():
        words |= {f"unit/{unit}_{s}": f for s, f in zip(_FORM_SUFFIX, forms, strict=True)}
    words |= {"word/minus": "минус", "word/plus": "плюс", "word/goda": "года"}
    return MappingProxyType(words)


WORD_PROMPTS: Final[Mapping[str, str]] = _inventory()
"""Every word prompt the functions below can produce: prompt id -> Russian text."""


@dataclass(frozen=True)
class Speech:
    """Prompt ids to play and the same words as text."""

    prompts: tuple[str, ...]
    text: str

    def __add__(self, other: Speech) -> Speech:
        if not isinstance(other, Speech):
            return NotImplemented
        return Speech.join((self, other))

    @staticmethod
    def join(parts: Iterable[Speech]) -> Speech:
        parts = [p for p in parts if p.prompts or p.text]
        return Speech(tuple(pid for p in parts for pid in p.prompts), " ".join(p.text for p in parts))


def _words(*prompt_ids: str) -> Speech:
    return Speech(prompt_ids, " ".join(WORD_PROMPTS[p] for p in prompt_ids))


def plural(n: int, one: str, few: str, many: str) -> str:
    """The noun form agreeing with n: 1, 21, 101 -> one; 2-4, 22-24 -> few; 0, 5-20, 11-14 -> many."""
    n = abs(n)
    if n % 100 in range(11, 15):
        return many
    if n % 10 == 1:
        return one
    if n % 10 in (2, 3, 4):
        return few
    return many


def _form(n: int) -> str:
    return plural(n, "1", "2", "5")


def _unit_id(n: int, gender: Gender) -> str:
    """Prompt id of 1..19 agreeing in gender (only 1 and 2 differ)."""
    if n == 1:
        return f"num/1{gender}"
    if n == 2:
        return "num/2f" if gender == "f" else "num/2"
    return f"num/{n}"


def _triad(n: int, gender: Gender) -> list[str]:
    """Prompt ids of 1..999."""
    ids: list[str] = []
    if n >= 100:
        ids.append(f"num/{n // 100 * 100}")
    rest = n % 100
    if rest >= 20:
        ids.append(f"num/{rest // 10 * 10}")
        rest %= 10
    if rest:
        ids.append(_unit_id(rest, gender))
    return ids


def _check_int(n: object, low: int, high: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise SpeechError(n, "not an integer")
    if not low <= n <= high:
        raise SpeechError(n, f"out of range {low}..{high}")
    return n


def _cardinal_ids(n: int, gender: Gender) -> list[str]:
    if n == 0:
        return ["num/0"]
    ids: list[str] = []
    for size, name, scale_gender, _ in _SCALES:
        count, n = divmod(n, size)
        if count:
            ids += _triad(count, scale_gender)
            ids.append(f"num/{name}_{_form(count)}")
    if n:
        ids += _triad(n, gender)
    return ids


def number(n: int, gender: Gender = "m") -> Speech:
    """A cardinal agreeing in gender with the counted noun: 0..999 999 999 999, negatives with "минус"."""
    _check_int(n, -MAX_NUMBER, MAX_NUMBER)
    if gender not in ("m", "f", "n"):
        raise SpeechError(gender, "gender must be 'm', 'f' or 'n'")
    ids = _cardinal_ids(abs(n), gender)
    return _words(*(["word/minus"] if n < 0 else []), *ids)


def quantity(n: int, unit: str) -> Speech:
    """A number with an agreeing unit: "двадцать один киловатт-час", "две минуты", "пять дней"."""
    try:
        gender, _ = UNITS[unit]
    except KeyError:
        raise SpeechError(unit, f"unknown unit; known: {', '.join(UNITS)}") from None
    return number(n, gender) + _words(f"unit/{unit}_{_form(n)}")


def kwh(n: int) -> Speech:
    return quantity(n, "kwh")


def money(kopecks: int, *, zero_kopecks: bool = False) -> Speech:
    """An amount given in kopecks: "одна тысяча двести тридцать четыре рубля пятьдесят шесть копеек"."""
    _check_int(kopecks, -MAX_NUMBER * 100 - 99, MAX_NUMBER * 100 + 99)
    rubles, kop = divmod(abs(kopecks), 100)
    parts = [_words("word/minus")] if kopecks < 0 else []
    if rubles or not kop:
        parts.append(quantity(rubles, "ruble"))
    if kop or zero_kopecks:
        parts.append(quantity(kop, "kopeck"))
    return Speech.join(parts)


def _ordinal_ids(n: int, case: Literal["n", "gen"]) -> list[str]:
    """An ordinal: cardinal words for all but the last non-zero part, which takes the ordinal form.

    Covers 1..9999 (dates and years): 2026 -> "две тысячи двадцать шестого", 2000 -> "двухтысячного",
    1999 -> "тысяча девятьсот девяносто девятого".
    """
    thousands, rest = divmod(n, 1000)
    if rest == 0:
        return [f"ord/{thousands * 1000}{case}"]
    ids: list[str] = []
    if thousands == 1:
        ids.append("num/thousand_1")
    elif thousands:
        ids += [*_triad(thousands, "f"), f"num/thousand_{_form(thousands)}"]
    hundreds, rest = divmod(rest, 100)
    if rest == 0:
        return [*ids, f"ord/{hundreds * 100}{case}"]
    if hundreds:
        ids.append(f"num/{hundreds * 100}")
    if rest >= 20 and rest % 10:
        ids.append(f"num/{rest // 10 * 10}")
        rest %= 10
    return [*ids, f"ord/{rest}{case}"]


def date(d: dt.date, *, year: bool = True) -> Speech:
    """"пятое декабря две тысячи двадцать шестого года", or "пятое декабря" with year=False."""
    if not isinstance(d, dt.date):
        raise SpeechError(d, "not a date")
    ids = [*_ordinal_ids(d.day, "n"), f"month/{d.month}gen"]
    if year:
        ids += [*_ordinal_ids(d.year, "gen"), "word/goda"]
    return _words(*ids)


def time_of_day(t: dt.time, *, zero_minutes: bool = True) -> Speech:
    """"двадцать часов пять минут", "десять часов ноль минут" ("десять часов" if zero_minutes=False)."""
    if not isinstance(t, dt.time):
        raise SpeechError(t, "not a time")
    hours = quantity(t.hour, "hour")
    if t.minute == 0 and not zero_minutes:
        return hours
    return hours + quantity(t.minute, "minute")


def _digit_ids(s: str) -> list[str]:
    return [_unit_id(int(c), "m") if c != "0" else "num/0" for c in s]


def _only_digits(s: str, allowed: str) -> str:
    if not isinstance(s, str):
        raise SpeechError(s, "not a string")
    bad = sorted({c for c in s if not c.isascii() or not (c.isdigit() or c in allowed)})
    if bad:
        raise SpeechError(s, f"unexpected characters {''.join(bad)!r}")
    digits = "".join(c for c in s if c.isdigit())
    if not digits:
        raise SpeechError(s, "no digits")
    return digits


def digits(s: str) -> Speech:
    """Digit by digit, for account and meter numbers: "0 1 2" -> "ноль один два" (spaces, '-' ignored)."""
    return _words(*_digit_ids(_only_digits(s, " -")))


def _group_ids(group: str) -> list[str]:
    """A digit group as a number, leading zeros said one by one: "05" -> "ноль пять"."""
    zeros = len(group) - len(group.lstrip("0"))
    ids = ["num/0"] * zeros
    if group[zeros:]:
        ids += _cardinal_ids(int(group), "m")
    return ids


def _is_russian(digits_only: str, international: bool) -> bool:
    """11 digits in the Russian numbering plan: +7…, or 8… dialled domestically."""
    return len(digits_only) == 11 and (digits_only[0] == "7" or (digits_only[0] == "8" and not international))


def phone_groups(digits_only: str, *, international: bool = False) -> list[str]:
    """How a phone number is grouped for speech.

    - 11 digits in the Russian plan (+7…, or 8… without "+"): the prefix is said "8", as callers
      dial it, then 3-3-2-2: "8 800 123 45 67", "8 851 212 34 56".
    - 10 digits without "+" (a national number without prefix): 3-3-2-2.
    - Up to 3 digits are one group ("112"); 7 digits are a city number, 3-2-2 ("123 45 67").
    - Anything else, including other numbers written with "+" (said "плюс" first; the country code
      is not set apart, its length is not known here): pairs from the right, a leftover digit
      first: "12 34 56", "1 23 45", "+44 20 79 46 09 58".
    """
    d = digits_only
    if _is_russian(d, international):
        return ["8", d[1:4], d[4:7], d[7:9], d[9:]]
    if len(d) == 10 and not international:
        return [d[:3], d[3:6], d[6:8], d[8:]]
    if len(d) <= 3:
        return [d]
    if len(d) == 7:
        return [d[:3], d[3:5], d[5:]]
    lead = len(d) % 2
    return [d[:lead]] * lead + [d[i:i + 2] for i in range(lead, len(d), 2)]


def phone(s: str) -> Speech:
    """A phone number read in groups (see `phone_groups`): "+7 800 123-45-67" ->
    "восемь восемьсот сто двадцать три сорок пять шестьдесят семь"."""
    number_digits = _only_digits(s, " -()+.")
    international = s.strip().startswith("+")
    if "+" in s.strip()[1:]:
        raise SpeechError(s, "'+' is only allowed first")
    groups = phone_groups(number_digits, international=international)
    plus = ["word/plus"] if international and not _is_russian(number_digits, international) else []
    return _words(*plus, *(pid for g in groups for pid in _group_ids(g)))


def phrase(prompt_id: str) -> Speech:
    """A fixed phrase of the catalogue in ivr/phrases.py."""
    try:
        return Speech((prompt_id,), PHRASES[prompt_id])
    except KeyError:
        raise SpeechError(prompt_id, "no such phrase in ivr/phrases.py") from None
