"""Finding a request's CSRF token (issue 12): the `X-CSRF-Token` header (fetch), else the form
field `csrf_token`. A form body is read only as far as the token: a urlencoded form whole (bodies
are capped by limits.py), a multipart form up to the end of its first part, which must be the
token (pages put the hidden field first), so an upload is never held in memory for this.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from python_multipart.exceptions import ParseError
from python_multipart.multipart import MultipartParser, parse_options_header

FIELD = "csrf_token"
HEADER = b"x-csrf-token"


class FormTokenReader:
    """Fed the body chunk by chunk; `done` once the token is known (or known to be missing)."""

    def __init__(self, content_type: bytes) -> None:
        kind, options = parse_options_header(content_type)
        self.kind = kind.decode("latin-1").lower()
        self.token: str | None = None
        self.done = self.kind not in ("application/x-www-form-urlencoded", "multipart/form-data")
        self._body = bytearray()
        self._part: _FirstPart | None = None
        if self.kind == "multipart/form-data":
            boundary = options.get(b"boundary")
            if not boundary:
                self.done = True
            else:
                self._part = _FirstPart(boundary)

    def feed(self, chunk: bytes, more: bool) -> None:
        if self.done:
            return
        if self._part is not None:
            self._part.feed(chunk)
            if self._part.ended or not more:
                self.token = self._part.token()
                self.done = True
            return
        self._body += chunk
        if not more:
            values = parse_qs(self._body.decode("latin-1"), keep_blank_values=True).get(FIELD)
            self.token = values[0] if values else None
            self.done = True


class _FirstPart:
    def __init__(self, boundary: bytes) -> None:
        self.ended = False
        self._name_header = bytearray()
        self._field = bytearray()
        self._value = bytearray()
        self._disposition = bytearray()
        self._in_disposition = False
        self._parser = MultipartParser(boundary, {
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
        }, max_size=64 * 1024)

    def feed(self, chunk: bytes) -> None:
        if not self.ended:
            try:
                self._parser.write(chunk)
            except ParseError:  # malformed or oversized first part: no token (the request is refused)
                self.ended = True
                self._value.clear()
                self._disposition.clear()

    def token(self) -> str | None:
        _, options = parse_options_header(bytes(self._disposition))
        if options.get(b"name") != FIELD.encode() or not self.ended:
            return None
        return self._value.decode("latin-1").strip()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        if not self.ended and self._field.lower() == b"content-disposition":
            self._disposition += data[start:end]

    def _on_header_end(self) -> None:
        self._field.clear()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.ended:
            self._value += data[start:end]
            if len(self._value) > 256:
                self.ended = True
                self._value.clear()

    def _on_part_end(self) -> None:
        self.ended = True


def matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
