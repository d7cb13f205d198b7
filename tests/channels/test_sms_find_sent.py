"""The Message list, as the local Twilio server pages and filters it and as TwilioSmsChannel.find_sent
reads it to settle an interrupted attempt (issue 8 item 6, AI-14); and the provider's retry flag on
undelivered reports (issue 8 item 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from autoinform.channels.base import Outgoing, SentFinder
from autoinform.channels.sms import SmsSubmitError, TwilioSmsChannel
from autoinform.channels.twilio_status import provider_status
from autoinform.config import TwilioSettings
from autoinform.content import SmsContent
from autoinform.models import Channel, Outcome
from autoinform.sandbox.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio, Final

pytestmark = [pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning")]

PHONE = "+79023456789"
OTHER = "+79023456700"
T0 = datetime(2026, 12, 7, 9, 0, 0, tzinfo=UTC)
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
LIST_KEYS = {"messages", "page", "page_size", "start", "end", "uri", "first_page_uri", "next_page_uri",
             "previous_page_uri"}


class SetClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> SetClock:
    return SetClock(T0)


@pytest.fixture
async def twilio(clock: SetClock) -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(clock=clock) as fake:
        yield fake


@pytest.fixture
async def channel(twilio: FakeTwilio) -> AsyncIterator[TwilioSmsChannel]:
    ch = TwilioSmsChannel(TwilioSettings.model_validate({
        "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": FROM_NUMBER,
        "api_base_url": twilio.base_url}), request_timeout_s=5)
    await ch.start()
    yield ch
    await ch.close()


async def send_at(channel: TwilioSmsChannel, twilio: FakeTwilio, clock: SetClock, at: datetime,
                  to: str = PHONE, text: str = "Долг 1234 руб.") -> str:
    """One message sent (status "sent", DateSent = `at`) and settled before the clock moves on."""
    clock.now = at
    result = await channel.send(Outgoing(1, 1, Channel.SMS, to, SmsContent(text, "UCS-2", 1)))
    await twilio.drain()
    assert result.provider_id is not None
    return result.provider_id


async def test_find_sent_finds_the_message_by_recipient_and_time_window(
        twilio: FakeTwilio, channel: TwilioSmsChannel, clock: SetClock) -> None:
    """Issue 8 item 6 (AI-14): an interrupted attempt is settled from Twilio's own Message list."""
    assert isinstance(channel, SentFinder)
    first = await send_at(channel, twilio, clock, T0)
    second = await send_at(channel, twilio, clock, T0 + timedelta(minutes=10))
    await send_at(channel, twilio, clock, T0 + timedelta(minutes=1), to=OTHER)

    found = await channel.find_sent(PHONE, T0 - timedelta(minutes=1), T0 + timedelta(minutes=2))
    assert found is not None
    assert (found.provider_id, found.status, found.outcome, found.reason) == (
        first, "delivered", Outcome.POSITIVE, "delivered")
    assert found.detail["found_by"] == "message_list"
    # Newest first when the window holds both; nothing outside the window or to another number.
    both = await channel.find_sent(PHONE, T0 - timedelta(minutes=1), T0 + timedelta(minutes=20))
    assert both is not None and both.provider_id == second
    assert await channel.find_sent(PHONE, T0 + timedelta(minutes=11), T0 + timedelta(hours=1)) is None
    assert await channel.find_sent(PHONE, T0 - timedelta(hours=1), T0 - timedelta(seconds=1)) is None
    assert await channel.find_sent("+79023456711", T0 - timedelta(hours=1), T0 + timedelta(hours=1)) is None


async def test_find_sent_compares_the_body_and_reads_every_page(
        twilio: FakeTwilio, channel: TwilioSmsChannel, clock: SetClock) -> None:
    """The one message with this text is the oldest of 60 in the window: found on the second page."""
    wanted = await send_at(channel, twilio, clock, T0, text="Уведомление о задолженности")
    for i in range(1, 60):
        await send_at(channel, twilio, clock, T0 + timedelta(seconds=i), text=f"другое {i}")
    requests = twilio.requests
    found = await channel.find_sent(PHONE, T0, T0 + timedelta(minutes=5), body="Уведомление о задолженности")
    assert found is not None and found.provider_id == wanted
    assert twilio.requests - requests == 2  # pages of 50
    assert await channel.find_sent(PHONE, T0, T0 + timedelta(minutes=5), body="не было") is None


