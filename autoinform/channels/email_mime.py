"""Notification e-mail as bytes: address checks, RFC 2047 headers, base64 UTF-8 bodies (AI-9).

Why not email.message.EmailMessage: with the default policy it costs about 2 ms a message, 85% of
it in header parsing and folding (shared/BASELINES.md), which caps a campaign far below what the
SMTP sink takes. Here the constant headers are encoded once per builder, each distinct subject once
(templates repeat them), and per customer only the To name, Message-ID, Date and the base64 bodies.
Output uses CRLF line endings throughout; tests parse it back with the stdlib parser.
No I/O here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from email.utils import formatdate

from autoinform.content import EmailContent
from autoinform.errors import ChannelError

_LOCAL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
# Display names made only of these go out as they are; anything else becomes encoded-words.
_PLAIN_PHRASE_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# 42 bytes -> 56 base64 chars -> a 68-char encoded-word, so "Subject: " + word stays within 78.
_WORD_BYTES = 42
_SOFT_LIMIT = 78
_SUBJECT_CACHE_SIZE = 1024


class InvalidAddressError(ChannelError):
    """The destination is not an address we can put on an SMTP command line; never retried."""

    def __init__(self, why: str) -> None:
        super().__init__(f"invalid e-mail address: {why}", permanent=True, code="invalid_address")
        self.why = why


class UnsafeHeaderError(ChannelError):
    """A header value carries control characters (CR/LF injection); the message is refused."""

    def __init__(self, header: str) -> None:
        super().__init__(f"control character in {header}", permanent=True, code="unsafe_header")
        self.header = header


# A token names one attempt in both the Message-ID and the VERP return path:
# "ai<attempt id>.<16 hex of HMAC-SHA256>", so a bounce quoting either is matched to its attempt
# and one quoting a made-up token is not (issue 8 item 8).
TOKEN_RE = re.compile(r"ai(\d{1,19})\.([0-9a-f]{16})")


class TokenSigner:
    """Makes and checks attempt tokens; the key never leaves this object."""

    def __init__(self, secret: str) -> None:
        # Without a configured secret nothing reads bounces (settings require one for a mailbox),
        # so a per-process key still gives unique, unguessable Message-IDs.
        self._key = secret.encode("utf-8") if secret else secrets.token_bytes(32)

    def token(self, attempt_id: int) -> str:
        return f"ai{attempt_id}.{self._mac(attempt_id)}"

    def verify(self, token: str) -> int | None:
        """The attempt id a token names, or None when it is malformed or not signed by us."""
        m = TOKEN_RE.fullmatch(token)
        if m is None:
            return None
        attempt_id = int(m.group(1))
        return attempt_id if hmac.compare_digest(m.group(2), self._mac(attempt_id)) else None

    def _mac(self, attempt_id: int) -> str:
        return hmac.new(self._key, b"ai%d" % attempt_id, hashlib.sha256).hexdigest()[:16]


def verp_address(bounce_address: str, token: str) -> str:
    """bounces@example.ru + token -> bounces+token@example.ru (the envelope sender, RFC 5321)."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{token}@{domain}"


@dataclass(frozen=True)
class MimeMessage:
    message_id: str  # with angle brackets, as in the header
    data: bytes


def normalise_address(address: str) -> str:
    """Check a plain addr-spec and return it with the domain in ASCII (IDNA for .рф domains).

    Quoted local parts, domain literals and non-ASCII local parts (SMTPUTF8) are refused:
    customers' voluntary addresses never need them, and refusing is cheaper than a bounce.
    """
    if _CONTROL_RE.search(address):
        raise InvalidAddressError("control character")
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddressError("no local part or domain")
    if len(local) > 64 or not _LOCAL_RE.fullmatch(local):
        raise InvalidAddressError("local part")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidAddressError("domain not IDNA-encodable") from exc
    domain = domain.lower().rstrip(".")
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253 or not all(_LABEL_RE.fullmatch(lb) for lb in labels):
        raise InvalidAddressError("domain")
    if labels[-1].isdigit():
        raise InvalidAddressError("numeric top-level domain")
    address = f"{local}@{domain}"
    if len(address) > 254:
        raise InvalidAddressError("too long")
    return address


