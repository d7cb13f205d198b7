"""The `/hotline` route: the region's hotline IVR (issue 11; HL-2 … HL-11).

Asterisk's [autoinform-hotline] runs `AGI(.../hotline)`; the flow greets the caller and says the
call is recorded (HL-3), then asks the backend whether the hotline is open (HL-2):
- closed: the caller hears when reception reopens and leaves a message, which becomes a callback
  task (a caller who hangs up during the message still gets one if anything was recorded);
- open: the menu of hotline/menu.yaml, with its retries, repeat and back keys, and the operator key
  in every menu: information (HL-6), balance (HL-8), meter readings (HL-7), voice messages (HL-9),
  visit requests (HL-10).
To reach an operator the flow sets AUTOINFORM_NEXT=operator and returns; the dialplan queues the
caller and comes back with `hotline?after=operator&queue=${QUEUESTATUS}`: a caller the queue did
not answer in time (TIMEOUT, FULL, JOINEMPTY …) is offered a message for a callback; one back from
an operator (CONTINUE: Queue's `c` option, docs/asterisk/README.md) gets the one-key survey
(HL-11). The call's state crosses the queue in channel variables (AUTOINFORM_HL_*), so every call
ends with one complete backend.record_call (HL-5); an answered call is also written as it enters,
without an end, for the web app's hotline page.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Final

from autoinform.config import HotlineSettings
from autoinform.logs import mask_phone
from ivr import say
from ivr.errors import CallerHangup
from ivr.hotline.backend import (
    AccountInfo,
    CallRecord,
    HotlineBackend,
    NewTask,
    QueueEvent,
    ReadingRefusal,
    ReadingSource,
    ReadingSubmission,
    Reception,
    Register,
    TaskKind,
)
from ivr.hotline.info import InfoBase
from ivr.hotline.menu import Action, HotlineMenu, Item
from ivr.prompts import playback_name
from ivr.router import Flow
from ivr.session import AgiSession

logger = logging.getLogger(__name__)

ALL_KEYS: Final = "0123456789*#"
# Queue()'s QUEUESTATUS when the caller comes back without having talked to anyone.
NOT_CONNECTED: Final = frozenset({"TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL"})
VAR_STARTED: Final = "AUTOINFORM_HL_STARTED"
VAR_PATH: Final = "AUTOINFORM_HL_PATH"
VAR_MENU_AT: Final = "AUTOINFORM_HL_MENU_AT"
VAR_ACCOUNT: Final = "AUTOINFORM_HL_ACCOUNT"
VAR_QUEUED: Final = "AUTOINFORM_HL_QUEUED"  # the flow sent this call to the queue (the survey's condition)


class Next(enum.Enum):
    """Where the call goes once an item is done."""

    MENU = "menu"
    OPERATOR = "operator"


class _Operator(Exception):
    """The operator key, pressed wherever a key is read: unwinds to the menu loop."""


def _phrases(*ids: str) -> say.Speech:
    return say.Speech.join(say.phrase(i) for i in ids)


class _Call:
    """One hotline call: its session, the record it ends with, and the small dialogues."""

    def __init__(self, flow: HotlineFlow, session: AgiSession) -> None:
        self.flow = flow
        self.backend = flow.backend
        self.session = session
        self.timing = flow.menu.timing
        self.operator_key = flow.menu.spec.operator_key
        self.caller = session.env.callerid if session.env.callerid not in ("", "unknown") else ""
        self.record = CallRecord(call_id=session.call_id, caller=self.caller, started_at=self.backend.now())
        self.extra = session.log_extra
        self.start_written: asyncio.Task[None] | None = None  # the write as it answered (_started)

    # --- speaking and listening --------------------------------------------------------------------

    async def say(self, speech: say.Speech | str, keys: str = "") -> str | None:
        if isinstance(speech, str):
            speech = say.phrase(speech)
        return await self.session.play_sequence(speech.prompts, keys)

    async def choose(self, prompt_ids: Sequence[str], *, operator: bool = True) -> str | None:
        """Play the prompts (any key stops them), then wait for a key; None on silence. The operator
        key raises _Operator."""
        key = await self.session.play_sequence(prompt_ids, ALL_KEYS)
        if key is None:
            key = await self.session.wait_for_digit(self.timing.key_timeout_ms)
        if operator and key == self.operator_key:
            raise _Operator
        return key

    async def keypad(self, prompt_id: str, max_digits: int) -> str:
        """Digits typed after the prompt, ended by # or the pause; "" on silence."""
        read = await self.session.get_data(playback_name(prompt_id, self.session.prompt_base),
                                           timeout_ms=self.timing.digit_timeout_ms, max_digits=max_digits)
        return read.digits

    def visit(self, item_id: str) -> None:
        self.record.menu_path.append(item_id)

    # --- the operator, across the queue --------------------------------------------------------------

    async def to_operator(self) -> None:
        self.visit("operator")
        self.record.outcome = "operator"
        await self.say("hotline/connecting_operator")
        for name, value in ((VAR_STARTED, self.record.started_at.isoformat()),
                            (VAR_PATH, ",".join(self.record.menu_path)),
                            (VAR_MENU_AT, self.record.menu_reached_at.isoformat()
                             if self.record.menu_reached_at else ""),
                            (VAR_ACCOUNT, self.record.account or ""), (VAR_QUEUED, "1")):
            await self.session.set_variable(name, value)
        await self.session.set_variable("AUTOINFORM_NEXT", "operator")  # the dialplan's contract
        logger.info("hotline: to the operators' queue", extra=self.extra)

    async def restore(self) -> bool:
        """The record as it was when the call went to the queue; False if this call never went."""
        get = self.session.get_variable
        if await get(VAR_QUEUED) != "1":
            return False
        started = await get(VAR_STARTED)
        menu_at = await get(VAR_MENU_AT)
        path = await get(VAR_PATH)
        if started:
            self.record.started_at = datetime.fromisoformat(started)
        self.record.menu_reached_at = datetime.fromisoformat(menu_at) if menu_at else None
        self.record.menu_path = path.split(",") if path else []
        self.record.account = await get(VAR_ACCOUNT) or None
        self.record.outcome = "operator"
        await self.session.set_variable("AUTOINFORM_NEXT", "")  # one hand-over per request
        return True

    # --- messages that become tasks ------------------------------------------------------------------

    async def message(self, kind: TaskKind, intro: str, note: str) -> bool:
        """Record a voice message (beep, # or silence ends it) and register the task; True if
        anything was recorded. A hang-up during the message keeps what was said."""
        path = self.backend.recording_path(self.record.call_id, kind)
        fmt = path.suffix.lstrip(".") or "wav"
        await self.say(intro)
        recorded = await self.session.record_file(
            str(path.with_suffix("")), fmt, "#", self.timing.record_max_s * 1000, beep=True,
            silence_s=self.timing.record_silence_s)
        if recorded.endpos <= 0:
            logger.info("hotline: %s message empty (%s)", kind, recorded.ended_by, extra=self.extra)
            if recorded.ended_by != "hangup":
                await self.say("hotline/nothing_recorded")
            return False
        task_id = await self.backend.create_task(NewTask(
            kind=kind, caller=self.caller, call_id=self.record.call_id, account=self.record.account,
            recording=path if path.suffix else path.with_suffix("." + fmt), note=note))
        logger.info("hotline: %s task %d (%d samples, ended by %s)", kind, task_id, recorded.endpos,
                    recorded.ended_by, extra=self.extra)
        if recorded.ended_by != "hangup":
            await self.say("hotline/message_saved")
        return True

    # --- account and readings by keypad ----------------------------------------------------------------

    async def account(self) -> AccountInfo | None:
        """The caller's account, checked against the customer base; None after `tries` failures."""
        for _ in range(self.timing.tries):
            digits = await self.keypad("hotline/enter_account", self.timing.account_max_digits)
            if not digits:
                await self.say("hotline/no_input")
                continue
            found = await self.backend.find_account(digits) if digits.isdigit() else None
            if found is not None:
                self.record.account = found.account
                return found
            await self.say(_phrases("hotline/account_not_found", "hotline/retry"))
        return None

    async def reading_value(self, prompt_id: str) -> int | None:
        digits = await self.keypad(prompt_id, self.timing.reading_max_digits)
        if digits.isdigit():
            return int(digits)
        await self.say("hotline/no_input" if not digits else "hotline/invalid_input")
        return None


