"""Phone normalisation (AI-11): E.164, mobile vs landline, and the fast path agreeing with phonenumbers."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from autoinform.importing.phones import Phone, PhoneError, fast_normalise, normalise, slow_normalise
from autoinform.models import LineType


@pytest.mark.parametrize(("raw", "e164", "line"), [
    ("8 (927) 123-45-67", "+79271234567", LineType.MOBILE),
    ("+7 927 123 45 67", "+79271234567", LineType.MOBILE),
    ("79271234567", "+79271234567", LineType.MOBILE),
    ("89271234567", "+79271234567", LineType.MOBILE),
    ("9271234567", "+79271234567", LineType.MOBILE),
    ("8-8512-44-55-66", "+78512445566", LineType.LANDLINE),
    ("+7 (8512) 44-55-66", "+78512445566", LineType.LANDLINE),
    ("8 (495) 123-45-67", "+74951234567", LineType.LANDLINE),
    ("8\u00a0927\u00a0123\u00a045\u00a067", "+79271234567", LineType.MOBILE),
    ("8 800 200-06-00", "+78002000600", LineType.UNKNOWN),  # toll-free: callable, never SMS
])
def test_russian_spellings_normalise_to_e164_ai11(raw: str, e164: str, line: LineType) -> None:
    assert normalise(raw) == Phone(e164, line)


@pytest.mark.parametrize("raw", ["+7 930 000 12 34", "8 (930) 001-23-45", "123-45-67", "нет", "+7 999 12",
                                 "8 (000) 123-45-67", "", "   ", "8 927 123 45 67 доб. 12", "1" * 80])
def test_invalid_numbers_raise_phone_error_with_a_reason_ai11(raw: str) -> None:
    with pytest.raises(PhoneError) as err:
        normalise(raw)
    assert err.value.reason


def test_the_930_0_range_a_naive_regex_accepts_is_left_to_phonenumbers_ai11() -> None:
    """BASELINES.md: a naive regex accepted 172 numbers +7 930 0… that phonenumbers rejects."""
    invalid = 0
    for n in range(10_000):
        raw = f"+79300{n:04d}{n % 100:02d}"
        valid = phonenumbers.is_valid_number(phonenumbers.parse(raw, "RU"))
        invalid += not valid
        fast = fast_normalise(raw)
        assert fast is None or valid, raw
    assert invalid > 0  # the range really has holes, so the assertion above had something to catch


def test_fast_path_agrees_on_every_three_digit_code_ai11() -> None:
    """Every national code 000–999 with random subscriber digits: the fast path is right or silent."""
    rng = random.Random(11)
    hits = 0
    for code in range(1000):
        for _ in range(4):
            raw = f"8{code:03d}{rng.randrange(10**7):07d}"
            fast = fast_normalise(raw)
            if fast is not None:
                hits += 1
                assert fast == slow_normalise(raw), raw
    assert hits > 500  # the fast path does take the common numbers


_SEPARATORS = st.sampled_from(["", " ", "-", "\u00a0", ".", "  "])


@st.composite
def russian_spellings(draw: st.DrawFn) -> str:
    """Numbers as people type them: a prefix, ten digits biased to real codes, random separators."""
    prefix = draw(st.sampled_from(["+7", "8", "7", "", "+7 ", "8 ", "+8", "+77", "88", "+"]))
    first = draw(st.sampled_from(["9", "93", "930", "9300", "8512", "85", "495", "3", "4", "8", "7", "1"]))
    rest = draw(st.text(alphabet="0123456789", min_size=0, max_size=12))
    digits = (first + rest)[: draw(st.integers(min_value=6, max_value=13))]
    out = prefix
    brackets = draw(st.booleans()) and len(digits) > 4
    for i, d in enumerate(digits):
        if brackets and i == 0:
            out += "("
        out += d
        if brackets and i == 2:
            out += ")"
        out += draw(_SEPARATORS)
    return out


@settings(max_examples=1500, deadline=None)
@given(russian_spellings())
@example("+7 930 000 12 34")
@example("8 (930) 005-12-34")
@example("7 8512 123456")
@example("+7 (700) 123-45-67")  # Kazakhstan shares +7
def test_fast_path_never_disagrees_with_phonenumbers_ai11(raw: str) -> None:
    fast = fast_normalise(raw)
    if fast is None:
        return
    number = phonenumbers.parse(raw, "RU")
    assert phonenumbers.is_valid_number(number), raw
    assert fast.e164 == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    kind = phonenumbers.number_type(number)
    assert (kind, fast.line_type) in {(phonenumbers.PhoneNumberType.MOBILE, LineType.MOBILE),
                                      (phonenumbers.PhoneNumberType.FIXED_LINE, LineType.LANDLINE)}


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_any_text_gives_a_phone_or_a_phone_error(raw: str) -> None:
    try:
        phone = normalise(raw)
    except PhoneError:
        return
    assert phone.e164.startswith("+") and phone.e164[1:].isdigit()


def test_only_mobiles_are_mobile_ai11() -> None:
    assert normalise("8 (927) 111-22-33").is_mobile
    assert not normalise("8 (8512) 11-22-33").is_mobile
    assert not normalise("8 800 200-06-00").is_mobile
