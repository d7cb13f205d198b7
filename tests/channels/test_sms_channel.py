"""SMS over the real twilio-python client against a local Twilio API, with signed status callbacks
received by the router in a real FastAPI app under uvicorn (AI-9, AI-14, AI-17, AI-19)."""

from __future__ import annotations

import asyncio
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
    status_callback_url,
    twilio_status_router,
)
from autoinform.channels.twilio_status import classify_request_error, status_outcome
from autoinform.config import TwilioSettings
from autoinform.content import EmailContent, SmsContent
from autoinform.errors import ChannelError
from autoinform.models import Channel, Outcome
from autoinform.sandbox.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    HOLD,
    FakeTwilio,
    Final,
    twilio_signature,
)

# twilio-python's async client uses aiohttp's BasicAuth, deprecated in aiohttp 3.12+.
pytestmark = [pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning")]

PHONE = "+79023456789"
CYRILLIC = ("Уважаемый абонент! Задолженность за электроэнергию 1 234,56 руб. "
            "Оплатите до 10.12, иначе подача будет ограничена.")  # 113 chars: UCS-2, 2 parts


@dataclass
class Receiver:
    """The engine's side: the callback router in a FastAPI app served by uvicorn."""

    public_url: str
    statuses: list[ProviderStatus] = field(default_factory=list)
    counters: CallbackCounters = field(default_factory=CallbackCounters)

    def for_sid(self, sid: str) -> list[ProviderStatus]:
        return [s for s in self.statuses if s.provider_id == sid]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    rec = Receiver(f"http://127.0.0.1:{sock.getsockname()[1]}")

    async def sink(status: ProviderStatus) -> None:
        rec.statuses.append(status)

    app = FastAPI()
    settings = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN))
    app.include_router(twilio_status_router(settings, sink, rec.public_url, counters=rec.counters))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield rec
    server.should_exit = True
    await task
    sock.close()


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as fake:
        yield fake


def settings_for(twilio: FakeTwilio, receiver: Receiver | None = None, **kw: object) -> TwilioSettings:
    base: dict[str, object] = {
        "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": FROM_NUMBER,
        "api_base_url": twilio.base_url,
        "status_callback_url": status_callback_url(receiver.public_url) if receiver else None,
    }
    base.update(kw)
    return TwilioSettings.model_validate(base)


@pytest.fixture
async def channel(twilio: FakeTwilio, receiver: Receiver) -> AsyncIterator[TwilioSmsChannel]:
    ch = TwilioSmsChannel(settings_for(twilio, receiver), request_timeout_s=5)
    await ch.start()
    yield ch
    await ch.close()


def sms(to: str = PHONE, text: str = CYRILLIC, *, encoding: str = "UCS-2", segments: int = 2) -> Outgoing:
    return Outgoing(delivery_id=7, attempt_id=70, channel=Channel.SMS, destination=to,
                    content=SmsContent(text, encoding, segments))


async def test_send_is_pending_and_delivery_report_is_positive(
        twilio: FakeTwilio, receiver: Receiver, channel: TwilioSmsChannel) -> None:
    """AI-14: handed over -> pending with the Message SID; "delivered" callback -> positive."""
    result = await channel.send(sms())

    assert (result.outcome, result.reason, result.retry) == (None, "pending", False)
    assert result.provider_id is not None and result.provider_id.startswith("SM") and len(result.provider_id) == 34
    assert result.disposition == "queued"
    assert result.detail["encoding"] == "UCS-2" and result.detail["segments"] == 2  # AI-17
    assert result.detail["provider_segments"] == 2
    await twilio.drain()
    seen = receiver.for_sid(result.provider_id)
    assert [(s.status, s.outcome) for s in seen] == [
        ("queued", None), ("sent", None), ("delivered", Outcome.POSITIVE)]
    assert seen[-1].reason == "delivered" and seen[-1].error_code is None
    assert "RawDlrDoneDate" in seen[-1].detail
    assert all(cb.response_status == 204 for cb in twilio.callbacks)
    assert receiver.counters.accepted == 3 and receiver.counters.rejected_signature == 0
    sent = twilio.messages[result.provider_id]
    assert (sent["to"], sent["from"], sent["body"]) == (PHONE, FROM_NUMBER, CYRILLIC)


@pytest.mark.parametrize("final, reason, retryable", [
    (Final("undelivered", 30003), "undelivered", True),
    (Final("undelivered", 30005), "undelivered", False),
    (Final("failed", 30008), "failed", True),
])
async def test_undelivered_and_failed_are_negative_with_error_code(
        twilio: FakeTwilio, receiver: Receiver, channel: TwilioSmsChannel,
        final: Final, reason: str, retryable: bool) -> None:
    twilio.outcomes[PHONE] = final
    result = await channel.send(sms())
    await twilio.drain()
    assert result.provider_id is not None
    last = receiver.for_sid(result.provider_id)[-1]
    assert (last.outcome, last.reason, last.error_code) == (Outcome.NEGATIVE, reason, str(final.error_code))
    assert last.detail["retryable"] is retryable


