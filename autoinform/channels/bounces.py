"""Bounce messages (sans-IO): one message in, what it says about one of our attempts out.

Issue 8 item 8 (AI-9, AI-14). A relay's 250 only means "taken for transmission"; the receiving
side's refusal comes back later as mail to our return path. This module reads one such message:
- RFC 3464 delivery status notifications (multipart/report; report-type=delivery-status), which
  Postfix, Gmail and modern Exim send: the per-recipient Action, Status, Diagnostic-Code;
- the common non-standard shapes: plain-text bounces (classic Exim and Mail.ru's Exim,
  Yandex's text notice with the original attached, qmail-like "<addr>: host ... said: 550 ...");
  the status then comes from the SMTP reply quoted in the text.
The attempt is found by its token (email_mime.TokenSigner): in the VERP envelope recipient the
bounce was delivered to, or in the Message-ID of the quoted original. Checking the token's
signature is the caller's job. Mail that is no bounce (auto-replies, people writing back) gives None.
No I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from typing import Any

from autoinform.channels.base import ProviderStatus
from autoinform.logs import mask_email, scrub
from autoinform.models import Channel, Outcome

_TOKEN = r"ai\d{1,19}\.[0-9a-f]{16}"
_VERP_RE = re.compile(r"\+(" + _TOKEN + r")@", re.IGNORECASE)
_MSGID_RE = re.compile(r"<(" + _TOKEN + r")@[^>\s]+>", re.IGNORECASE)
_QUOTED_MSGID_RE = re.compile(r"^(?:X-Original-)?Message-ID:\s*<(" + _TOKEN + r")@", re.IGNORECASE | re.MULTILINE)
_ENHANCED_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_BASIC_RE = re.compile(r"(?<!\d)([45]\d\d)(?:[ -]|$)", re.MULTILINE)
_ADDR_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+")

# Headers that carry the envelope recipient of the bounce itself (our VERP address).
_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "maildaemon", "mdaemon")
_BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|undelivered|delivery status notification|returned mail|returning message|"
    r"mail delivery failed|delivery fail|failure notice|could not be delivered|not delivered|"
    r"delivery has failed|message delayed|delayed mail|warning: message|"
    r"недостав|не доставлено|не может быть доставлено|не удалось доставить|ошибка доставки",
    re.IGNORECASE)
_DELAY_RE = re.compile(r"delayed|still being retried|will continue (?:trying|to try)|"
                       r"has not yet been delivered|задерж", re.IGNORECASE)
_AUTO_REPLY_RE = re.compile(r"^auto-(?:replied|notified)", re.IGNORECASE)
# Phrases of a bad mailbox in replies without an enhanced code ("550 Message was not accepted").
_UNKNOWN_USER_RE = re.compile(
    r"user unknown|unknown user|no such user|no such (?:mailbox|recipient)|does not exist|"
    r"invalid (?:mailbox|recipient|address)|recipient (?:address )?rejected|mailbox not found|"
    r"address rejected|нет такого|не существует", re.IGNORECASE)
_QUOTA_RE = re.compile(r"quota|mailbox (?:is )?full|over ?quota|переполнен", re.IGNORECASE)
_FINAL_ACTIONS = {"failed": Outcome.NEGATIVE, "delivered": Outcome.POSITIVE}


@dataclass(frozen=True)
class Bounce:
    """What one bounce says. action is RFC 3464's (failed, delayed, delivered, relayed, expanded)."""

    token: str | None  # the attempt's token, not yet checked; None when the bounce names none of ours
    matched_by: str | None  # "verp" or "message_id"
    action: str
    status: str  # enhanced status code, e.g. "5.1.1"
    diagnostic: str = ""
    recipient: str = ""
    reporting_mta: str = ""
    remote_mta: str = ""
    shape: str = "rfc3464"  # or "text" for a non-standard bounce

    @property
    def final(self) -> bool:
        return self.action in _FINAL_ACTIONS

    def detail(self) -> dict[str, Any]:
        """For the stored provider event; the recipient masked, as everywhere outside the contacts."""
        return {"action": self.action, "diagnostic": scrub(self.diagnostic)[:500],
                "recipient": mask_email(self.recipient) if self.recipient else "",
                "reporting_mta": self.reporting_mta, "remote_mta": self.remote_mta,
                "matched_by": self.matched_by, "shape": self.shape}


def bounce_status(bounce: Bounce, provider_id: str) -> ProviderStatus:
    """The ProviderStatus a bounce means for its attempt: a failure ends it negative (invalid_address
    for a bad mailbox, 5.1.x, else bounced), a delay is intermediate."""
    outcome = _FINAL_ACTIONS.get(bounce.action)
    if outcome is Outcome.NEGATIVE:
        reason = "invalid_address" if bounce.status.startswith("5.1.") else "bounced"
    elif outcome is Outcome.POSITIVE:
        reason = "delivered"
    else:
        reason = "pending"
    return ProviderStatus(Channel.EMAIL, provider_id, bounce.status, outcome, reason,
                          error_code=bounce.status, detail=bounce.detail())


