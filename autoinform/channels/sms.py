"""SMS channel: one ChannelSender over any SmsProvider, and the Twilio provider (AI-9, AI-14, AI-17).

The dispatcher sees only SmsChannel; a provider (Twilio now, SMPP later) submits a message and
fetches its status. send() returns outcome None with reason "pending" and the provider's message
id; the final status arrives later through a status callback (twilio_callbacks) or poll().

Twilio is driven through twilio-python's AsyncTwilioHttpClient (aiohttp) rather than the
synchronous client in a thread pool: no threads, one pooled HTTP session, and concurrency is
already bounded by the dispatcher's per-channel limit. That client ignores its own timeout,
so every call here runs under asyncio.timeout().
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client
from twilio.rest.api.v2010.account.message import MessageList, MessagePage

from autoinform.channels.base import Outgoing, ProviderStatus, SendResult
from autoinform.channels.twilio_status import classify_request_error, provider_status, status_outcome
from autoinform.config import TwilioSettings
from autoinform.content import SmsContent
from autoinform.errors import ChannelError
from autoinform.logs import mask_phone
from autoinform.models import Channel, Outcome

_E164_RE = re.compile(r"\+[1-9]\d{7,14}")
T = TypeVar("T")


@dataclass(frozen=True)
class SmsSubmitted:
    provider_id: str
    status: str  # the provider's status right after submission, verbatim
    segments: int | None = None  # parts as the provider counts them, when it says
    detail: dict[str, Any] = field(default_factory=dict)


class SmsSubmitError(ChannelError):
    """The provider refused or could not take a request; reason is one of base.REASONS."""

    def __init__(self, message: str, *, reason: str, retry: bool, code: str | None = None,
                 http_status: int | None = None) -> None:
        super().__init__(message, permanent=not retry, code=code)
        self.reason = reason
        self.retry = retry
        self.http_status = http_status


class SmsProvider(Protocol):
    name: str

    async def start(self) -> None:
        """Open sessions and check credentials; raise ChannelError if unusable."""

    async def submit(self, to: str, content: SmsContent) -> SmsSubmitted:
        """Hand one message over; raise SmsSubmitError when the provider refuses it."""

    async def fetch(self, provider_id: str) -> ProviderStatus:
        """The message's current status; raise SmsSubmitError when it cannot be asked."""

    async def close(self) -> None: ...


class SmsChannel:
    """ChannelSender for SMS over any provider: destination checks, result mapping, logging."""

    channel = Channel.SMS

    def __init__(self, provider: SmsProvider, *, logger: logging.Logger | None = None) -> None:
        self.provider = provider
        self._log = logger or logging.getLogger(__name__)

    async def start(self) -> None:
        await self.provider.start()

    async def close(self) -> None:
        await self.provider.close()

    async def send(self, item: Outgoing) -> SendResult:
        content = item.content
        if not isinstance(content, SmsContent):
            raise TypeError(f"sms channel cannot send {type(content).__name__}")
        extra = {"delivery_id": item.delivery_id, "attempt_id": item.attempt_id, "channel": "sms"}
        detail: dict[str, Any] = {"encoding": content.encoding, "segments": content.segments,
                                  "provider": self.provider.name}
        if not _E164_RE.fullmatch(item.destination):
            self._log.info("not sent to %s: not an E.164 number", mask_phone(item.destination), extra=extra)
            return SendResult(Outcome.NEGATIVE, "invalid_address", disposition="not E.164", detail=detail)
        try:
            submitted = await self.provider.submit(item.destination, content)
        except SmsSubmitError as exc:
            level = logging.WARNING if exc.retry else logging.INFO
            self._log.log(level, "%s refused SMS to %s: %s %s", self.provider.name,
                          mask_phone(item.destination), exc.code, exc.reason, extra=extra)
            detail.update(error_code=exc.code, http_status=exc.http_status)
            return SendResult(Outcome.NEGATIVE, exc.reason, retry=exc.retry,
                              disposition=f"{exc.code or exc.http_status}: {exc}", detail=detail)
        detail.update(submitted.detail, provider_segments=submitted.segments)
        outcome, reason = status_outcome(submitted.status)
        self._log.debug("SMS to %s submitted as %s (%s)", mask_phone(item.destination),
                        submitted.provider_id, submitted.status, extra=extra)
        return SendResult(outcome, reason, provider_id=submitted.provider_id,
                          disposition=submitted.status, detail=detail)

    async def poll(self, provider_id: str) -> ProviderStatus | None:
        """The message's status now (outcome None while intermediate); None if it cannot be asked."""
        try:
            return await self.provider.fetch(provider_id)
        except SmsSubmitError as exc:
            if exc.retry:
                self._log.warning("status of %s unavailable: %s", provider_id, exc)
                return None
            return ProviderStatus(channel=Channel.SMS, provider_id=provider_id, status="unknown",
                                  outcome=Outcome.NEGATIVE, reason="failed", error_code=exc.code,
                                  detail={"error": str(exc)})