async def test_gsm7_text_counts_like_twilio(twilio: FakeTwilio, channel: TwilioSmsChannel) -> None:
    text = "Pay by 10 Dec: " + "x" * 150  # 165 GSM-7 chars: two parts of 153
    result = await channel.send(sms(text=text, encoding="GSM-7", segments=2))
    assert result.detail["provider_segments"] == 2


async def test_missing_final_status_is_resolved_by_polling(
        twilio: FakeTwilio, receiver: Receiver, channel: TwilioSmsChannel) -> None:
    """Issue 3 item 6: no final callback -> poll() asks Twilio for the message."""
    twilio.outcomes[PHONE] = HOLD
    result = await channel.send(sms())
    await twilio.drain()
    assert result.provider_id is not None
    assert [s.status for s in receiver.for_sid(result.provider_id)] == ["queued", "sent"]

    still = await channel.poll(result.provider_id)
    assert still is not None and (still.status, still.outcome) == ("sent", None)

    twilio.finish(result.provider_id, Final("undelivered", 30006))
    final = await channel.poll(result.provider_id)
    assert final is not None
    assert (final.outcome, final.reason, final.error_code) == (Outcome.NEGATIVE, "undelivered", "30006")
    assert final.detail["error_message"] == "Landline or unreachable carrier"


async def test_poll_of_an_unknown_sid_is_a_negative_failure(channel: TwilioSmsChannel) -> None:
    status = await channel.poll("SM" + "0" * 32)
    assert status is not None
    assert (status.outcome, status.reason, status.error_code) == (Outcome.NEGATIVE, "failed", "20404")


@pytest.mark.parametrize("code, reason, retry", [
    (21211, "invalid_address", False),
    (21610, "rejected", False),
    (21408, "failed", False),
    (21612, "failed", False),
])
async def test_twilio_refusals_are_mapped(twilio: FakeTwilio, channel: TwilioSmsChannel,
                                          code: int, reason: str, retry: bool) -> None:
    twilio.create_errors[PHONE] = code
    result = await channel.send(sms())
    assert (result.outcome, result.reason, result.retry) == (Outcome.NEGATIVE, reason, retry)
    assert result.detail["error_code"] == str(code) and result.detail["http_status"] == 400
    assert twilio.messages == {}


async def test_throttling_is_retryable(twilio: FakeTwilio, channel: TwilioSmsChannel) -> None:
    twilio.throttle_next = 1
    throttled = await channel.send(sms())
    assert (throttled.outcome, throttled.reason, throttled.retry) == (Outcome.NEGATIVE, "temporary_failure", True)
    assert throttled.detail["error_code"] == "20429"
    assert (await channel.send(sms())).reason == "pending"


async def test_empty_body_and_bad_sender_are_permanent(twilio: FakeTwilio, receiver: Receiver) -> None:
    ch = TwilioSmsChannel(settings_for(twilio, receiver, from_number="+15005550001"))
    await ch.start()
    not_ours = await ch.send(sms())
    await ch.close()
    assert (not_ours.reason, not_ours.retry, not_ours.detail["error_code"]) == ("failed", False, "21659")

    twilio.voice_only_numbers = frozenset({FROM_NUMBER})
    ch = TwilioSmsChannel(settings_for(twilio, receiver))
    await ch.start()
    voice_only = await ch.send(sms())
    twilio.voice_only_numbers = frozenset()
    empty = await ch.send(sms(text="", encoding="GSM-7", segments=1))
    await ch.close()
    assert voice_only.detail["error_code"] == "21606"
    assert (empty.reason, empty.retry, empty.detail["error_code"]) == ("failed", False, "21602")


@pytest.mark.parametrize("number", ["89023456789", "+7 902 345-67-89", "+0123456789", "", "+7902"])
async def test_non_e164_numbers_are_invalid_and_not_sent(twilio: FakeTwilio, channel: TwilioSmsChannel,
                                                         number: str) -> None:
    result = await channel.send(sms(to=number))
    assert (result.outcome, result.reason, result.retry) == (Outcome.NEGATIVE, "invalid_address", False)
    assert twilio.messages == {}


async def test_messaging_service_sender(twilio: FakeTwilio, receiver: Receiver) -> None:
    service = "MG" + "a" * 32
    ch = TwilioSmsChannel(settings_for(twilio, receiver, from_number="", messaging_service_sid=service))
    await ch.start()
    result = await ch.send(sms())
    await ch.close()
    await twilio.drain()
    assert (result.reason, result.disposition) == ("pending", "accepted")
    assert result.provider_id is not None
    assert receiver.for_sid(result.provider_id)[-1].detail["MessagingServiceSid"] == service


async def test_wrong_credentials_fail_start(twilio: FakeTwilio) -> None:
    ch = TwilioSmsChannel(settings_for(twilio, auth_token="not-the-token"))
    with pytest.raises(ChannelError) as err:
        await ch.start()
    assert err.value.permanent is True and err.value.code == "20003"


