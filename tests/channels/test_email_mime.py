"""MIME building without I/O: headers and bodies read back by the stdlib parser (AI-9)."""

from __future__ import annotations

import email
import email.policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoinform.channels.email_mime import (
    InvalidAddressError,
    MimeBuilder,
    TokenSigner,
    UnsafeHeaderError,
    address_header,
    normalise_address,
    unstructured_header,
)
from autoinform.content import EmailContent

# Printable text without control characters, Cyrillic-heavy like real subjects and names.
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
                min_size=1, max_size=200)
_WORDY = st.lists(st.text("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁ-", min_size=1, max_size=20),
                  min_size=1, max_size=8).map(" ".join)


def _parse(raw: str) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw.encode("ascii") + b"\r\n", policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


@settings(max_examples=200, deadline=None)
@given(_TEXT.filter(lambda s: s == s.strip()))
def test_subject_round_trips(subject: str) -> None:
    line = unstructured_header("Subject", subject)
    assert all(len(part) <= 78 for part in line.split("\r\n"))
    assert _parse(line)["Subject"] == subject


@settings(max_examples=200, deadline=None)
@given(_WORDY)
def test_display_name_round_trips(name: str) -> None:
    parsed = _parse(address_header("To", name, "a@example.ru"))["To"].addresses[0]
    # CPython's phrase parser keeps folding whitespace between encoded-words (see encoded_words).
    assert " ".join(parsed.display_name.split()) == " ".join(name.split())
    assert parsed.addr_spec == "a@example.ru"


def test_plain_ascii_name_stays_readable() -> None:
    assert address_header("From", "Energosbyt", "info@example.ru") == "From: Energosbyt <info@example.ru>\r\n"


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\x00b", "a\x7fb", "a\u2028b"])
def test_control_characters_are_refused(value: str) -> None:
    with pytest.raises(UnsafeHeaderError):
        unstructured_header("Subject", value)
    with pytest.raises(UnsafeHeaderError):
        address_header("To", value, "a@example.ru")


@pytest.mark.parametrize("raw, expected", [
    ("Ivan.Petrov@Example.RU", "Ivan.Petrov@example.ru"),
    ("  a+tag@example.ru ", "a+tag@example.ru"),
    ("a@пример.рф", "a@xn--e1afmkfd.xn--p1ai"),
    ("o'neil@sub.example.co.uk", "o'neil@sub.example.co.uk"),
])
def test_valid_addresses_are_normalised(raw: str, expected: str) -> None:
    assert normalise_address(raw) == expected


@pytest.mark.parametrize("raw", ["", "a", "@example.ru", "a@", "a..b@example.ru", "a@example..ru",
                                 "\"quoted\"@example.ru", "a@[127.0.0.1]", "a@ex_ample.ru",
                                 "x" * 65 + "@example.ru", "a@" + "b" * 64 + ".ru"])
def test_invalid_addresses_are_refused(raw: str) -> None:
    with pytest.raises(InvalidAddressError):
        normalise_address(raw)


def test_message_has_crlf_lines_and_reuses_subject_encoding() -> None:
    builder = MimeBuilder("info@example.ru", "Энергосбыт")
    content = EmailContent("Тема", "строка 1\nстрока 2\r\nстрока 3", "<p>x</p>")
    signer = TokenSigner("test-secret-0123456789")
    one = builder.build(to="a@example.ru", to_name="", content=content, message_id=builder.message_id(signer.token(1)))
    two = builder.build(to="b@example.ru", to_name="", content=content, message_id=builder.message_id(signer.token(2)))
    assert one.message_id != two.message_id
    for data in (one.data, two.data):
        assert b"\n" not in data.replace(b"\r\n", b"")
        assert all(len(line) <= 78 for line in data.split(b"\r\n"))
    msg = email.message_from_bytes(one.data, policy=email.policy.default)
    assert msg["To"] == "a@example.ru"
    plain = msg.get_body(("plain",))
    assert plain is not None
    assert plain.get_content() == "строка 1\r\nстрока 2\r\nстрока 3"  # canonical CRLF form (RFC 2045)
