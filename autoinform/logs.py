"""Structured logging with personal data masked (AI-19).

Libraries log with `extra={"call_id": ..., "delivery_id": ...}`; only main() calls configure().
Phones, e-mails and names never reach a log in clear: call the mask_* helpers on values, and the
formatter also scrubs anything that still looks like a phone number or e-mail address.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_EMAIL_RE = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-])[A-Za-z0-9.-]*\.([A-Za-z]{2,})")
# International (+…) or Russian trunk-prefixed (8…, 7…) numbers of 10+ digits, with the usual
# separators; keep the last two digits. Account numbers (which start otherwise) stay readable.
_PHONE_RE = re.compile(r"(?<![\w.])(?:\+\d|[78])(?:[\s()\-]{0,2}\d){9,14}(?![\w.])")
# The password of a URL's userinfo (scheme://user:PASSWORD@host): greedy up to the last "@" before
# a space or "/", because an unencoded "@" in a password is what people type.
_URL_PASSWORD_RE = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*:)[^\s/]*(?=@)")
# Secrets passed as query parameters (libpq's ?password=, tokens in webhook URLs).
_QUERY_SECRET_RE = re.compile(r"(?P<head>[?&](?:password|passwd|pwd|secret|token|auth_token|api_key)=)[^&\s#'\"]*",
                              re.IGNORECASE)
URL_PASSWORD_MASK = "***"
CONTEXT_KEYS = ("call_id", "delivery_id", "attempt_id", "campaign_id", "list_id", "channel", "peer")


def mask_phone(value: str) -> str:
    digits = [c for c in value if c.isdigit()]
    if len(digits) < 4:
        return "*" * len(digits)
    return ("+" if value.startswith("+") else "") + "*" * (len(digits) - 2) + "".join(digits[-2:])


def mask_email(value: str) -> str:
    local, sep, domain = value.partition("@")
    if not sep:
        return mask_text(value)
    host, dot, tld = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***{dot}{tld}"


def mask_text(value: str) -> str:
    """Names and addresses: keep each word's first letter."""
    return " ".join(w[:1] + "***" for w in value.split())


def mask_destination(value: str) -> str:
    return mask_email(value) if "@" in value else mask_phone(value)


def mask_url(text: str) -> str:
    """Every URL password in `text` (userinfo or a secret query parameter) replaced by '***'.

    The one masking function for URLs: settings output, errors and log lines all go through it.
    """
    text = _URL_PASSWORD_RE.sub(lambda m: m.group("head") + URL_PASSWORD_MASK, text)
    return _QUERY_SECRET_RE.sub(lambda m: m.group("head") + URL_PASSWORD_MASK, text)


def scrub(text: str) -> str:
    text = mask_url(text)
    text = _EMAIL_RE.sub(lambda m: f"{m.group(1)}***@{m.group(2)}***.{m.group(3)}", text)
    return _PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)


class MaskingFormatter(logging.Formatter):
    def __init__(self, json_lines: bool = False) -> None:
        super().__init__()
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        message = scrub(record.getMessage())
        context = {k: getattr(record, k) for k in CONTEXT_KEYS if hasattr(record, k)}
        if self.json_lines:
            data: dict[str, Any] = {
                "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname,
                "logger": record.name,
                "msg": message,
                **context,
            }
            if record.exc_info:
                data["exc"] = scrub(self.formatException(record.exc_info))
            return json.dumps(data, ensure_ascii=False, default=str)
        ctx = " ".join(f"{k}={v}" for k, v in context.items())
        line = f"{self.formatTime(record)} {record.levelname:<7} {record.name}: {message}"
        if ctx:
            line += f" [{ctx}]"
        if record.exc_info:
            line += "\n" + scrub(self.formatException(record.exc_info))
        return line


def configure(level: str = "INFO", json_lines: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingFormatter(json_lines))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler says "Running job …" at INFO every few seconds: chatter, not news (issue 9 item 2).
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if str(level).upper() == "DEBUG" else logging.WARNING)
