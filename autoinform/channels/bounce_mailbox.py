"""Reading the bounce mailbox (issue 8 item 8, AI-9/AI-14): a maildir folder or an IMAP mailbox.

Each scan reads the messages not yet handled, parses each (channels.bounces), checks its token's
signature and hands the status it means to the dispatcher's StatusSink, then marks the message
handled: seen (maildir: moved to cur/ with flag S; IMAP: \\Seen). Messages that are no bounce,
name no attempt of ours, carry a forged token or cannot be parsed are counted, logged and kept
for a person to look at, marked seen and flagged (F / \\Flagged) so no later scan reads them again.

A message is marked only after its status was stored, so a crash in between makes the next scan
hand the same status over again; that is harmless, because a final status for an attempt that
already has an outcome is ignored and a repeated intermediate one changes nothing.
A scan never raises: a mailbox that cannot be read is logged and reported as not scanned.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import os
import re
import ssl
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Protocol

from autoinform.channels.base import StatusSink
from autoinform.channels.bounces import Bounce, bounce_status, parse_bounce
from autoinform.channels.email_mime import TokenSigner
from autoinform.config import ImapSettings
from autoinform.errors import ChannelError
from autoinform.logs import mask_email

_SCAN_LIMIT = 200  # messages per scan: bounded memory; the rest wait for the next scan


@dataclass
class BounceCounters:
    scans: int = 0
    failed_scans: int = 0
    final: int = 0  # failed (or delivered) notices applied to their attempts
    intermediate: int = 0  # delayed
    not_bounce: int = 0
    unmatched: int = 0  # a bounce naming no attempt of ours
    forged: int = 0  # a token whose signature is wrong
    malformed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class MailSource(Protocol):
    """Blocking access to one mailbox; called from a worker thread, one call at a time."""

    def open(self) -> None: ...

    def fetch(self, limit: int) -> list[tuple[str, bytes]]:
        """Up to `limit` messages not yet marked, as (key, raw bytes)."""

    def mark(self, key: str, *, flagged: bool) -> None: ...

    def close(self) -> None: ...


class MaildirSource:
    """A maildir folder (new/, cur/) that an MTA or Dovecot delivers the bounce address to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def open(self) -> None:
        missing = [d for d in ("new", "cur") if not (self.path / d).is_dir()]
        if missing:
            raise ChannelError(f"bounce maildir {self.path} has no {' or '.join(missing)}/ folder",
                               permanent=True)

    def fetch(self, limit: int) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        for sub in ("new", "cur"):
            with os.scandir(self.path / sub) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or (sub == "cur" and "S" in _flags(entry.name)):
                        continue
                    try:
                        data = Path(entry.path).read_bytes()
                    except FileNotFoundError:  # moved meanwhile by a mail client
                        continue
                    out.append((f"{sub}/{entry.name}", data))
                    if len(out) >= limit:
                        return out
        return out

    def mark(self, key: str, *, flagged: bool) -> None:
        sub, name = key.split("/", 1)
        base = name.split(":2,", 1)[0]
        flags = set(_flags(name)) | {"S"} | ({"F"} if flagged else set())
        os.rename(self.path / sub / name, self.path / "cur" / f"{base}:2,{''.join(sorted(flags))}")

    def close(self) -> None:
        pass


def _flags(name: str) -> str:
    return name.split(":2,", 1)[1] if ":2," in name else ""


class ImapSource:
    """An IMAP folder; the connection is kept between scans and reopened when it was lost."""

    def __init__(self, settings: ImapSettings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._ssl = ssl_context
        self._imap: imaplib.IMAP4 | None = None

    def open(self) -> None:
        s = self.settings
        ctx = self._ssl or ssl.create_default_context()
        imap: imaplib.IMAP4
        try:
            if s.tls == "ssl":
                imap = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=ctx, timeout=s.timeout)
            else:
                imap = imaplib.IMAP4(s.host, s.port, timeout=s.timeout)
                if s.tls == "starttls":
                    imap.starttls(ssl_context=ctx)
            imap.login(s.username, s.password.get_secret_value())
            typ, data = imap.select(_quote(s.folder))
            if typ != "OK":
                imap.logout()
                raise ChannelError(f"IMAP folder {s.folder!r} cannot be selected: {_text(data)}", permanent=True)
        except imaplib.IMAP4.error as exc:  # login refused and the like: our configuration
            raise ChannelError(f"IMAP {s.host}:{s.port}: {exc}", permanent=True) from exc
        except OSError as exc:
            raise ChannelError(f"IMAP {s.host}:{s.port} unreachable: {exc}", permanent=False) from exc
        self._imap = imap

    def fetch(self, limit: int) -> list[tuple[str, bytes]]:
        imap = self._connection()
        imap.noop()  # lets the server report messages delivered since the last scan
        typ, data = imap.uid("SEARCH", "UNSEEN")
        if typ != "OK":
            raise ChannelError(f"IMAP search failed: {_text(data)}", permanent=False)
        out: list[tuple[str, bytes]] = []
        for uid in (data[0] or b"").decode("ascii").split()[:limit]:
            typ, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
            body = next((p[1] for p in parts if isinstance(p, tuple) and len(p) == 2), None)
            if typ == "OK" and isinstance(body, bytes):
                out.append((uid, body))
        return out

    def mark(self, key: str, *, flagged: bool) -> None:
        flags = r"(\Seen \Flagged)" if flagged else r"(\Seen)"
        typ, data = self._connection().uid("STORE", key, "+FLAGS.SILENT", flags)
        if typ != "OK":
            raise ChannelError(f"IMAP store failed: {_text(data)}", permanent=False)

    def close(self) -> None:
        imap, self._imap = self._imap, None
        if imap is not None:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                imap.logout()

    def _connection(self) -> imaplib.IMAP4:
        if self._imap is None:
            self.open()
        assert self._imap is not None
        return self._imap

    def drop(self) -> None:
        """Forget a connection that failed; the next scan opens a new one."""
        imap, self._imap = self._imap, None
        if imap is not None:
            with contextlib.suppress(OSError):
                imap.shutdown()


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(data: object) -> str:
    if isinstance(data, list) and data and isinstance(data[0], bytes):
        return data[0].decode("utf-8", "replace")
    return str(data)