def parse_bounce(data: bytes) -> Bounce | None:
    """Read one message; None when it is not a delivery status notice of any shape we know."""
    msg = message_from_bytes(data, policy=compat32)
    dsn = _find(msg, "message/delivery-status")
    if dsn is not None:
        parsed = _from_dsn(msg, dsn)
        if parsed is not None:
            return parsed
    if not _looks_like_bounce(msg):
        return None
    return _from_text(msg)


# --- RFC 3464 -----------------------------------------------------------------------------------

def _from_dsn(msg: Message, dsn: Message) -> Bounce | None:
    blocks = _dsn_blocks(dsn)
    if len(blocks) < 2:
        return None
    per_message, recipients = blocks[0], blocks[1:]
    rank = {"failed": 0, "delayed": 1}
    rcpt = min(recipients, key=lambda b: rank.get(b.get("action", "").lower(), 2))
    action = rcpt.get("action", "").strip().lower() or "failed"
    diagnostic = _after_type(rcpt.get("diagnostic-code", ""))
    status = _status_code(rcpt.get("status", "")) or _status_from_text(diagnostic, action == "failed")
    token, by = _token(msg, extra_ids=(per_message.get("x-original-message-id", ""),))
    return Bounce(token, by, action, status, diagnostic=diagnostic,
                  recipient=_after_type(rcpt.get("final-recipient", "") or rcpt.get("original-recipient", "")),
                  reporting_mta=_after_type(per_message.get("reporting-mta", "")),
                  remote_mta=_after_type(rcpt.get("remote-mta", "")), shape="rfc3464")


