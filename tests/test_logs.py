"""AI-19: personal data never reaches a log line in clear; log lines carry their call or delivery id."""

from __future__ import annotations

import json
import logging

from autoinform.logs import MaskingFormatter, mask_destination, mask_email, mask_phone, mask_text, scrub


def test_maskers() -> None:
    assert mask_phone("+79001234567") == "+*********67"
    assert mask_phone("8 (900) 123-45-67") == "*********67"
    assert mask_email("ivan.petrov@example.ru") == "i***@e***.ru"
    assert mask_text("Иванов Иван Иванович") == "И*** И*** И***"
    assert mask_destination("a@b.ru").startswith("a***@") and mask_destination("+79001234567").endswith("67")


def test_scrub_catches_what_was_not_masked_by_hand() -> None:
    line = scrub("sent to +7 900 123-45-67 and ivan.petrov@example.ru, account 300000123, 2026-12-07")
    assert "123-45" not in line and "ivan.petrov" not in line
    assert "300000123" in line and "2026-12-07" in line  # account numbers and dates are not personal
    assert "8512" not in scrub("landline 8 (8512) 12-34-56") and "900" not in scrub("+44 7900 123456")


def _record(msg: str, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("autoinform.test", logging.INFO, __file__, 1, msg, None, None)
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_json_lines_carry_the_id_and_no_personal_data() -> None:
    out = MaskingFormatter(json_lines=True).format(_record("refused for +79001234567", delivery_id=42,
                                                           channel="sms"))
    data = json.loads(out)
    assert data["delivery_id"] == 42 and data["channel"] == "sms"
    assert "79001234567" not in out and data["msg"].endswith("67")


def test_text_lines_carry_the_call_id() -> None:
    out = MaskingFormatter().format(_record("caller hung up", call_id="1795788722.1"))
    assert out.endswith("[call_id=1795788722.1]")


def test_url_passwords_are_masked_in_any_text() -> None:
    """Issue 8 item 12 (AI-19): one function masks URL passwords, and every log line goes through it."""
    from autoinform.logs import mask_url

    assert mask_url("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url("at postgresql+psycopg://u:p@ss@h/db") == "at postgresql+psycopg://u:***@h/db"
    assert mask_url("redis://:pw@h") == "redis://:***@h"
    assert mask_url("postgresql://h/db?user=u&password=s3cret&sslmode=require") == \
        "postgresql://h/db?user=u&password=***&sslmode=require"
    for clear in ("sqlite:///var/a.db", "http://user@h/p", "mail to u:p@h is not a URL"):
        assert mask_url(clear) == clear
    out = MaskingFormatter().format(_record("database postgresql://u:s3cret@h/db is down"))
    assert "s3cret" not in out and "postgresql://u:***@h/db" in out