def encoded_words(text: str) -> list[str]:
    """RFC 2047 B-encoded words that each fit the line budget.

    Words break just after a space when there is one (the space stays inside the encoded text),
    never inside a UTF-8 sequence. Decoders ignore the folding whitespace between encoded-words,
    so the text comes back intact; CPython's phrase parser wrongly keeps that whitespace, which
    with space-aligned breaks costs a doubled space in a long display name rather than a space
    inside a word.
    """
    data = text.encode("utf-8")
    words: list[str] = []
    start = 0
    while len(data) - start > _WORD_BYTES:
        cut = start + _WORD_BYTES
        while data[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: step back to a char start
            cut -= 1
        space = data.rfind(b" ", start, cut)
        if space > start:
            cut = space + 1
        words.append(_word(data[start:cut]))
        start = cut
    words.append(_word(data[start:]))
    return words


def _word(data: bytes) -> str:
    return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="


def _check_header(name: str, value: str) -> None:
    if _CONTROL_RE.search(value):
        raise UnsafeHeaderError(name)


def unstructured_header(name: str, value: str) -> str:
    """One unstructured header line (Subject), folded between encoded-words, CRLF-terminated."""
    _check_header(name, value)
    prefix = f"{name}: "
    if value.isascii() and "=?" not in value and len(prefix) + len(value) <= _SOFT_LIMIT:
        return f"{prefix}{value}\r\n"
    return prefix + "\r\n ".join(encoded_words(value)) + "\r\n"


def address_header(name: str, display_name: str, address: str) -> str:
    """From/To with an optional display name; encoded-words when the name is not plain ASCII."""
    _check_header(name, display_name)
    if not display_name:
        return f"{name}: {address}\r\n"
    if _PLAIN_PHRASE_RE.fullmatch(display_name) and "=?" not in display_name:
        parts = [display_name]
    else:
        parts = encoded_words(display_name)
    parts.append(f"<{address}>")
    lines: list[str] = []
    line = f"{name}:"
    for part in parts:
        if len(line) + 1 + len(part) > _SOFT_LIMIT and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + part
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def base64_body(text: str) -> bytes:
    """Text in canonical CRLF form (RFC 2045), UTF-8, base64 in 76-char CRLF lines."""
    canonical = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    return base64.encodebytes(canonical.encode("utf-8")).replace(b"\n", b"\r\n")


_TEXT_PART = b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
_HTML_PART = b'Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'


class MimeBuilder:
    """Builds notification messages from one sender; safe to share across concurrent sends."""

    def __init__(self, sender: str, sender_name: str, *, message_domain: str | None = None) -> None:
        self.sender = normalise_address(sender)
        self.domain = message_domain or self.sender.rpartition("@")[2]
        # Constant for the builder's lifetime: encoded once.
        self._from = address_header("From", sender_name, self.sender)
        # "=_" never occurs in base64, so the boundary cannot collide with a part's body.
        boundary = "=_ai_" + secrets.token_hex(8)
        self._multipart = (
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode("ascii")
        )
        self._delimiter = f"--{boundary}\r\n".encode("ascii")
        self._closing = f"--{boundary}--\r\n".encode("ascii")
        self._subjects: dict[str, str] = {}
        self._date_second = -1
        self._date = ""

    def message_id(self, token: str) -> str:
        """The token (TokenSigner) lets a bounce quoting this Message-ID be matched to its attempt."""
        return f"<{token}@{self.domain}>"

    def build(self, *, to: str, to_name: str, content: EmailContent, message_id: str) -> MimeMessage:
        """`to` must already be normalised; raises UnsafeHeaderError for CR/LF in subject or name."""
        head = (
            f"Message-ID: {message_id}\r\n"
            f"Date: {self._date_header()}\r\n"
            f"{self._from}"
            f"{address_header('To', to_name, to)}"
            f"{self._subject(content.subject)}"
            "MIME-Version: 1.0\r\n"
            "Auto-Submitted: auto-generated\r\n"  # RFC 3834: keeps vacation responders quiet
        ).encode("ascii")
        if content.html is None:
            data = head + _TEXT_PART + base64_body(content.text)
        else:
            data = b"".join((
                head, self._multipart,
                self._delimiter, _TEXT_PART, base64_body(content.text),
                self._delimiter, _HTML_PART, base64_body(content.html),
                self._closing,
            ))
        return MimeMessage(message_id, data)

    def _subject(self, subject: str) -> str:
        line = self._subjects.get(subject)
        if line is None:
            line = unstructured_header("Subject", subject)
            if len(self._subjects) >= _SUBJECT_CACHE_SIZE:
                self._subjects.clear()
            self._subjects[subject] = line
        return line

    def _date_header(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._date_second:
            self._date_second = second
            self._date = formatdate(now, localtime=False, usegmt=False).replace("-0000", "+0000")
        return self._date
