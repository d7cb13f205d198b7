"""SMS encoding and part counting (AI-17), pure functions of the text.

GSM-7 (3GPP TS 23.038): 160 septets in a single message, 153 per part once split (the
concatenation header takes the rest); extension-table characters are an escape plus a septet,
two positions, and are never split across parts. Any character outside the GSM-7 default
alphabet and its extension table makes the whole message UCS-2: 70 UTF-16 code units in a single
message, 67 per part; a character outside the BMP is a surrogate pair, two units, never split.
"""

from __future__ import annotations

from typing import Final, NamedTuple

GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

# The GSM 03.38 default alphabet, in table order (ESC at 0x1B is not a printable character).
_GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION: Final = frozenset("^{}\\[~]|€\f")

# (units in a single message, units per part of a multi-part message)
_LIMITS: Final = {GSM7: (160, 153), UCS2: (70, 67)}


class SmsInfo(NamedTuple):
    encoding: str  # GSM7 or UCS2
    segments: int  # parts the message travels in; an empty text is still one (empty) message
    length_units: int  # septets for GSM-7, UTF-16 code units for UCS-2


def is_gsm7(text: str) -> bool:
    return all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text)


def _unit_sizes(text: str, encoding: str) -> list[int]:
    """Size of each character in the encoding's units; a character is never split across parts."""
    if encoding == GSM7:
        return [2 if c in _GSM_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def _count_parts(sizes: list[int], per_part: int) -> int:
    parts, used = 1, 0
    for size in sizes:
        if used + size > per_part:
            parts += 1
            used = 0
        used += size
    return parts


def encode_info(text: str) -> SmsInfo:
    """The encoding an SMS needs, the number of parts it travels in and its length in units."""
    encoding = GSM7 if is_gsm7(text) else UCS2
    sizes = _unit_sizes(text, encoding)
    total = sum(sizes)
    single, per_part = _LIMITS[encoding]
    segments = 1 if total <= single else _count_parts(sizes, per_part)
    return SmsInfo(encoding, segments, total)