def _values_speech(values: dict[Register, int]) -> say.Speech:
    if Register.SINGLE in values:
        return say.kwh(values[Register.SINGLE])
    parts = []
    for reg, zone in ((Register.DAY, "hotline/day_zone"), (Register.NIGHT, "hotline/night_zone")):
        if reg in values:
            parts += [say.phrase(zone), say.kwh(values[reg])]
    return say.Speech.join(parts)


class HotlineFlow:
    """The /hotline flow bound to the engine's backend, the menu and the information base."""

    def __init__(self, backend: HotlineBackend, menu: HotlineMenu, info: InfoBase,
                 settings: HotlineSettings | None = None, *, queue: str = "operators") -> None:
        self.backend = backend
        self.queue = queue  # IvrSettings.operator_queue: the queue the dialplan sends callers to
        self.menu = menu
        self.info = info
        self.settings = settings or HotlineSettings()

    async def __call__(self, session: AgiSession) -> None:
        call = _Call(self, session)
        hang_up = True
        try:
            if session.query.get("after") == "operator":
                hang_up = await self._after_operator(call, session.query.get("queue", "").upper())
            else:
                hang_up = await self._inbound(call)
        except CallerHangup:
            call.record.outcome = call.record.outcome or "hung_up"
            hang_up = False
        except BaseException:
            call.record.outcome = "error"
            raise
        finally:
            if call.start_written is not None:
                await call.start_written  # first the write without an end, then the complete one
            call.record.ended_at = self.backend.now()
            await self.backend.record_call(call.record)
            logger.info("hotline: call from %s ended: %s, path %s", mask_phone(call.caller) or "unknown",
                        call.record.outcome, "/".join(call.record.menu_path) or "-", extra=call.extra)
        if hang_up and not session.hung_up:
            with contextlib.suppress(CallerHangup):
                await session.hangup()

    # --- the two entries -------------------------------------------------------------------------------

    def _started(self, call: _Call) -> None:
        """The call written as it enters the menu, without an end, so the hotline page shows it in
        the IVR (issue 12); the write at its end completes the same record. Written beside the
        greeting rather than before it (the caller never waits on storage for it), and a storage
        hiccup here costs the page one row, never the caller their call."""
        record = replace(call.record, menu_path=list(call.record.menu_path))

        async def write() -> None:
            try:
                await self.backend.record_call(record)
            except Exception as exc:
                logger.warning("hotline: the call's start was not recorded: %s", exc, extra=call.extra)
        call.start_written = asyncio.create_task(write(), name=f"hotline-start-{call.session.call_id}")

    async def _inbound(self, call: _Call) -> bool:
        await call.session.answer()
        self._started(call)
        await call.say(_phrases("hotline/welcome", "hotline/recording_notice"))  # HL-3
        reception = self.backend.reception(self.backend.now())
        if not reception.open:
            await self._after_hours(call, reception)
            return True
        return await self._menu(call)

    async def _after_hours(self, call: _Call, reception: Reception) -> None:
        call.record.after_hours = True
        call.record.outcome = "after_hours"
        speech = say.phrase("hotline/after_hours")
        if reception.opens_at is not None:
            at = reception.opens_at
            speech += (say.phrase("hotline/next_open") + say.date(at.date(), year=False)
                       + say.phrase("hotline/at") + say.time_of_day(at.time(), zero_minutes=False))
        await call.say(speech)
        if await call.message(TaskKind.CALLBACK, "hotline/record_after_beep", "after hours"):
            await call.say("hotline/callback_promise")
        await call.say("hotline/goodbye")

    async def _after_operator(self, call: _Call, status: str) -> bool:
        """Back from the queue: not answered in time (a message for a callback instead of waiting
        on: the dialplan does not queue the caller again), or after the operator hung up (the
        survey). Returns whether to hang up."""
        queued = await call.restore()  # False: a notification call's transfer (AI-8) comes back here too
        call.record.outcome = "operator"
        if status in NOT_CONNECTED:
            call.visit("operator_timeout")
            call.record.outcome = "operator_timeout"
            await self.backend.queue_event(QueueEvent(call.record.call_id, self.queue, "timeout",
                                                      self.backend.now()))
            for _ in range(call.timing.tries):
                key = await call.choose(["hotline/offer_callback"], operator=False)
                if key == "1":
                    if await call.message(TaskKind.CALLBACK, "hotline/record_after_beep",
                                          f"queue {status.lower()}"):
                        await call.say("hotline/callback_promise")
                    break
                await call.say("hotline/no_input" if key is None else "hotline/invalid_input")
            await call.say("hotline/goodbye")
            return True
        if queued and self.settings.survey:
            await self._survey(call)
        await call.say("hotline/goodbye")
        return True

    async def _survey(self, call: _Call) -> None:
        """HL-11: one key, 1 to 5, asked once; silence is no answer."""
        key = await call.choose(["hotline/survey_question"], operator=False)
        if key is not None and key in "12345":
            call.record.survey = int(key)
            await call.say("hotline/survey_thanks")

    # --- the menu --------------------------------------------------------------------------------------

    async def _menu(self, call: _Call) -> bool:
        spec = self.menu.spec
        stack = [spec.start]
        failures = 0
        pending: str | None = None
        call.record.menu_reached_at = self.backend.now()
        while True:
            menu = spec.menus[stack[-1]]
            try:
                key = pending if pending is not None else await call.choose(menu.prompts)
                pending = None
                if key is None or (key not in menu.items and key not in (menu.repeat_key, menu.back_key)):
                    failures += 1
                    if failures >= call.timing.tries:
                        call.record.outcome = call.record.outcome or "no_input"
                        await call.say(_phrases("hotline/no_input" if key is None else "hotline/invalid_input",
                                                "hotline/goodbye"))
                        return True
                    await call.say("hotline/no_input" if key is None else "hotline/invalid_input")
                    continue
                failures = 0
                if key == menu.repeat_key:
                    continue
                if key == menu.back_key:
                    if len(stack) > 1:
                        stack.pop()
                    continue
                item = menu.items[key]
                call.visit(item.id)
                if item.menu is not None:
                    stack.append(item.menu)
                    continue
                nxt, pending = await self._item(call, item)
            except _Operator:
                nxt = Next.OPERATOR
            if nxt is Next.OPERATOR:
                await call.to_operator()
                return False

    async def _item(self, call: _Call, item: Item) -> tuple[Next, str | None]:
        """Run an item; the key that interrupted what it said, if any, is the menu's next choice."""
        if item.info is not None:
            call.record.outcome = "info"
            speech = self.info.speech(item.info, self.backend.now().date())
            key = await call.say(speech if speech is not None else say.phrase("hotline/info_missing"), ALL_KEYS)
            if key == call.operator_key:
                raise _Operator
            return Next.MENU, key
        match item.action:
            case Action.BALANCE:
                return await self._balance(call), None
            case Action.READING:
                return await self._reading(call), None
            case Action.RECORD:
                assert item.task is not None
                if await call.message(item.task, "hotline/feedback_record", item.id):
                    call.record.outcome = "task"
                return Next.MENU, None
            case Action.VISIT:
                await self.backend.create_task(NewTask(TaskKind.VISIT, call.caller, call.record.call_id,
                                                       account=call.record.account, note="visit request"))
                call.record.outcome = "task"
                await call.say("hotline/visit_registered")
                return Next.MENU, None
            case Action.OPERATOR:
                return Next.OPERATOR, None
        raise AssertionError(f"unhandled item {item!r}")  # pragma: no cover: the model allows no other

    async def _balance(self, call: _Call) -> Next:
        account = await call.account()
        if account is None:
            return Next.OPERATOR  # three failed tries: a person helps
        balance = await self.backend.balance(account.account)
        call.record.outcome = "balance"
        if balance is None:
            await call.say("hotline/balance_unknown")
            return Next.MENU
        kopecks = int(balance.amount * 100)
        as_of = say.phrase("hotline/as_of") + say.date(balance.as_of)
        if kopecks > 0:
            speech = say.phrase("hotline/balance_debt") + say.money(kopecks) + as_of
        elif kopecks < 0:
            speech = say.phrase("hotline/balance_overpaid") + say.money(-kopecks) + as_of
        else:
            speech = say.phrase("hotline/balance_zero") + as_of
        await call.say(speech)
        return Next.MENU

    async def _reading(self, call: _Call) -> Next:
        account = await call.account()
        if account is None:
            return Next.OPERATOR
        for _ in range(call.timing.tries):
            values = await self._ask_values(call)
            if values is None:
                continue
            confirm = await call.choose([*(say.phrase("hotline/you_entered") + _values_speech(values)).prompts,
                                         "hotline/confirm"])
            if confirm != "1":
                continue
            result = await self.backend.submit_reading(ReadingSubmission(
                account.account, values, ReadingSource.PHONE, call.caller, call.record.call_id))
            call.record.outcome = "reading"
            if result.accepted:
                await call.say("hotline/reading_accepted")
                return Next.MENU
            logger.info("hotline: reading refused: %s", result.refusal, extra=call.extra)
            match result.refusal:
                case ReadingRefusal.BELOW_PREVIOUS:
                    await call.say(_phrases("hotline/reading_too_low") + say.phrase("hotline/previous_reading")
                                   + _values_speech(result.previous))
                case ReadingRefusal.IMPLAUSIBLE:
                    await call.say("hotline/reading_too_high")
                case ReadingRefusal.WRONG_REGISTERS:
                    await call.say("hotline/reading_wrong_registers")
                case ReadingRefusal.DUPLICATE:
                    await call.say("hotline/reading_duplicate")
                    return Next.MENU
                case _:
                    await call.say("hotline/account_not_found")
                    return Next.MENU
        return Next.MENU

    async def _ask_values(self, call: _Call) -> dict[Register, int] | None:
        kind = await call.choose(["hotline/meter_type"])
        if kind == "1":
            single = await call.reading_value("hotline/enter_reading")
            return None if single is None else {Register.SINGLE: single}
        if kind == "2":
            day = await call.reading_value("hotline/enter_reading_day")
            night = await call.reading_value("hotline/enter_reading_night") if day is not None else None
            return None if day is None or night is None else {Register.DAY: day, Register.NIGHT: night}
        await call.say("hotline/no_input" if kind is None else "hotline/invalid_input")
        return None


def hotline_flow(backend: HotlineBackend, menu: HotlineMenu, info: InfoBase,
                 settings: HotlineSettings | None = None, *, queue: str = "operators") -> Flow:
    return HotlineFlow(backend, menu, info, settings, queue=queue)


def load_hotline_flow(backend: HotlineBackend, settings: HotlineSettings, audio_dir: Path, *,
                      queue: str = "operators") -> Flow:
    """The flow with the configured menu and information base, both checked against the prompt
    audio before the first call (a problem raises, naming file, line and field)."""
    from ivr.hotline.menu import load_checked

    menu, info = load_checked(settings.menu_file, settings.info_file, audio_dir)
    return HotlineFlow(backend, menu, info, settings, queue=queue)
