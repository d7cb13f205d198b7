"""Readings by SMS (HL-7): the format parsed apart from I/O, and the signed Twilio webhook that
answers every message in TwiML, stores it and counts it."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from autoinform.config import Settings, TwilioSettings, WebSettings
from autoinform.errors import ConfigError
from autoinform.hotline.sms import SmsFormatError, feedback_of, parse_sms
from autoinform.hotline.sms_webhook import SMS_INBOUND_PATH, SmsReadingCounters, sms_readings_router
from autoinform.models import HotlineTask, InboundSms, MeterReading
from autoinform.runtime import Runtime, open_runtime
from autoinform.sandbox.twilio_api import twilio_signature
from ivr.hotline.backend import Register, TaskKind
from tests.hotline_data.conftest import SMS_PHONE, WED_10, AddCustomer

TOKEN = "test-auth-token"
PUBLIC = "https://engine.example.org"
S, D, N = Register.SINGLE, Register.DAY, Register.NIGHT


@pytest.mark.parametrize(("body", "account", "values"), [
    ("123456789012 04567", "123456789012", {S: 4567}),
    ("ПОКАЗАНИЯ 123456789012 04567 01234", "123456789012", {D: 4567, N: 1234}),
    ("  показания\t123456789012\n\n04567   01234 ", "123456789012", {D: 4567, N: 1234}),
    ("Показания: 12/345 7", "12/345", {S: 7}),
    ("pokazaniya 100001 0", "100001", {S: 0}),
])
def test_parse(body: str, account: str, values: dict[Register, int]) -> None:
    got = parse_sms(body)
    assert got.account == account and got.values == values


@pytest.mark.parametrize(("body", "reason"), [
    ("", "пустое"), ("ПОКАЗАНИЯ", "пустое"), ("123456789012", "нет показаний"),
    ("123456789012 4567,5", "только цифрами"), ("123456789012 1 2 3", "больше двух"),
    ("№12 4567", "не лицевой счёт"), ("123456789012 12345678901", "только цифрами"),
])
def test_parse_refuses_with_the_reason(body: str, reason: str) -> None:
    with pytest.raises(SmsFormatError, match=reason):
        parse_sms(body)


@pytest.mark.parametrize(("body", "kind", "text"), [
    ("Жалоба: нет света третий день", TaskKind.COMPLAINT, "нет света третий день"),
    ("ОТЗЫВ спасибо за быстрый ответ", TaskKind.FEEDBACK, "спасибо за быстрый ответ"),
    ("предложение\nоплата по QR-коду", TaskKind.SUGGESTION, "оплата по QR-коду"),
])
def test_feedback_by_sms(body: str, kind: TaskKind, text: str) -> None:
    got = feedback_of(body)
    assert got is not None and got.kind is kind and got.text == text


def test_feedback_needs_text_and_a_reading_is_not_feedback() -> None:
    with pytest.raises(SmsFormatError, match="нет текста"):
        feedback_of("ЖАЛОБА:")
    assert feedback_of("ПОКАЗАНИЯ 1 2") is None and feedback_of("") is None


class Clock:
    def __init__(self) -> None:
        self.now = WED_10

    def __call__(self) -> object:
        return self.now


@pytest.fixture
def hook(rt: Runtime, settings: Settings) -> tuple[Runtime, SmsReadingCounters, Clock]:
    s = settings.model_copy(update={"twilio": TwilioSettings(account_sid="AC" + "0" * 32, auth_token=TOKEN),
                                    "web": WebSettings(public_url=PUBLIC)})
    runtime = open_runtime(s)
    return runtime, SmsReadingCounters(), Clock()


async def post(app: FastAPI, params: dict[str, str], *, sign: bool = True) -> httpx.Response:
    url = PUBLIC + SMS_INBOUND_PATH
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        headers["X-Twilio-Signature"] = twilio_signature(TOKEN, url, params)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as client:
        return await client.post(SMS_INBOUND_PATH, content=urlencode(params), headers=headers)


def sms(sid: str, body: str, sender: str = SMS_PHONE) -> dict[str, str]:
    return {"MessageSid": sid, "From": sender, "To": "+78512000000", "Body": body, "AccountSid": "AC" + "0" * 32}


@pytest.mark.anyio
async def test_webhook_answers_every_message(hook: tuple[Runtime, SmsReadingCounters, Clock],
                                             add_customer: AddCustomer) -> None:
    rt, counters, clock = hook
    add_customer("123456789012", SMS_PHONE)
    app = FastAPI()
    app.include_router(sms_readings_router(rt, counters=counters, clock=clock))  # type: ignore[arg-type]

    r = await post(app, sms("SM1", "показания 123456789012 04567"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    assert r.text.endswith("<Response><Message>Показания по л/с 123456789012 приняты: 4567. Спасибо!"
                           "</Message></Response>")
    again = await post(app, sms("SM1", "показания 123456789012 04567"))  # Twilio posts it again
    assert again.text == r.text
    same_today = await post(app, sms("SM2", "123456789012 4567"))
    assert "уже приняты сегодня" in same_today.text
    clock.now += timedelta(days=1)
    below = await post(app, sms("SM3", "123456789012 4000"))
    assert "не приняты: меньше предыдущих (4567)" in below.text
    high = await post(app, sms("SM4", "123456789012 9568"))  # limit 5000 in these tests
    assert "более чем на 5000" in high.text
    pair = await post(app, sms("SM5", "123456789012 5000 100"))
    assert "счётчик однотарифный" in pair.text
    stranger = await post(app, sms("SM6", "123456789012 4600", sender="+79997654321"))
    assert "не указан у этого лицевого счёта" in stranger.text
    unknown = await post(app, sms("SM7", "999999999999 4600"))
    assert "Лицевой счёт 999999999999 не найден" in unknown.text
    junk = await post(app, sms("SM8", "<script>&"))
    assert "Формат SMS" in junk.text and "<script>" not in junk.text and "&lt;script&gt;" in junk.text
    ok = await post(app, sms("SM9", "123456789012 4600"))
    assert "приняты: 4600" in ok.text
    complaint = await post(app, sms("SM11", "Жалоба: счёт завышен", sender="+79997654321"))
    forged = await post(app, sms("SM10", "123456789012 9000"), sign=False)
    assert forged.status_code == 403
    no_sid = await post(app, {"From": SMS_PHONE, "Body": "1 2"})
    assert no_sid.status_code == 400

    assert (counters.accepted, counters.duplicate, counters.refused, counters.unknown_sender,
            counters.malformed_message, counters.rejected_signature, counters.malformed) == (2, 2, 4, 1, 1, 1, 1)
    assert counters.feedback == 1
    with rt.sessions() as s:
        stored = {m.sid: m.result for m in s.scalars(select(InboundSms))}
        readings = s.scalars(select(MeterReading).order_by(MeterReading.id)).all()
    assert stored == {"SM1": "accepted", "SM2": "duplicate", "SM3": "below_previous", "SM4": "implausible",
                      "SM5": "wrong_registers", "SM6": "unknown_sender", "SM7": "unknown_account",
                      "SM8": "malformed", "SM9": "accepted", "SM11": "feedback"}
    assert [(r.value, r.source, r.call_id) for r in readings] == [(4567, "sms", "SM1"), (4600, "sms", "SM9")]
    with rt.sessions() as s:
        task = s.scalars(select(HotlineTask)).one()
    assert (task.kind, task.caller, task.note, task.call_id) == ("complaint", "+79997654321", "счёт завышен", "SM11")
    # 30 working days from Thursday 3 December: 31 Dec and 1-8 Jan are days off
    assert f"Жалоба зарегистрирована под номером {task.id}. Ответим до 25.01.2027." in complaint.text
    rt.close()


def test_no_webhook_without_a_twilio_token(rt: Runtime) -> None:
    with pytest.raises(ConfigError, match="auth_token"):
        sms_readings_router(rt)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
