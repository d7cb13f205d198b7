"""The `/notify` route: the spoken notice of an answered notification call (issue 10 part 3;
AI-2, AI-8, AI-14).

Asterisk's [autoinform-notify] context runs AMD() and then
`AGI(agi://.../notify?delivery=D&attempt=A&amd=AMDSTATUS)`. The flow reads the call's content from
a NoticeSource (the engine's phone channel; the flow never touches the database), plays the
scenario's steps (their prompt ids already carry the customer's values as ivr/say.py speaks them),
then offers the confirm / operator / repeat keys, and reports one result with its evidence:
- positive: the confirm key (`confirmed`), every required step played to its end (`heard`), or
  the operator key (`transferred`; AUTOINFORM_NEXT=operator hands the call to the dialplan's queue);
- negative: AMD said MACHINE (`answering_machine`), a hang-up before the required steps were heard
  (`hung_up_early`, with the step), no key after the replays (`no_input`).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from autoinform.channels.base import ProviderStatus
from autoinform.content import PhoneContent
from autoinform.models import Channel, Outcome
from ivr.errors import CallerHangup
from ivr.router import Flow
from ivr.session import AgiSession

logger = logging.getLogger(__name__)

KEY_TIMEOUT_MS: Final = 5000
REPLAYS: Final = 2
"""How many times the notice is played again when no key comes (so at most three times in all)."""


class NoticeSource(Protocol):
    """What the flow needs from the engine: the call's content, and where its result goes."""

    def notice_for(self, attempt_id: int) -> PhoneContent | None: ...

    async def report(self, status: ProviderStatus) -> None: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class _Call:
    """The evidence of one call as it happens (AI-2)."""

    def __init__(self, session: AgiSession, attempt_id: int) -> None:
        self.attempt_id = attempt_id
        self.evidence: dict[str, Any] = {
            "amd": session.query.get("amd", ""), "uniqueid": session.env.uniqueid,
            "channel_name": session.env.get("agi_channel"), "answered_at": _now(), "prompts": [], "keys": []}
        self.heard: set[str] = set()
        self.step: str | None = None

    def key(self, digit: str) -> None:
        self.evidence["keys"].append({"key": digit, "at": _now()})

    def status(self, outcome: Outcome, reason: str) -> ProviderStatus:
        self.evidence |= {"ended_at": _now(), "heard_steps": sorted(self.heard)}
        if self.step is not None and reason == "hung_up_early":
            self.evidence["hung_up_step"] = self.step
        return ProviderStatus(Channel.PHONE, f"call-{self.attempt_id}", reason, outcome, reason,
                              detail=self.evidence)


def notify_flow(source: NoticeSource, *, key_timeout_ms: int = KEY_TIMEOUT_MS, replays: int = REPLAYS) -> Flow:
    """The /notify flow bound to the engine's NoticeSource (the waits shorter in tests on a real
    Asterisk, where every second is a real one)."""

    async def notify(session: AgiSession) -> None:
        extra = session.log_extra
        attempt = session.query.get("attempt", "")
        content = source.notice_for(int(attempt)) if attempt.isdigit() else None
        if content is None:
            logger.warning("notify: no notice for attempt %r (not placed by this engine, or its result "
                           "already in)", attempt, extra=extra)
            await session.hangup()
            return
        call = _Call(session, int(attempt))
        if call.evidence["amd"].upper() == "MACHINE":
            await source.report(call.status(Outcome.NEGATIVE, "answering_machine"))
            await session.hangup()
            return
        try:
            outcome, reason = await _run(session, content, call, key_timeout_ms, replays)
        except CallerHangup:
            required = {s.id for s in content.steps if s.required}
            outcome, reason = ((Outcome.POSITIVE, "heard") if required and required <= call.heard
                               else (Outcome.NEGATIVE, "hung_up_early"))
        await source.report(call.status(outcome, reason))
        logger.info("notify: attempt %s %s", attempt, reason, extra=extra)
        if reason == "transferred":
            return  # the dialplan takes the call on to the operators' queue
        if not session.hung_up:
            with contextlib.suppress(CallerHangup):
                await session.hangup()

    return notify


async def _run(session: AgiSession, content: PhoneContent, call: _Call, key_timeout_ms: int,
               replays: int) -> tuple[Outcome, str]:
    keys = "".join(k for k in (content.confirm_key, content.operator_key, content.repeat_key) if k)
    required = {s.id for s in content.steps if s.required}
    await session.answer()
    for _ in range(1 + replays):
        digit: str | None = None
        for step in content.steps:
            call.step = step.id
            call.evidence["prompts"].append({"step": step.id, "prompts": list(step.prompts), "text": step.text,
                                             "at": _now()})
            digit = await session.play_sequence(step.prompts, keys)
            if digit is not None:
                break
            call.heard.add(step.id)
        call.step = None
        if digit is None and keys:
            digit = await session.wait_for_digit(key_timeout_ms)
        if digit is not None:
            call.key(digit)
        if digit is not None and digit == content.confirm_key:
            return Outcome.POSITIVE, "confirmed"
        if digit is not None and digit == content.operator_key:
            await session.set_variable("AUTOINFORM_NEXT", "operator")  # AI-8: the dialplan's contract
            return Outcome.POSITIVE, "transferred"
        if digit is not None and digit == content.repeat_key:
            continue
        if not keys:
            break
    if required and required <= call.heard:
        return Outcome.POSITIVE, "heard"
    return Outcome.NEGATIVE, "no_input"