class TwilioSmsProvider:
    """Twilio Programmable Messaging through twilio-python, against settings.api_base_url."""

    name = "twilio"

    def __init__(self, settings: TwilioSettings, *, request_timeout_s: float = 15.0,
                 logger: logging.Logger | None = None) -> None:
        self.settings = settings
        self.request_timeout_s = request_timeout_s
        self._log = logger or logging.getLogger(__name__)
        self._http: AsyncTwilioHttpClient | None = None
        self._client: Client | None = None

    async def start(self) -> None:
        s = self.settings
        if not s.configured:
            raise ChannelError("twilio: account_sid, auth_token and from_number or messaging_service_sid "
                               "are required", permanent=True)
        # Created here: its aiohttp session must belong to the running loop. It logs each
        # request (never credentials or bodies) at INFO under this channel's logger.
        self._http = AsyncTwilioHttpClient(logger=self._log.getChild("http"))
        self._client = Client(s.account_sid, s.auth_token.get_secret_value(), http_client=self._http)
        self._client.api.base_url = s.api_base_url.rstrip("/")
        try:
            account = await self._call(self._client.api.v2010.accounts(s.account_sid).fetch_async())
        except SmsSubmitError as exc:
            await self.close()
            bad_credentials = exc.code == "20003"  # retryable per message, fatal at start-up
            raise ChannelError(f"twilio account check failed: {exc}",
                               permanent=bad_credentials or not exc.retry, code=exc.code) from exc
        if account.status not in (None, "active"):
            await self.close()
            raise ChannelError(f"twilio account is {account.status}", permanent=True)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
            self._client = None

    async def submit(self, to: str, content: SmsContent) -> SmsSubmitted:
        s = self.settings
        params: dict[str, Any] = {"to": to, "body": content.text}
        if s.status_callback_url:
            params["status_callback"] = s.status_callback_url
        if s.messaging_service_sid:
            params["messaging_service_sid"] = s.messaging_service_sid
        if s.from_number:
            params["from_"] = s.from_number
        # A timeout after the request left leaves its fate unknown: the retry may duplicate it.
        message = await self._call(self._messages().create_async(**params))
        segments = int(message.num_segments) if message.num_segments else None
        return SmsSubmitted(provider_id=str(message.sid), status=str(message.status), segments=segments)

    async def fetch(self, provider_id: str) -> ProviderStatus:
        message = await self._call(self._messages()(provider_id).fetch_async())
        extra: dict[str, Any] = {"num_segments": message.num_segments}
        if message.error_message:
            extra["error_message"] = message.error_message
        return provider_status(str(message.sid), str(message.status), message.error_code, extra)

    async def find(self, to: str, since: datetime, until: datetime, body: str | None = None,
                   *, page_size: int = 50) -> ProviderStatus | None:
        """The newest message to `to` sent within [since, until] (and with this body, when given),
        from the Message list filtered by To, DateSent> and DateSent<, page by page; None if none."""
        # Twilio keeps DateSent to the second: the window is widened to whole seconds, and each
        # message is checked here as well, in case the API took the filter for a bare date.
        low = since.astimezone(UTC).replace(microsecond=0)
        high = until.astimezone(UTC).replace(microsecond=0)
        if high < until.astimezone(UTC):
            high += timedelta(seconds=1)
        page: MessagePage | None = await self._call(self._messages().page_async(
            to=to, date_sent_after=low, date_sent_before=high, page_size=page_size))
        while page is not None:
            for message in page:  # newest first
                sent = message.date_sent
                if sent is None or not low <= sent <= high or message.to != to:
                    continue
                if body is not None and message.body != body:
                    continue
                extra: dict[str, Any] = {"num_segments": message.num_segments, "found_by": "message_list",
                                         "date_sent": sent.isoformat()}
                if message.error_message:
                    extra["error_message"] = message.error_message
                return provider_status(str(message.sid), str(message.status), message.error_code, extra)
            page = await self._call(page.next_page_async())
        return None

    def _messages(self) -> MessageList:
        if self._client is None:
            raise ChannelError("twilio provider is not started", permanent=False)
        return self._client.api.v2010.accounts(self.settings.account_sid).messages

    async def _call(self, request: Awaitable[T]) -> T:
        """Run one API call under the timeout, turning every failure into SmsSubmitError."""
        try:
            async with asyncio.timeout(self.request_timeout_s):
                return await request
        except TwilioException as exc:
            status = getattr(exc, "status", None)
            code = getattr(exc, "code", None)
            reason, retry = classify_request_error(status, code)
            text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or type(exc).__name__
            raise SmsSubmitError(str(text), reason=reason, retry=retry,
                                 code=str(code) if code is not None else None, http_status=status) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise SmsSubmitError(f"{type(exc).__name__}: {exc}", reason="temporary_failure",
                                 retry=True) from exc


class TwilioSmsChannel(SmsChannel):
    """The SMS channel as configured by [twilio] settings; a SentFinder (channels.base)."""

    def __init__(self, settings: TwilioSettings, *, request_timeout_s: float = 15.0,
                 logger: logging.Logger | None = None) -> None:
        log = logger or logging.getLogger(__name__)
        self.twilio = TwilioSmsProvider(settings, request_timeout_s=request_timeout_s, logger=log)
        super().__init__(self.twilio, logger=log)

    async def find_sent(self, destination: str, since: datetime, until: datetime,
                        body: str | None = None) -> ProviderStatus | None:
        """What Twilio sent to `destination` within [since, until]: the newest such message's status
        and SID, or None. An interrupted attempt (sent, perhaps, but its SID never recorded) is
        settled from this before it is sent again. Raises SmsSubmitError (a ChannelError) when
        Twilio cannot be asked: never to be taken for "not sent"."""
        found = await self.twilio.find(destination, since, until, body)
        self._log.info("message list for %s between %s and %s: %s", mask_phone(destination),
                       since.isoformat(), until.isoformat(),
                       f"{found.provider_id} {found.status}" if found else "nothing sent")
        return found
