"""Issue 8 item 11 (AI-14, AI-19): Twilio's delivery reports are checked against the URL they were
sent to, the configured twilio.status_callback_url, not one rebuilt from web.public_url.

The local Twilio-compatible server (autoinform/sandbox/twilio_api.py) sends an SMS handed over
by the real channel and signs each report over the StatusCallback it was given, as Twilio does.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from autoinform.channels.base import Outgoing, ProviderStatus
from autoinform.channels.sms import TwilioSmsChannel
from autoinform.channels.twilio_callbacks import (
    SMS_STATUS_PATH,
    CallbackCounters,
    is_loopback_url,
    status_callback_url,
    twilio_status_router,
    unreachable_callback_warning,
)
from autoinform.config import TwilioSettings, WebSettings
from autoinform.content import SmsContent
from autoinform.engine import build_senders
from autoinform.models import Channel, Outcome
from autoinform.runtime import Runtime
from autoinform.sandbox.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio, twilio_signature

pytestmark = [pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning")]

# What the engine believes its public address is: not where the reports are posted.
PUBLIC_URL = "https://autoinform.example.invalid"


@dataclass
class Engine:
    callback_url: str
    settings: TwilioSettings
    statuses: list[ProviderStatus] = field(default_factory=list)
    counters: CallbackCounters = field(default_factory=CallbackCounters)


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        yield fake


@pytest.fixture
async def engine(twilio: FakeTwilio) -> AsyncIterator[Engine]:
    """The callback router with a configured callback URL (a tunnel's address, say, here loopback
    with a query string) that differs from public_url's."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    callback = f"http://127.0.0.1:{sock.getsockname()[1]}{SMS_STATUS_PATH}?engine=astrakhan-1"
    settings = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN), from_number=FROM_NUMBER,
                              api_base_url=twilio.base_url, status_callback_url=callback)
    eng = Engine(callback, settings)

    async def sink(status: ProviderStatus) -> None:
        eng.statuses.append(status)

    app = FastAPI()
    app.include_router(twilio_status_router(settings, sink, PUBLIC_URL, counters=eng.counters))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield eng
    server.should_exit = True
    await task
    sock.close()


async def test_reports_signed_over_the_configured_callback_url_are_accepted(
        twilio: FakeTwilio, engine: Engine) -> None:
    """Issue 8 item 11: with status_callback_url set and different from public_url, genuine reports
    are accepted (they were all 403 before) and the delivery gets its outcome."""
    channel = TwilioSmsChannel(engine.settings, request_timeout_s=5)
    await channel.start()
    try:
        result = await channel.send(Outgoing(delivery_id=1, attempt_id=10, channel=Channel.SMS,
                                             destination="+79023456789",
                                             content=SmsContent("Оплатите счёт", "UCS-2", 1)))
        await twilio.drain()
    finally:
        await channel.close()
    assert twilio.callbacks and {c.url for c in twilio.callbacks} == {engine.callback_url}
    assert [c.response_status for c in twilio.callbacks] == [204] * len(twilio.callbacks)
    assert engine.counters.rejected_signature == 0 and engine.counters.accepted == len(twilio.callbacks)
    final = engine.statuses[-1]
    assert (final.provider_id, final.outcome) == (result.provider_id, Outcome.POSITIVE)


@pytest.mark.parametrize("signed_url", ["public", "no_query", "garbage"])
async def test_wrong_signature_is_still_refused(engine: Engine, signed_url: str) -> None:
    """A report signed over any other URL (public_url's, or the callback URL without its query)
    or not signed properly gets 403 and reaches nothing."""
    params = {"AccountSid": ACCOUNT_SID, "From": FROM_NUMBER, "MessageSid": "SM" + "3" * 32,
              "MessageStatus": "delivered", "To": "+79023456789"}
    signature = {
        "public": twilio_signature(AUTH_TOKEN, status_callback_url(PUBLIC_URL) + "?engine=astrakhan-1", params),
        "no_query": twilio_signature(AUTH_TOKEN, engine.callback_url.split("?")[0], params),
        "garbage": "bm90IGEgc2lnbmF0dXJl",
    }[signed_url]
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(engine.callback_url, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert engine.statuses == [] and engine.counters.rejected_signature == 1


@pytest.mark.parametrize(("url", "loopback"), [
    ("http://127.0.0.1:8080", True), ("http://127.10.0.3/x", True), ("http://localhost:8080/", True),
    ("http://[::1]:8080", True), ("http://0.0.0.0:8080", True), ("https://hooks.retailer.example", False),
    ("https://203.0.113.7/cb", False),
])
def test_loopback_urls(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_loopback_callback_url_is_warned_about_at_start(sqlite_rt: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 8 item 11: SMS enabled against the real Twilio API with the default (loopback) public URL
    and no callback URL: a start-up warning says reports cannot arrive; a public callback URL or a
    local Twilio-compatible server (which can reach loopback) gives none."""
    s = sqlite_rt.settings
    s.web = WebSettings(public_url="http://127.0.0.1:8080")
    s.smtp.enabled = False
    s.twilio = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN), from_number=FROM_NUMBER)
    with caplog.at_level(logging.WARNING, logger="autoinform.engine"):
        senders = build_senders(sqlite_rt)
    assert Channel.SMS in senders
    assert s.twilio.status_callback_url == "http://127.0.0.1:8080" + SMS_STATUS_PATH
    [warning] = [r.getMessage() for r in caplog.records if r.name == "autoinform.engine"]
    assert "loopback" in warning and "web.public_url" in warning

    public = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN), from_number=FROM_NUMBER,
                            status_callback_url="https://hooks.retailer.example/tw")
    assert unreachable_callback_warning(public, "http://127.0.0.1:8080") is None
    sandbox = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN), from_number=FROM_NUMBER,
                             api_base_url="http://127.0.0.1:9999")
    assert unreachable_callback_warning(sandbox, "http://127.0.0.1:8080") is None
