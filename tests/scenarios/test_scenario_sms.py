"""SMS encoding and part counting at the exact boundaries (AI-17)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autoinform.scenarios.sms import GSM7, UCS2, encode_info, is_gsm7

CYR = "ж"
EMOJI = "😀"  # outside the BMP: a surrogate pair, two UTF-16 units


@pytest.mark.parametrize(("text", "expected"), [
    ("a" * 160, (GSM7, 1, 160)),
    ("a" * 161, (GSM7, 2, 161)),
    ("a" * 306, (GSM7, 2, 306)),  # 153 * 2
    ("a" * 307, (GSM7, 3, 307)),
    (CYR * 70, (UCS2, 1, 70)),
    (CYR * 71, (UCS2, 2, 71)),
    (CYR * 134, (UCS2, 2, 134)),  # 67 * 2
    (CYR * 135, (UCS2, 3, 135)),
    (CYR * 201, (UCS2, 3, 201)),  # 67 * 3
])
def test_ai17_single_and_multipart_limits(text: str, expected: tuple[str, int, int]) -> None:
    assert encode_info(text) == expected


def test_ai17_one_cyrillic_letter_turns_a_gsm_text_into_ucs2() -> None:
    assert encode_info("a" * 69 + CYR) == (UCS2, 1, 70)
    assert encode_info("a" * 70 + CYR) == (UCS2, 2, 71)


@pytest.mark.parametrize("char", list("^{}\\[~]|€\f"))
def test_ai17_extension_characters_take_two_septets(char: str) -> None:
    assert is_gsm7(char)
    assert encode_info(char) == (GSM7, 1, 2)
    assert encode_info("a" * 158 + char) == (GSM7, 1, 160)
    assert encode_info("a" * 159 + char) == (GSM7, 2, 161)


def test_ai17_extension_character_is_not_split_across_parts() -> None:
    # 152 septets then a 2-septet character: it cannot straddle the 153 boundary, so the first
    # part carries 152 and the second starts with the escape.
    text = "a" * 152 + "€" + "a" * 152  # 306 septets, which would fit 2 parts if splitting were allowed
    assert encode_info(text) == (GSM7, 3, 306)
    assert encode_info("a" * 151 + "€" + "a" * 153) == (GSM7, 2, 306)


def test_ai17_emoji_counts_two_units_and_is_not_split() -> None:
    assert encode_info(EMOJI) == (UCS2, 1, 2)
    assert encode_info(CYR * 68 + EMOJI) == (UCS2, 1, 70)
    assert encode_info(CYR * 69 + EMOJI) == (UCS2, 2, 71)
    # 66 units then a pair: the pair moves whole to the next part.
    assert encode_info(CYR * 66 + EMOJI + CYR * 66) == (UCS2, 3, 134)
    assert encode_info(CYR * 65 + EMOJI + CYR * 67) == (UCS2, 2, 134)


def test_ai17_gsm_basic_specials_are_one_septet() -> None:
    text = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà\n\r"
    assert encode_info(text) == (GSM7, 1, len(text))


def test_ai17_empty_text_is_one_empty_message() -> None:
    assert encode_info("") == (GSM7, 1, 0)


@given(st.text(alphabet=st.sampled_from(["a", "€", CYR, EMOJI]), max_size=400))
def test_ai17_parts_hold_every_unit_and_never_exceed_their_size(text: str) -> None:
    info = encode_info(text)
    single, per_part = (160, 153) if info.encoding == GSM7 else (70, 67)
    if info.length_units <= single:
        assert info.segments == 1
    else:  # every part but the last is full, short of at most one unit held back by a 2-unit char
        assert (per_part - 1) * (info.segments - 1) < info.length_units <= per_part * info.segments
