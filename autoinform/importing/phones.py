"""Phone numbers to E.164 with the line type that decides SMS eligibility (AI-11).

`phonenumbers` is the authority, but it costs ~70 µs a number (BASELINES.md: 93% of import time).
Well-formed Russian numbers take a fast path whose patterns are read from phonenumbers' own RU
metadata, so the two cannot drift apart; anything the fast path is not sure of goes to phonenumbers.
tests/importing/test_phones.py checks the agreement with hypothesis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberDesc, PhoneNumberType

from autoinform.models import LineType

REGION = "RU"
MAX_INPUT = 64  # longer cells are not one phone number
# Separators billing exports put between digits; anything else goes to phonenumbers.
_SEPARATORS = str.maketrans("", "", " \u00a0\u202f\t-().")

_LINE_TYPES = {
    PhoneNumberType.MOBILE: LineType.MOBILE,
    PhoneNumberType.FIXED_LINE: LineType.LANDLINE,
}


class PhoneError(ValueError):
    """A cell that is not a usable phone number; `reason` (Russian) is shown in the rejection report."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(reason)
        self.raw = raw
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    line_type: LineType

    @property
    def is_mobile(self) -> bool:
        return self.line_type is LineType.MOBILE


@dataclass(frozen=True)
class _FastPatterns:
    # One match for "RU claims it, the general pattern admits it, and it is no special type
    # (premium, toll-free, personal… are left to phonenumbers)".
    gate: re.Pattern[str]
    fixed: re.Pattern[str]
    mobile: re.Pattern[str]


NATIONAL_LENGTH = 10


def _desc_pattern(desc: PhoneNumberDesc | None) -> re.Pattern[str] | None:
    """A desc's pattern anchored like phonenumbers anchors it, if it admits 10-digit numbers at all."""
    if desc is None or not desc.national_number_pattern:
        return None
    if desc.possible_length and NATIONAL_LENGTH not in desc.possible_length:
        return None
    return re.compile(f"(?:{desc.national_number_pattern})\\Z")


def _gate(leading: str, general: re.Pattern[str], specials: list[re.Pattern[str]]) -> re.Pattern[str]:
    # +7 is shared with KZ: RU claims the national numbers its leading_digits match.
    gate = f"(?=(?:{leading}))(?=(?:{general.pattern}))"
    if specials:
        gate += "(?!" + "|".join(f"(?:{p.pattern})" for p in specials) + ")"
    return re.compile(gate)


@cache
def _fast_patterns() -> _FastPatterns:
    """RU patterns from phonenumbers' metadata, compiled once on first use."""
    meta = PhoneMetadata.metadata_for_region(REGION)
    general = _desc_pattern(meta.general_desc) if meta else None
    fixed = _desc_pattern(meta.fixed_line) if meta else None
    mobile = _desc_pattern(meta.mobile) if meta else None
    if meta is None or general is None or fixed is None or mobile is None or not meta.leading_digits:
        raise RuntimeError("phonenumbers' RU metadata lacks what the fast path needs")
    specials = (meta.premium_rate, meta.toll_free, meta.shared_cost, meta.voip, meta.personal_number,
                meta.pager, meta.uan, meta.voicemail)
    gate = _gate(meta.leading_digits, general, [p for p in map(_desc_pattern, specials) if p is not None])
    return _FastPatterns(gate=gate, fixed=fixed, mobile=mobile)


def fast_normalise(raw: str) -> Phone | None:
    """E.164 for a well-formed Russian mobile or landline, or None when unsure (never a wrong answer).

    Accepts +7XXXXXXXXXX, 8XXXXXXXXXX, 7XXXXXXXXXX and XXXXXXXXXX with spaces, dashes, dots and
    brackets between the digits.
    """
    s = raw.strip().translate(_SEPARATORS)
    if s.startswith("+7"):
        national = s[2:]
    elif len(s) == 11 and s[0] in "78":
        national = s[1:]
    else:
        national = s
    if len(national) != NATIONAL_LENGTH or not national.isdigit() or not national.isascii():
        return None
    p = _fast_patterns()
    if not p.gate.match(national):
        return None
    fixed = p.fixed.match(national) is not None
    mobile = p.mobile.match(national) is not None
    if fixed == mobile:  # neither, or the ambiguous FIXED_LINE_OR_MOBILE: let phonenumbers decide
        return None
    return Phone("+7" + national, LineType.LANDLINE if fixed else LineType.MOBILE)


def slow_normalise(raw: str) -> Phone:
    """The authority: phonenumbers' parse, validity and type, region RU for numbers without +."""
    try:
        number = phonenumbers.parse(raw, REGION)
    except phonenumbers.NumberParseException:
        raise PhoneError(raw, "не номер телефона") from None
    if number.extension:
        raise PhoneError(raw, "добавочный номер автоинформатор не наберёт")
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(raw, "недействительный номер телефона")
    kind = phonenumbers.number_type(number)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164, _LINE_TYPES.get(kind, LineType.UNKNOWN))


def normalise(raw: str) -> Phone:
    """One phone number in any common spelling → Phone, or PhoneError with the reason."""
    text = raw.strip()
    if not text:
        raise PhoneError(raw, "пусто")
    if len(text) > MAX_INPUT:
        raise PhoneError(raw[:MAX_INPUT], f"длиннее {MAX_INPUT} знаков")
    return fast_normalise(text) or slow_normalise(text)
