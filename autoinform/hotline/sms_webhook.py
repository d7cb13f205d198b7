"""POST /callbacks/twilio/sms-inbound: meter readings (HL-7) and feedback (HL-9) by SMS, answered
in TwiML.

Twilio posts an incoming message to the URL configured for the number (the engine's public URL
plus this path); the X-Twilio-Signature is checked by the same helper as the delivery reports
(channels.twilio_callbacks.signed_params): a bad signature gets 403 and nothing is stored. Every
signed message is stored (inbound_sms) with the answer it got, in the transaction that stores its
reading, so none is lost; a message Twilio posts again (same MessageSid) gets the same answer and
is counted as a duplicate. A reading is accepted only from a number the account's customer has
(a current contact point): anyone else is answered and counted as an unknown sender. Feedback,
complaints and suggestions are taken from anyone: each becomes a task whose number and deadline the
answer gives.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from autoinform import db
from autoinform.channels.twilio_callbacks import signed_params
from autoinform.errors import ConfigError
from autoinform.hotline import readings, sms, tasks
from autoinform.hotline.backend import reception_hours
from autoinform.logs import mask_phone
from autoinform.models import ContactPoint, Customer, InboundSms
from autoinform.runtime import Runtime
from ivr.hotline.backend import NewTask, ReadingRefusal, ReadingSource, ReadingSubmission

SMS_INBOUND_PATH = "/callbacks/twilio/sms-inbound"
log = logging.getLogger(__name__)


@dataclass
class SmsReadingCounters:
    """Shown by /api/metrics; one instance per router."""

    accepted: int = 0
    refused: int = 0  # a reading refused by the checks (below previous, implausible, …)
    duplicate: int = 0  # the same values already taken today, or the same message posted again
    unknown_sender: int = 0
    feedback: int = 0  # feedback, complaints and suggestions registered as tasks (HL-9)
    malformed_message: int = 0  # not in the SMS format: answered with the format
    rejected_signature: int = 0  # 403
    malformed: int = 0  # an unreadable request or one without MessageSid/From: 400


@dataclass(frozen=True)
class Answer:
    result: str  # accepted | duplicate | unknown_sender | malformed | a ReadingRefusal value
    reply: str


def sender_known(session: Session, account: str, sender: str) -> bool:
    return session.scalar(select(ContactPoint.id).join(Customer, ContactPoint.customer_id == Customer.id)
                          .where(Customer.account == account, ContactPoint.value == sender,
                                 ContactPoint.superseded_at.is_(None)).limit(1)) is not None


def handle(session: Session, sid: str, sender: str, body: str, *, now: datetime, max_increase: int,
           rt: Runtime, deadlines: tasks.Deadlines) -> tuple[Answer, bool]:
    """Answer one message in the caller's transaction; (answer, True) when it was seen before."""
    seen = session.scalar(select(InboundSms).where(InboundSms.sid == sid))
    if seen is not None:
        return Answer("duplicate", seen.reply), True
    answer = _answer(session, sid, sender, body, now=now, max_increase=max_increase, rt=rt, deadlines=deadlines)
    session.add(InboundSms(sid=sid[:64], sender=sender[:32], body=body[:1600], received_at=now,
                           result=answer.result, reply=answer.reply[:1600]))
    return answer, False


def _answer(session: Session, sid: str, sender: str, body: str, *, now: datetime, max_increase: int,
            rt: Runtime, deadlines: tasks.Deadlines) -> Answer:
    try:
        feedback = sms.feedback_of(body)
        if feedback is not None:
            deadline = deadlines.for_kind(feedback.kind, now)
            task = tasks.create(session, NewTask(feedback.kind, sender, sid, note=feedback.text), deadline, now,
                                retention_days=rt.settings.hotline.recording_retention_days)
            due = f"{deadline.astimezone(rt.settings.tz) - timedelta(seconds=1):%d.%m.%Y}"
            return Answer("feedback", sms.feedback_text(feedback.kind, task.id, due))
        parsed = sms.parse_sms(body)
    except sms.SmsFormatError as exc:
        return Answer("malformed", sms.malformed_text(str(exc)))
    if session.scalar(select(Customer.id).where(Customer.account == parsed.account)) is None:
        return Answer(ReadingRefusal.UNKNOWN_ACCOUNT.value,
                      sms.refusal_text(parsed, ReadingRefusal.UNKNOWN_ACCOUNT, {}, max_increase))
    if not sender_known(session, parsed.account, sender):
        return Answer("unknown_sender", sms.unknown_sender_text(parsed.account))
    result = readings.submit(session, ReadingSubmission(parsed.account, dict(parsed.values), ReadingSource.SMS,
                                                        sender, sid), max_increase=max_increase, now=now,
                             tz=rt.settings.tz)
    if result.accepted:
        return Answer("accepted", sms.accepted_text(parsed))
    assert result.refusal is not None
    return Answer(result.refusal.value, sms.refusal_text(parsed, result.refusal, result.previous, max_increase))


def _count(stats: SmsReadingCounters, answer: Answer, again: bool) -> None:
    if again or answer.result == ReadingRefusal.DUPLICATE:
        stats.duplicate += 1
    elif answer.result == "accepted":
        stats.accepted += 1
    elif answer.result == "unknown_sender":
        stats.unknown_sender += 1
    elif answer.result == "feedback":
        stats.feedback += 1
    elif answer.result == "malformed":
        stats.malformed_message += 1
    else:
        stats.refused += 1


def sms_readings_router(rt: Runtime, *, counters: SmsReadingCounters | None = None,
                        clock: Callable[[], datetime] | None = None) -> APIRouter:
    """The inbound-SMS endpoint; Twilio signs `web.public_url` + SMS_INBOUND_PATH. Without a Twilio
    auth token anyone could sign, so none means ConfigError: mount it only when Twilio is set up."""
    token = rt.settings.twilio.auth_token.get_secret_value()
    if not token:
        raise ConfigError("the inbound SMS webhook needs twilio.auth_token to check signatures")
    validator = RequestValidator(token)
    stats = counters if counters is not None else SmsReadingCounters()
    now_fn = clock or (lambda: datetime.now(UTC))
    scheme, netloc, path, _, _ = urlsplit(rt.settings.web.public_url.rstrip("/") + SMS_INBOUND_PATH)
    base = urlunsplit((scheme, netloc, path, "", ""))
    max_increase = rt.settings.hotline.max_reading_increase
    deadlines = tasks.Deadlines(reception_hours(rt), rt.settings.hotline)
    router = APIRouter()

    def work(sid: str, sender: str, body: str) -> tuple[Answer, bool]:
        for attempt in (1, 2):
            try:
                with db.transaction(rt.sessions) as s:
                    return handle(s, sid, sender, body, now=now_fn(), max_increase=max_increase, rt=rt,
                                  deadlines=deadlines)
            except IntegrityError:  # the same message stored by a concurrent request: answer as it was
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @router.post(SMS_INBOUND_PATH, include_in_schema=False)
    async def sms_inbound(request: Request) -> Response:
        params = await signed_params(request, validator, base, stats, log)
        if isinstance(params, Response):
            return params
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        sender = params.get("From", "")
        if not sid or not sender:
            stats.malformed += 1
            log.warning("signed inbound SMS without MessageSid or From")
            return Response(status_code=400)
        answer, again = await asyncio.to_thread(work, sid, sender, params.get("Body", ""))
        _count(stats, answer, again)
        log.info("inbound SMS %s from %s: %s%s", sid, mask_phone(sender), answer.result,
                 " (posted again)" if again else "")
        return Response(sms.twiml_message(answer.reply), media_type="application/xml")

    return router