@dataclass(frozen=True)
class _Read:
    key: str
    bounce: Bounce | None
    error: str | None = None


class BounceMailbox:
    """Scans one MailSource and hands each bounce's status to the sink (see the module doc)."""

    def __init__(self, source: MailSource, signer: TokenSigner, *, logger: logging.Logger | None = None) -> None:
        self.source = source
        self.signer = signer
        self.counters = BounceCounters()
        self._log = logger or logging.getLogger(__name__)

    async def open(self) -> None:
        """Check at start-up that the mailbox can be read (raises ChannelError)."""
        await asyncio.to_thread(self.source.open)

    async def close(self) -> None:
        await asyncio.to_thread(self.source.close)

    async def scan(self, sink: StatusSink) -> bool:
        """Read everything waiting (up to a limit per call); False when the mailbox could not be read."""
        self.counters.scans += 1
        try:
            read = await asyncio.to_thread(self._read)
        except Exception as exc:  # never the engine's end: logged, tried again at the next scan
            self.counters.failed_scans += 1
            self._log.warning("bounce mailbox not readable: %s", _scrubbed(exc))
            if isinstance(self.source, ImapSource):
                await asyncio.to_thread(self.source.drop)
            return False
        marks: list[tuple[str, bool]] = []
        ok = True
        for r in read:
            try:
                flagged = await self._handle(r, sink)
            except Exception:
                # The status could not be stored (database down): leave the message unmarked so
                # the next scan hands it over again; stop here to keep the order of reports.
                self._log.exception("bounce not stored; it is read again at the next scan")
                ok = False
                break
            marks.append((r.key, flagged))
        try:
            await asyncio.to_thread(self._mark, marks)
        except Exception as exc:
            self.counters.failed_scans += 1
            self._log.warning("bounce mailbox: could not mark handled messages: %s", _scrubbed(exc))
            return False
        return ok

    def _read(self) -> list[_Read]:
        out: list[_Read] = []
        for key, data in self.source.fetch(_SCAN_LIMIT):
            try:
                out.append(_Read(key, parse_bounce(data)))
            except Exception as exc:  # the parser met a shape it cannot take apart
                out.append(_Read(key, None, f"{type(exc).__name__}: {exc}"))
        return out

    def _mark(self, marks: list[tuple[str, bool]]) -> None:
        for key, flagged in marks:
            self.source.mark(key, flagged=flagged)

    async def _handle(self, r: _Read, sink: StatusSink) -> bool:
        """Hand one message's status over; True when it is to be kept flagged for a person."""
        extra = {"channel": "email", "bounce_key": r.key}
        if r.error is not None:
            self.counters.malformed += 1
            self._log.warning("bounce mailbox: message %s cannot be parsed (%s); kept, flagged",
                              r.key, r.error, extra=extra)
            return True
        b = r.bounce
        if b is None:
            self.counters.not_bounce += 1
            self._log.info("bounce mailbox: message %s is no bounce; kept, flagged", r.key, extra=extra)
            return True
        rcpt = mask_email(b.recipient) if b.recipient else "?"
        if b.token is None:
            self.counters.unmatched += 1
            self._log.warning("bounce for %s (%s %s) names no attempt of ours; kept, flagged",
                              rcpt, b.action, b.status, extra=extra)
            return True
        attempt_id = self.signer.verify(b.token)
        if attempt_id is None:
            self.counters.forged += 1
            self._log.warning("bounce for %s carries a token we did not sign; ignored, kept, flagged",
                              rcpt, extra=extra)
            return True
        status = bounce_status(b, b.token)
        await sink(status)
        if status.outcome is None:
            self.counters.intermediate += 1
        else:
            self.counters.final += 1
        self._log.info("bounce for %s: %s %s (%s)", rcpt, b.action, b.status, b.matched_by,
                       extra=extra | {"attempt_id": attempt_id})
        return False


_SECRETISH = re.compile(r"(?i)(password|passwd|pass)=\S+")


def _scrubbed(exc: BaseException) -> str:
    """An error for the log, without anything that looks like a credential."""
    return _SECRETISH.sub(r"\1=***", f"{type(exc).__name__}: {exc}")