async def test_unreachable_api_fails_start_as_temporary() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ch = TwilioSmsChannel(TwilioSettings(account_sid=ACCOUNT_SID, auth_token=SecretStr(AUTH_TOKEN),
                                         from_number=FROM_NUMBER, api_base_url=f"http://127.0.0.1:{port}"))
    with pytest.raises(ChannelError) as err:
        await ch.start()
    assert err.value.permanent is False


async def test_unconfigured_twilio_fails_start() -> None:
    with pytest.raises(ChannelError):
        await TwilioSmsChannel(TwilioSettings()).start()


async def test_wrong_content_type_is_a_programming_error(channel: TwilioSmsChannel) -> None:
    with pytest.raises(TypeError):
        await channel.send(Outgoing(1, 1, Channel.SMS, PHONE, EmailContent("s", "t")))


# --- the callback endpoint's gate ---------------------------------------------------------------

def _callback_params(sid: str = "SM" + "1" * 32, status: str = "delivered") -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "From": FROM_NUMBER, "MessageSid": sid,
            "MessageStatus": status, "SmsSid": sid, "SmsStatus": status, "To": PHONE}


@pytest.mark.parametrize("kind", ["missing", "empty", "garbage", "other_token", "other_url"])
async def test_bad_signature_is_refused_and_not_recorded(receiver: Receiver, kind: str) -> None:
    """Issue 3 item 6: invalid or missing X-Twilio-Signature -> 403, nothing recorded, counted."""
    url = receiver.public_url + SMS_STATUS_PATH
    params = _callback_params()
    signature = {
        "missing": None,
        "empty": "",
        "garbage": "bm90IGEgc2lnbmF0dXJl",
        "other_token": twilio_signature("another-accounts-token", url, params),
        "other_url": twilio_signature(AUTH_TOKEN, "https://elsewhere.example" + SMS_STATUS_PATH, params),
    }[kind]
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    async with httpx.AsyncClient() as client:
        response = await client.post(url, data=params, headers=headers)
    assert response.status_code == 403
    assert receiver.statuses == []
    assert receiver.counters.rejected_signature == 1 and receiver.counters.accepted == 0


async def test_tampered_parameters_are_refused(receiver: Receiver) -> None:
    url = receiver.public_url + SMS_STATUS_PATH
    signed = _callback_params(status="undelivered")
    signature = twilio_signature(AUTH_TOKEN, url, signed)
    async with httpx.AsyncClient() as client:
        response = await client.post(url, data={**signed, "MessageStatus": "delivered"},
                                     headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403 and receiver.statuses == []


async def test_signed_callback_with_query_string_is_accepted(receiver: Receiver) -> None:
    url = receiver.public_url + SMS_STATUS_PATH + "?campaign=12"
    params = _callback_params(status="undelivered") | {"ErrorCode": "30003"}
    async with httpx.AsyncClient() as client:
        response = await client.post(url, data=params,
                                     headers={"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, params)})
    assert response.status_code == 204
    [status] = receiver.statuses
    assert (status.outcome, status.reason, status.error_code) == (Outcome.NEGATIVE, "undelivered", "30003")


async def test_signed_callback_without_sid_is_malformed(receiver: Receiver) -> None:
    url = receiver.public_url + SMS_STATUS_PATH
    params = {"AccountSid": ACCOUNT_SID, "MessageStatus": "delivered"}
    async with httpx.AsyncClient() as client:
        response = await client.post(url, data=params,
                                     headers={"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, params)})
    assert response.status_code == 400
    assert receiver.statuses == [] and receiver.counters.malformed == 1


@pytest.mark.parametrize("status, expected", [
    ("queued", (None, "pending")), ("accepted", (None, "pending")), ("sending", (None, "pending")),
    ("sent", (None, "pending")), ("delivered", (Outcome.POSITIVE, "delivered")),
    ("read", (Outcome.POSITIVE, "delivered")), ("undelivered", (Outcome.NEGATIVE, "undelivered")),
    ("failed", (Outcome.NEGATIVE, "failed")), ("canceled", (Outcome.NEGATIVE, "cancelled")),
    ("something-new", (None, "pending")),
])
def test_status_outcome(status: str, expected: tuple[Outcome | None, str]) -> None:
    assert status_outcome(status) == expected


@pytest.mark.parametrize("http_status, code, expected", [
    (400, 21211, ("invalid_address", False)), (400, 21610, ("rejected", False)),
    (400, 21408, ("failed", False)), (400, 21612, ("failed", False)),
    (429, 20429, ("temporary_failure", True)), (429, None, ("temporary_failure", True)),
    (503, None, ("temporary_failure", True)), (500, 20500, ("temporary_failure", True)),
    (400, 29999, ("failed", False)), (None, None, ("temporary_failure", True)),
])
def test_classify_request_error(http_status: int | None, code: int | None, expected: tuple[str, bool]) -> None:
    assert classify_request_error(http_status, code) == expected