def _dsn_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message block and per-recipient blocks of a message/delivery-status part, field
    names lower-cased, continuation lines unfolded. Decoded by hand: some MTAs base64 it, and
    then the stdlib leaves it as one undivided payload."""
    payload = part.get_payload()
    if isinstance(payload, list):
        text = "\n".join(p.as_string() for p in payload if isinstance(p, Message))
    else:
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text.replace("\r\n", "\n")):
        if not chunk.strip():
            continue
        headers = HeaderParser(policy=compat32).parsestr(chunk.strip("\n") + "\n\n")
        fields = {k.lower(): _unfold(str(v)) for k, v in headers.items()}
        if fields:
            blocks.append(fields)
    return blocks


# --- non-standard ------------------------------------------------------------------------------

def _looks_like_bounce(msg: Message) -> bool:
    if _header(msg, "X-Failed-Recipients"):
        return True
    sender = (_header(msg, "From") + " " + _header(msg, "Sender")).lower()
    if not (any(d in sender for d in _DAEMONS) or "mail delivery" in sender):
        # Not from a mail system: auto-replies come with a null return path too (RFC 3834),
        # so only a null return path without their marks may still be a bounce.
        if _AUTO_REPLY_RE.match(_header(msg, "Auto-Submitted")) or _header(msg, "X-Autoreply"):
            return False
        if _header(msg, "Return-Path").strip() != "<>":
            return False
    if _BOUNCE_SUBJECT_RE.search(_header(msg, "Subject")):
        return True
    # No telling subject: only when its own text says delivery failed.
    return bool(_BOUNCE_SUBJECT_RE.search(_first_text(msg)[:2000]))


def _from_text(msg: Message) -> Bounce:
    text = _first_text(msg)
    subject = _header(msg, "Subject")
    failed_rcpts = [a.strip() for a in _header(msg, "X-Failed-Recipients").split(",") if a.strip()]
    recipient, diagnostic = _text_failure(text, failed_rcpts)
    delayed = bool(_DELAY_RE.search(subject)) or (not failed_rcpts and bool(_DELAY_RE.search(text[:1500])))
    action = "delayed" if delayed else "failed"
    status = _status_from_text(diagnostic, permanent=not delayed)
    if delayed and status.startswith("5"):
        action = "failed"  # a 5xx is never "still trying", whatever the subject says
    token, by = _token(msg)
    return Bounce(token, by, action, status, diagnostic=diagnostic, recipient=recipient,
                  reporting_mta=_daemon_host(msg), shape="text")


def _text_failure(text: str, failed_rcpts: list[str]) -> tuple[str, str]:
    """(recipient, diagnostic) from a human-readable bounce: the block of lines about the first
    failed address, up to the next blank line or the quoted original."""
    lines = text.replace("\r\n", "\n").split("\n")
    wanted = [a.lower() for a in failed_rcpts]
    for i, line in enumerate(lines):
        stripped = line.strip()
        addrs = _ADDR_RE.findall(stripped)
        if not addrs:
            continue
        addr = addrs[0].strip("<>")
        if wanted and addr.lower() not in wanted:
            continue
        # "<a@b>: host ... said: 550 ..." (Postfix/qmail text) or "  a@b" then indented detail (Exim).
        rest = stripped.split(":", 1)[1] if stripped.startswith("<") and ":" in stripped else ""
        if not wanted and not rest and not _is_address_line(stripped):
            continue
        block = [rest] if rest else []
        for follow in lines[i + 1:]:
            if not follow.strip() or follow.lstrip().startswith("---"):
                break
            block.append(follow.strip())
        diagnostic = " ".join(b for b in block if b).strip()
        if diagnostic or wanted:
            return addr, diagnostic
    return (failed_rcpts[0] if failed_rcpts else ""), _first_reply_line(text)


def _is_address_line(line: str) -> bool:
    """A line that is only an address (Exim lists failed addresses alone on a line)."""
    return bool(re.fullmatch(r"<?" + _ADDR_RE.pattern + r">?:?", line))


def _first_reply_line(text: str) -> str:
    for line in text.splitlines():
        if _ENHANCED_RE.search(line) or _BASIC_RE.search(line.strip()):
            return line.strip()
    return ""


def _daemon_host(msg: Message) -> str:
    m = re.search(r"@([A-Za-z0-9.-]+)", _header(msg, "From"))
    return m.group(1).lower() if m else ""


# --- shared -------------------------------------------------------------------------------------

def _status_code(value: str) -> str:
    m = _ENHANCED_RE.search(value)
    return ".".join(m.groups()) if m else ""


def _status_from_text(diagnostic: str, permanent: bool) -> str:
    """An enhanced status from an SMTP reply quoted in text; inferred from the basic code and the
    wording when the remote server gave none."""
    code = _status_code(diagnostic)
    if code:
        return code
    basic = _BASIC_RE.search(diagnostic)
    klass = basic.group(1)[0] if basic else ("5" if permanent else "4")
    if _UNKNOWN_USER_RE.search(diagnostic) and klass == "5":
        return "5.1.1"
    if _QUOTA_RE.search(diagnostic):
        return f"{klass}.2.2"
    return f"{klass}.0.0"


def _token(msg: Message, extra_ids: tuple[str, ...] = ()) -> tuple[str | None, str | None]:
    """The attempt token: from the VERP address the bounce was delivered to, else from the
    Message-ID of the original it quotes (attached, or pasted as text)."""
    for name in _ENVELOPE_HEADERS:
        for value in msg.get_all(name, []):
            m = _VERP_RE.search(str(value))
            if m:
                return m.group(1).lower(), "verp"
    for value in extra_ids:
        m = _MSGID_RE.search(value)
        if m:
            return m.group(1).lower(), "message_id"
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(inner_msg, Message):
                m = _MSGID_RE.search(_header(inner_msg, "Message-ID"))
                if m:
                    return m.group(1).lower(), "message_id"
                m = _VERP_RE.search(_header(inner_msg, "Return-Path"))
                if m:
                    return m.group(1).lower(), "verp"
        elif ctype in ("text/rfc822-headers", "text/plain"):
            text = _decoded(part)
            m = _QUOTED_MSGID_RE.search(text)
            if m:
                return m.group(1).lower(), "message_id"
            m = re.search(r"^Return-path:\s*<[^>]*\+(" + _TOKEN + r")@", text, re.IGNORECASE | re.MULTILINE)
            if m:
                return m.group(1).lower(), "verp"
    for name in ("In-Reply-To", "References"):
        m = _MSGID_RE.search(_header(msg, name))
        if m:
            return m.group(1).lower(), "message_id"
    return None, None


def _find(msg: Message, ctype: str) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() == ctype:
            return part
    return None


def _first_text(msg: Message) -> str:
    """The bounce's own human-readable text (not the quoted original's)."""
    for part in _own_parts(msg):
        if part.get_content_type() == "text/plain":
            return _decoded(part)
    for part in _own_parts(msg):
        if part.get_content_type() == "text/html":
            return re.sub(r"<[^>]+>", " ", _decoded(part))
    return ""


def _own_parts(msg: Message) -> list[Message]:
    """Leaf parts outside any attached message/rfc822 (the original is not the notice)."""
    out: list[Message] = []

    def walk(part: Message) -> None:
        if part.get_content_type() == "message/rfc822":
            return
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            for p in payload:
                if isinstance(p, Message):
                    walk(p)
        else:
            out.append(part)
    walk(msg)
    return out


def _decoded(part: Message) -> str:
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return str(part.get_payload())
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset, "replace")
    except LookupError:  # an unknown charset name
        return raw.decode("utf-8", "replace")


def _header(msg: Message, name: str) -> str:
    """A header as text, RFC 2047 words decoded (bounce subjects are often Russian)."""
    value = msg.get(name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (LookupError, ValueError, UnicodeDecodeError):
        return str(value)


def _after_type(value: str) -> str:
    """"rfc822; a@b" -> "a@b", "dns; mx.example.ru" -> "mx.example.ru" (RFC 3464 typed fields)."""
    return value.split(";", 1)[1].strip() if ";" in value else value.strip()


def _unfold(value: str) -> str:
    return re.sub(r"\s*\r?\n[ \t]+", " ", value).strip()

