"""Twilio message status callbacks: POST /callbacks/twilio/sms (AI-2, AI-14, AI-19).

Every request must carry a valid X-Twilio-Signature, computed by Twilio over the URL it called
and the POST parameters with our auth token. The URL Twilio called is the one we gave it as
StatusCallback: `twilio.status_callback_url` when set, else the public URL plus our path (behind a
proxy or tunnel the app's own view of the URL differs from what Twilio called, so it is never
used); the request's query string is appended as Twilio signs it. A missing or invalid signature
gets 403 and nothing reaches the sink. The body is read as raw form data (the signature covers
exactly those parameters), so the endpoint needs no python-multipart; its size is capped before
it is read by the web app (autoinform/web/limits.py).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from fastapi import APIRouter, Request, Response
from twilio.request_validator import RequestValidator

from autoinform.channels.base import StatusSink
from autoinform.channels.twilio_status import provider_status
from autoinform.config import TwilioSettings
from autoinform.logs import mask_url

SMS_STATUS_PATH = "/callbacks/twilio/sms"
_MAX_BODY = 64 * 1024  # Twilio's status callbacks are well under 2 KB


@dataclass
class CallbackCounters:
    """Counts the lead's metrics endpoint exposes; one instance per router."""

    accepted: int = 0
    rejected_signature: int = 0  # missing or invalid X-Twilio-Signature: 403
    malformed: int = 0  # signed, but not a status callback we can read: 400


def status_callback_url(public_url: str) -> str:
    """The URL to configure as TwilioSettings.status_callback_url for an engine at public_url."""
    return public_url.rstrip("/") + SMS_STATUS_PATH


def signed_callback_url(settings: TwilioSettings, public_url: str) -> str:
    """The URL Twilio posts reports to, and so signs: the configured one, else the derived one."""
    return settings.status_callback_url or status_callback_url(public_url)


def is_loopback_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def unreachable_callback_warning(settings: TwilioSettings, public_url: str) -> str | None:
    """Why Twilio could not post delivery reports to us, if it could not: the callback URL is a
    loopback address while the Twilio API is not (a local Twilio-compatible server can reach it)."""
    url = signed_callback_url(settings, public_url)
    if not is_loopback_url(url) or is_loopback_url(settings.api_base_url):
        return None
    return (f"SMS delivery reports will not arrive: the status callback URL {mask_url(url)} is a loopback "
            "address Twilio cannot reach; set web.public_url (or twilio.status_callback_url) to the "
            "engine's public address. Until then SMS outcomes come from polling only.")


def twilio_status_router(settings: TwilioSettings, sink: StatusSink, public_url: str, *,
                         counters: CallbackCounters | None = None,
                         logger: logging.Logger | None = None) -> APIRouter:
    """A router with the SMS status endpoint; pass `counters` to read them from outside.

    Signatures are checked against `settings.status_callback_url` when set (issue 8 item 11: a
    callback URL other than public_url's used to make every genuine report a 403), else against
    public_url plus the endpoint's path.
    """
    validator = RequestValidator(settings.auth_token.get_secret_value())
    stats = counters if counters is not None else CallbackCounters()
    log = logger or logging.getLogger(__name__)
    scheme, netloc, path, _, _ = urlsplit(signed_callback_url(settings, public_url))
    base = urlunsplit((scheme, netloc, path, "", ""))  # the request brings the query Twilio signed
    router = APIRouter()

    @router.post(SMS_STATUS_PATH, status_code=204, response_class=Response, include_in_schema=False)
    async def sms_status(request: Request) -> Response:
        params = await signed_params(request, validator, base, stats, log)
        if isinstance(params, Response):
            return params
        sid = params.get("MessageSid") or params.get("SmsSid")
        status = params.get("MessageStatus") or params.get("SmsStatus")
        if not sid or not status:
            stats.malformed += 1
            log.warning("signed Twilio callback without MessageSid or MessageStatus from %s", _peer(request))
            return Response(status_code=400)
        detail = {k: params[k] for k in ("RawDlrDoneDate", "MessagingServiceSid") if params.get(k)}
        await sink(provider_status(sid, status, params.get("ErrorCode"), detail))
        stats.accepted += 1
        log.debug("Twilio status %s for %s", status, sid)
        return Response(status_code=204)

    return router


class SignatureCounts(Protocol):
    rejected_signature: int
    malformed: int


async def signed_params(request: Request, validator: RequestValidator, base: str, stats: SignatureCounts,
                        log: logging.Logger) -> dict[str, str] | Response:
    """The POST parameters of a request Twilio signed for `base` (the URL without the query), or the
    response to give: 400 for an unreadable body, 403 for a missing or invalid X-Twilio-Signature.
    Every Twilio webhook of the engine checks its requests here."""
    body = await request.body()
    try:
        if len(body) > _MAX_BODY:
            raise ValueError("body too large")
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body)))
    except ValueError:  # UnicodeDecodeError is one
        stats.malformed += 1
        log.warning("unreadable Twilio callback body from %s", _peer(request))
        return Response(status_code=400)
    url = base + (f"?{request.url.query}" if request.url.query else "")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not validator.validate(url, params, signature):
        stats.rejected_signature += 1
        # Peer and whether a signature came at all; never the numbers or the message.
        log.warning("Twilio callback refused: %s signature from %s",
                    "invalid" if signature else "missing", _peer(request))
        return Response(status_code=403)
    return params


def _peer(request: Request) -> str:
    return request.client.host if request.client else "?"
