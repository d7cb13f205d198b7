"""The local Twilio API answers in Twilio's documented shapes, so channel tests mean something."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from twilio.request_validator import RequestValidator

from autoinform.sandbox.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    FakeTwilio,
    count_segments,
    twilio_signature,
)

MESSAGE_KEYS = {"account_sid", "api_version", "body", "date_created", "date_sent", "date_updated", "direction",
                "error_code", "error_message", "from", "messaging_service_sid", "num_media", "num_segments",
                "price", "price_unit", "sid", "status", "subresource_uris", "to", "uri"}


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeTwilio, httpx.AsyncClient]]:
    async with FakeTwilio() as fake, httpx.AsyncClient(base_url=fake.base_url,
                                                       auth=(ACCOUNT_SID, AUTH_TOKEN)) as client:
        yield fake, client


MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


async def test_create_and_fetch_return_the_message_resource(api: tuple[FakeTwilio, httpx.AsyncClient]) -> None:
    _, client = api
    created = await client.post(MESSAGES, data={"To": "+79023456789", "From": FROM_NUMBER, "Body": "Привет"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == MESSAGE_KEYS
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert (body["status"], body["direction"], body["num_segments"], body["num_media"]) == (
        "queued", "outbound-api", "1", "0")
    assert body["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{body['sid']}.json"
    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000", body["date_created"])
    fetched = await client.get(body["uri"])
    assert fetched.status_code == 200 and fetched.json()["sid"] == body["sid"]


@pytest.mark.parametrize("form, code, status", [
    ({"To": "89023456789", "From": FROM_NUMBER, "Body": "x"}, 21211, 400),
    ({"To": "+79023456789", "From": FROM_NUMBER, "Body": ""}, 21602, 400),
    ({"To": "+79023456789", "From": "+15005550001", "Body": "x"}, 21659, 400),
    ({"To": "+79023456789", "Body": "x"}, 21603, 400),
    ({"To": "+79023456789", "From": FROM_NUMBER, "Body": "x" * 1601}, 21617, 400),
])
async def test_errors_have_twilios_shape(api: tuple[FakeTwilio, httpx.AsyncClient], form: dict[str, str],
                                         code: int, status: int) -> None:
    _, client = api
    response = await client.post(MESSAGES, data=form)
    assert response.status_code == status
    assert response.json() == {"code": code, "message": response.json()["message"],
                               "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


async def test_wrong_credentials_get_401(api: tuple[FakeTwilio, httpx.AsyncClient]) -> None:
    fake, _ = api
    async with httpx.AsyncClient(base_url=fake.base_url, auth=(ACCOUNT_SID, "wrong")) as client:
        response = await client.post(MESSAGES, data={"To": "+79023456789", "From": FROM_NUMBER, "Body": "x"})
    assert response.status_code == 401 and response.json()["code"] == 20003


def test_signature_matches_twilios_own_validator() -> None:
    url = "https://engine.example.ru/callbacks/twilio/sms?x=1"
    params = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "To": "+79023456789", "B": "Ж"}
    assert RequestValidator(AUTH_TOKEN).validate(url, params, twilio_signature(AUTH_TOKEN, url, params))


@pytest.mark.parametrize("body, segments", [
    ("x" * 160, 1), ("x" * 161, 2), ("x" * 306, 2), ("x" * 307, 3), ("[" * 80, 1), ("[" * 81, 2),
    ("ж" * 70, 1), ("ж" * 71, 2), ("ж" * 134, 2), ("ж" * 135, 3),
])
def test_segments_are_counted_like_twilio(body: str, segments: int) -> None:
    """AI-17: GSM-7 160/153 (extension characters count twice), UCS-2 70/67."""
    assert count_segments(body) == segments