async def test_find_sent_reports_an_undelivered_message_with_its_retry_flag(
        twilio: FakeTwilio, channel: TwilioSmsChannel, clock: SetClock) -> None:
    twilio.outcomes[PHONE] = Final("undelivered", 30003)
    sid = await send_at(channel, twilio, clock, T0)
    found = await channel.find_sent(PHONE, T0, T0 + timedelta(minutes=1))
    assert found is not None
    assert (found.provider_id, found.outcome, found.error_code, found.retry) == (
        sid, Outcome.NEGATIVE, "30003", True)


async def test_find_sent_raises_when_twilio_cannot_be_asked(channel: TwilioSmsChannel,
                                                           twilio: FakeTwilio) -> None:
    """An unanswered question is not "nothing was sent": it must not lead to a second send."""
    await twilio.stop()
    with pytest.raises(SmsSubmitError) as caught:
        await channel.find_sent(PHONE, T0, T0 + timedelta(minutes=1))
    assert caught.value.retry


async def test_message_list_has_twilios_paging_shape(twilio: FakeTwilio, channel: TwilioSmsChannel,
                                                     clock: SetClock) -> None:
    sids = [await send_at(channel, twilio, clock, T0 + timedelta(seconds=i)) for i in range(5)]
    await send_at(channel, twilio, clock, T0, to=OTHER)
    async with httpx.AsyncClient(base_url=twilio.base_url, auth=(ACCOUNT_SID, AUTH_TOKEN)) as client:
        first = (await client.get(MESSAGES, params={"To": PHONE, "DateSent>": "2026-12-07T09:00:01Z",
                                                    "DateSent<": "2026-12-07T09:00:04Z", "PageSize": 2})).json()
        assert set(first) == LIST_KEYS
        assert [m["sid"] for m in first["messages"]] == [sids[4], sids[3]]  # newest first, bounds inclusive
        assert (first["page"], first["page_size"], first["start"], first["end"]) == (0, 2, 0, 1)
        assert first["previous_page_uri"] is None
        assert first["uri"].startswith(MESSAGES + "?") and "To=%2B79023456789" in first["uri"]
        second = (await client.get(first["next_page_uri"])).json()
        assert [m["sid"] for m in second["messages"]] == [sids[2], sids[1]]
        assert (second["page"], second["start"], second["end"], second["next_page_uri"]) == (1, 2, 3, None)
        back = (await client.get(second["previous_page_uri"])).json()
        assert [m["sid"] for m in back["messages"]] == [sids[4], sids[3]]
        day = (await client.get(MESSAGES, params={"DateSent": "2026-12-07"})).json()
        assert len(day["messages"]) == 6
        assert (await client.get(MESSAGES, params={"DateSent<": "2026-12-06"})).json()["messages"] == []
        bad = await client.get(MESSAGES, params={"DateSent>": "yesterday"})
        assert bad.status_code == 400 and bad.json()["code"] == 20001


async def test_a_message_not_yet_sent_is_left_out_of_a_date_filtered_list(
        twilio: FakeTwilio, channel: TwilioSmsChannel, clock: SetClock) -> None:
    twilio.outcomes[PHONE] = Final("failed", 30008)  # queued -> failed: never sent, no DateSent
    await send_at(channel, twilio, clock, T0)
    assert await channel.find_sent(PHONE, T0 - timedelta(days=1), T0 + timedelta(days=1)) is None


@pytest.mark.parametrize("status, code, retry", [
    ("undelivered", 30003, True),  # unreachable handset: phone off or out of coverage
    ("failed", 30008, True),  # unknown error
    ("undelivered", 30001, True),  # queue overflow
    ("undelivered", 30007, False),  # carrier spam filter
    ("undelivered", 30005, False),  # unknown handset
    ("delivered", None, False),
])
def test_the_retry_flag_comes_from_the_delivery_error_table(status: str, code: int | None, retry: bool) -> None:
    """Issue 8 item 7: one source of truth, DELIVERY_ERRORS, carried on the ProviderStatus."""
    assert provider_status("SM1", status, code).retry is retry
