"""E-mail channel: aiosmtplib over a small pool of reused SMTP connections (AI-9, AI-14).

Outcome of one attempt, decided by the server's reply (shared/DESIGN.md):
- 2xx after the message body: with delivery_mode "relay" (the default) our relay has only taken
  the message for transmission, so the attempt awaits (outcome None, "pending", provider id = its
  token): a bounce read from the bounce mailbox ends it negative with the DSN status, and with no
  bounce by the end of the quiet period poll() ends it positive "delivered_no_bounce" (issue 8
  item 8). With delivery_mode "direct" we talk to the recipient's MX, whose 2xx is positive "accepted".
- 4xx at any stage, a connection dropped or timed out mid-transaction, or a failure to connect,
  log in or start TLS (not the recipient's fault)                  -> negative, retry, "temporary_failure"
- 5xx at RCPT with enhanced code 5.1.x (bad mailbox, e.g. "550 5.1.1 User unknown"), or a bare
  550/551/553 at RCPT                                              -> negative, permanent, "invalid_address"
- 5xx at RCPT with 5.2.x (mailbox disabled or over quota for good) -> negative, permanent, "bounced"
- any other 5xx (policy at RCPT, content refused after DATA, sender refused) -> permanent "rejected";
  except "530" at MAIL (authentication required: our configuration) -> retry
- an address we cannot put on the wire                             -> "invalid_address", permanent,
  no connection used
- CR/LF or other control characters in the subject or a display name -> "failed", permanent
"invalid_address" rather than "bounced" for unknown users because the cure is the same as for a
malformed address: the contact point must be corrected, never retried.

A stale pooled connection (server closed it while idle) fails at MAIL before anything was
transmitted; that one case is retried at once on a fresh connection. A drop after DATA is
reported as a retryable failure: the server may have queued the message, so a retry can
duplicate it, which the dispatcher records (issue 3, crash test).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

import aiosmtplib
from aiosmtplib import (
    SMTPException,
    SMTPHeloError,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)

from autoinform.channels.base import Outgoing, ProviderStatus, SendResult, StatusSink
from autoinform.channels.bounce_mailbox import BounceMailbox, ImapSource, MaildirSource, MailSource
from autoinform.channels.email_mime import (
    InvalidAddressError,
    MimeBuilder,
    MimeMessage,
    TokenSigner,
    UnsafeHeaderError,
    normalise_address,
    verp_address,
)
from autoinform.config import SmtpSettings
from autoinform.content import EmailContent
from autoinform.errors import ChannelError
from autoinform.logs import mask_email
from autoinform.models import Channel, Outcome

_ENHANCED_RE = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class _Envelope:
    mail_from: bytes  # the bounce address with the VERP token, or the sender
    rcpt: str
    token: str  # the attempt's token: Message-ID, VERP and provider id


def classify_reply(stage: str, code: int, message: str) -> tuple[Outcome, str, bool]:
    """(outcome, reason, retry) for an SMTP reply at a stage: connect, mail, rcpt or data."""
    if 200 <= code < 300:
        return Outcome.POSITIVE, "accepted", False
    if not 500 <= code < 600 or stage == "connect" or (stage == "mail" and code == 530):
        return Outcome.NEGATIVE, "temporary_failure", True
    if stage == "rcpt":
        enhanced = _ENHANCED_RE.match(message)
        subject = enhanced.group(2) if enhanced else None
        if subject == "1" or (subject is None and code in (550, 551, 553)):
            return Outcome.NEGATIVE, "invalid_address", False
        if subject == "2":
            return Outcome.NEGATIVE, "bounced", False
    return Outcome.NEGATIVE, "rejected", False


class EmailChannel:
    """ChannelSender for e-mail. send() runs concurrently up to pool_size transactions at once."""

    channel = Channel.EMAIL

    def __init__(self, settings: SmtpSettings, *, tls_context: ssl.SSLContext | None = None,
                 local_hostname: str | None = None, message_domain: str | None = None,
                 logger: logging.Logger | None = None, imap_tls_context: ssl.SSLContext | None = None,
                 status_sink: StatusSink | None = None) -> None:
        """tls_context overrides the system trust store (a private CA, tests); local_hostname is
        the EHLO name (default: this host's FQDN); message_domain the Message-ID domain
        (default: the sender's domain); imap_tls_context the bounce mailbox's trust store.
        status_sink receives bounces (also settable later: bind_status_sink)."""
        self.settings = settings
        self._builder = MimeBuilder(settings.sender, settings.sender_name, message_domain=message_domain)
        self._sender = self._builder.sender.encode("ascii")
        self._signer = TokenSigner(settings.bounce_secret.get_secret_value())
        self._relay = settings.delivery_mode == "relay"
        self._tls_context = tls_context
        self._local_hostname = local_hostname
        self._log = logger or logging.getLogger(__name__)
        self._idle: asyncio.Queue[aiosmtplib.SMTP] | None = None
        self._closed = False
        source: MailSource | None = None
        if settings.bounce_maildir is not None:
            source = MaildirSource(settings.bounce_maildir)
        elif settings.bounce_imap is not None:
            source = ImapSource(settings.bounce_imap, ssl_context=imap_tls_context)
        self.bounces = BounceMailbox(source, self._signer, logger=self._log) if source else None
        self._sink = status_sink
        self._scan_task: asyncio.Task[None] | None = None
        self._scanned_from = float("-inf")  # monotonic start of the last scan that completed

    @property
    def status_timeout_s(self) -> float:
        """How long a relayed message awaits a bounce before poll() (the dispatcher reads this)."""
        return self.settings.quiet_period_s

    @property
    def bounce_scan_s(self) -> float | None:
        """How often the scheduler reads the bounce mailbox; None without one."""
        return self.settings.bounce_scan_s if self.bounces is not None else None

    def bind_status_sink(self, sink: StatusSink) -> None:
        """Where bounces go: the dispatcher's on_status (the engine binds it before starting)."""
        self._sink = sink

    async def start(self) -> None:
        """Connect (TLS, login) one pooled connection now, so bad settings fail at start-up."""
        if self._local_hostname is None:
            # getfqdn may block on DNS: once, off the loop, not per connection.
            self._local_hostname = await asyncio.get_running_loop().run_in_executor(None, socket.getfqdn)
        self._idle = asyncio.Queue()
        first = self._new_client()
        try:
            await first.connect()
        except SMTPResponseException as exc:
            raise ChannelError(f"SMTP {self.settings.host}:{self.settings.port} refused us: "
                               f"{exc.code} {exc.message}", permanent=True, code=str(exc.code)) from exc
        except (SMTPException, OSError) as exc:
            raise ChannelError(f"SMTP {self.settings.host}:{self.settings.port} unreachable: {exc}",
                               permanent=False) from exc
        self._idle.put_nowait(first)
        for _ in range(self.settings.pool_size - 1):
            self._idle.put_nowait(self._new_client())  # connected on first use
        if self.bounces is not None:
            await self.bounces.open()  # an unreadable bounce mailbox is a start-up error
        elif self._relay:
            self._log.warning(
                "e-mail goes through a relay but no bounce mailbox is set (smtp.bounce_maildir or "
                "smtp.bounce_imap): every message handed over ends positive, delivered_no_bounce, "
                "after the quiet period of %.0f s", self.settings.quiet_period_s)

    async def send(self, item: Outgoing) -> SendResult:
        content = item.content
        if not isinstance(content, EmailContent):
            raise TypeError(f"email channel cannot send {type(content).__name__}")
        extra = {"delivery_id": item.delivery_id, "attempt_id": item.attempt_id, "channel": "email"}
        token = self._signer.token(item.attempt_id)
        try:
            rcpt = normalise_address(item.destination)
            message = self._builder.build(to=rcpt, to_name=item.recipient_name, content=content,
                                          message_id=self._builder.message_id(token))
        except InvalidAddressError as exc:
            self._log.info("not sent to %s: %s", mask_email(item.destination), exc, extra=extra)
            return SendResult(Outcome.NEGATIVE, "invalid_address", disposition=str(exc),
                              detail={"error": exc.why})
        except UnsafeHeaderError as exc:
            self._log.warning("not sent: %s", exc, extra=extra)
            return SendResult(Outcome.NEGATIVE, "failed", disposition=str(exc),
                              detail={"error": "unsafe_header", "header": exc.header})
        mail_from = (verp_address(self.settings.bounce_address, token).encode("ascii")
                     if self.settings.bounce_address else self._sender)
        return await self._deliver(rcpt, message, mail_from, token, extra)

    async def poll(self, provider_id: str) -> ProviderStatus | None:
        """The quiet period of a relayed message has passed: read the bounce mailbox (unless a scan
        begun since this call has completed) and hand its bounces over first, so a bounce that came
        in time wins; then no bounce means positive. None while the mailbox cannot be read: no
        claim of "no bounce" without having looked."""
        if not self._relay:
            return None
        if self.bounces is not None and not await self._scanned_since(time.monotonic()):
            return None
        return ProviderStatus(Channel.EMAIL, provider_id, "no_bounce", Outcome.POSITIVE, "delivered_no_bounce")

    async def scan_bounces(self) -> bool:
        """Read the bounce mailbox now (the scheduler calls this every smtp.bounce_scan_s)."""
        if self.bounces is None:
            return True
        return await self._scanned_since(time.monotonic())

    async def _scanned_since(self, instant: float) -> bool:
        """Make sure a scan begun at or after `instant` has completed. Callers at about the same
        time share scans: one already running is awaited, then at most one more is begun."""
        for _ in range(3):
            if self._scanned_from >= instant:
                return True
            task = self._scan_task
            if task is None or task.done():
                task = self._scan_task = asyncio.create_task(self._scan(), name="email-bounce-scan")
            await asyncio.shield(task)
        return self._scanned_from >= instant

    async def _scan(self) -> None:
        assert self.bounces is not None
        if self._sink is None:
            self._log.error("bounce mailbox not read: no status sink bound to the e-mail channel")
            return
        began = time.monotonic()
        if await self.bounces.scan(self._sink):
            self._scanned_from = max(self._scanned_from, began)

    async def close(self) -> None:
        """Wait (up to the SMTP timeout) for in-flight sends, then QUIT every connection."""
        self._closed = True
        if self._scan_task is not None:
            with contextlib.suppress(Exception):
                await self._scan_task
        if self.bounces is not None:
            await self.bounces.close()
        if self._idle is None:
            return
        clients: list[aiosmtplib.SMTP] = []
        try:
            async with asyncio.timeout(self.settings.timeout):
                for _ in range(self.settings.pool_size):
                    clients.append(await self._idle.get())
        except TimeoutError:
            self._log.warning("closing with %d SMTP transactions still in flight",
                              self.settings.pool_size - len(clients))
        for smtp in clients:
            await self._quit(smtp)

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host, port=s.port, username=s.username,
            password=s.password.get_secret_value() if s.password is not None else None,
            use_tls=s.use_tls, start_tls=s.start_tls, tls_context=self._tls_context,
            timeout=s.timeout, local_hostname=self._local_hostname,
        )

    async def _deliver(self, rcpt: str, message: MimeMessage, mail_from: bytes, token: str,
                       extra: dict[str, Any]) -> SendResult:
        if self._idle is None or self._closed:
            raise ChannelError("email channel is not started or already closed", permanent=False)
        smtp = await self._idle.get()
        env = _Envelope(mail_from, rcpt, token)
        try:
            result = await self._transaction(smtp, env, message, extra, may_redo=True)
            if result is None:  # stale idle connection, nothing transmitted yet: once more, fresh
                result = await self._transaction(smtp, env, message, extra, may_redo=False)
            assert result is not None
            return result
        finally:
            self._idle.put_nowait(smtp)

    async def _transaction(self, smtp: aiosmtplib.SMTP, env: _Envelope, message: MimeMessage,
                           extra: dict[str, Any], *, may_redo: bool) -> SendResult | None:
        """One MAIL/RCPT/DATA; None when a reused connection turned out dead before MAIL was taken."""
        rcpt = env.rcpt
        reused = smtp.is_connected
        stage = "connect"
        try:
            if not reused:
                await smtp.connect()
            if smtp.is_ehlo_or_helo_needed:
                await self._greet(smtp)
            stage = "mail"
            # One deadline for the whole transaction instead of a timer per command, and the
            # envelope written directly: both addresses were checked by normalise_address, so
            # aiosmtplib's mail()/rcpt() re-parsing them would be pure cost (bench/email_channel).
            async with asyncio.timeout(self.settings.timeout):
                size = b" SIZE=%d" % len(message.data) if smtp.supports_extension("size") else b""
                reply = await smtp.execute_command(b"MAIL FROM:<" + env.mail_from + b">" + size, timeout=None)
                if reply.code != 250:
                    raise SMTPSenderRefused(reply.code, reply.message, env.mail_from.decode("ascii"))
                stage = "rcpt"
                reply = await smtp.execute_command(b"RCPT TO:<" + rcpt.encode("ascii") + b">", timeout=None)
                if reply.code not in (250, 251):
                    raise SMTPRecipientRefused(reply.code, reply.message, rcpt)
                stage = "data"
                reply = await smtp.data(message.data, timeout=None)
        except SMTPResponseException as exc:
            if stage == "connect" or exc.code == 421:  # 421: the server is closing on us
                smtp.close()
            else:
                await self._reset(smtp)
            return self._refused(stage, exc.code, exc.message, env, extra)
        except (SMTPException, OSError) as exc:  # OSError includes our TimeoutError
            smtp.close()  # a reply we gave up on would pair with the next command: never reuse
            if may_redo and reused and stage == "mail" and isinstance(exc, SMTPServerDisconnected):
                return None
            return self._lost(stage, exc, env, extra)
        self._log.debug("accepted for %s: %s", mask_email(rcpt), reply.code, extra=extra)
        disposition = f"{reply.code} {reply.message}"
        detail = {"size": len(message.data), "message_id": message.message_id}
        if self._relay:  # transmitted, not yet received: a bounce or the quiet period decides
            return SendResult(None, "pending", provider_id=env.token, disposition=disposition,
                              detail=detail | {"relay": True})
        return SendResult(Outcome.POSITIVE, "accepted", provider_id=env.token, disposition=disposition,
                          detail=detail)

    def _refused(self, stage: str, code: int, text: str, env: _Envelope, extra: dict[str, Any]) -> SendResult:
        outcome, reason, retry = classify_reply(stage, code, text)
        level = logging.WARNING if stage in ("connect", "mail") else logging.INFO
        self._log.log(level, "SMTP %s refused at %s for %s: %s", code, stage, mask_email(env.rcpt), reason,
                      extra=extra)
        return SendResult(outcome, reason, retry=retry, provider_id=env.token,
                          disposition=f"{code} {text}", detail={"stage": stage, "smtp_code": code})

    def _lost(self, stage: str, exc: BaseException, env: _Envelope, extra: dict[str, Any]) -> SendResult:
        self._log.warning("SMTP connection lost at %s for %s: %s", stage, mask_email(env.rcpt),
                          type(exc).__name__, extra=extra)
        return SendResult(Outcome.NEGATIVE, "temporary_failure", retry=True,
                          provider_id=env.token, disposition=f"{type(exc).__name__}: {exc}",
                          detail={"stage": stage, "error": type(exc).__name__})

    @staticmethod
    async def _greet(smtp: aiosmtplib.SMTP) -> None:
        """EHLO, or HELO for a server that refuses it (what aiosmtplib's mail() would do)."""
        try:
            await smtp.ehlo()
        except SMTPHeloError:
            await smtp.helo()

    async def _reset(self, smtp: aiosmtplib.SMTP) -> None:
        """RSET after a refused transaction so the connection can be reused; drop it if that fails."""
        try:
            await smtp.rset()
        except (SMTPException, OSError):
            smtp.close()

    async def _quit(self, smtp: aiosmtplib.SMTP) -> None:
        if not smtp.is_connected:
            return
        try:
            await smtp.quit()
        except (SMTPException, OSError):
            smtp.close()
