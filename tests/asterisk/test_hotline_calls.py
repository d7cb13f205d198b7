"""The /hotline flow end to end on the real Asterisk 22 (issue 11; HL-2 … HL-11).

Each call is originated as Local/s@test-hl-<who> into the production [autoinform-hotline] context
(docs/asterisk/extensions.conf): MixMonitor, AGI to a FastAGI server serving the real flow with
the project's menu, information base and prompt audio (cut to 0.3 s by the fixture), the memory
backend behind it. The other side of the Local channel is the caller of
tests/asterisk/extensions-test.conf's hotline block, pressing keys with SendDTMF at set moments
and speaking (2 s of audio frames) into the messages. Operators are queue members: Local channels
that answer after a second or two, or never. QueueWatch reports the queue's AMI events.
"""

from __future__ import annotations

import asyncio
import uuid
import wave
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pytest

from autoinform.config import HotlineSettings, IvrSettings
from ivr.ami import AmiClient
from ivr.hotline.backend import Register, TaskKind
from ivr.hotline.flow import HotlineFlow
from ivr.hotline.info import load_info
from ivr.hotline.menu import HotlineMenu, load_menu
from ivr.hotline.queue_watch import QueueWatch
from ivr.router import Router
from ivr.server import FastAgiServer
from ivr.session import AgiSession
from tests.asterisk.prebuilt import AsteriskInstance
from tests.hotline.memory_backend import AST, MemoryBackend

ROOT = Path(__file__).resolve().parents[2]
TEST_HOURS = {d: "08:00-20:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
OPEN = datetime(2026, 12, 2, 12, 0, tzinfo=AST)  # a Wednesday
CALLER = "89001234567"
# Queues this module adds to the session's Asterisk: a member who never answers, one who answers
# after 1 s and hangs up 2 s later (extensions-test.conf's hotline block).
EXTRA_QUEUES = """
[hotline-nobody]
strategy = ringall
timeout = 60
retry = 1
joinempty = yes
leavewhenempty = no
member => Local/s@test-hl-nobody/n

[hotline-short]
strategy = ringall
timeout = 15
retry = 1
joinempty = yes
leavewhenempty = no
member => Local/s@test-hl-operator-short/n
"""


def short_menu(menu: HotlineMenu) -> HotlineMenu:
    """The production menu with shorter waits: every second of a test call is a real one."""
    timing = menu.timing.model_copy(update={"key_timeout_ms": 3000, "digit_timeout_ms": 3000, "record_max_s": 20})
    return HotlineMenu(menu.spec.model_copy(update={"timing": timing}), menu.file, menu.lines)


@dataclass
class Line:
    """The engine side for one test: AGI server, AMI client, backend, and what each call played."""

    asterisk: AsteriskInstance
    ami: AmiClient
    agi: FastAgiServer
    backend: MemoryBackend
    watch: QueueWatch
    recordings: Path
    played: dict[str, list[str]] = field(default_factory=dict)

    async def call(self, who: str, *, context: str = "autoinform-hotline", queue: str = "operators",
                   clock: datetime = OPEN, timeout_s: float = 30, variables: dict[str, str] | None = None) -> str:
        """One whole call; returns its uniqueid once Asterisk hung it up and the flow ended."""
        self.backend.clock = clock
        cid = f"hl-{uuid.uuid4().hex[:10]}"
        gone = self.ami.expect("Hangup", {"Uniqueid": cid})
        placed = await self.ami.originate(
            f"Local/s@{who}", context=context, exten="s", timeout_ms=10000, channel_id=cid,
            caller_id=f'"Caller" <{CALLER}>',
            variables={**(variables or {}), "AUTOINFORM_AGI": f"agi://127.0.0.1:{self.agi.port}",
                       "AUTOINFORM_OPERATORS": queue,
                       "AUTOINFORM_RECORDINGS": str(self.recordings / "mixmonitor")})
        assert (await placed.result(timeout_s=15)).answered
        await asyncio.wait_for(gone, timeout_s)
        async with asyncio.timeout(10):
            while self.agi.stats.active or self.agi.tasks:
                await asyncio.sleep(0.05)
        return cid


@pytest.fixture
async def line(asterisk: AsteriskInstance, tmp_path: Path) -> AsyncIterator[Line]:
    etc = asterisk.runtime / "etc" / "queues.conf"
    if "[hotline-nobody]" not in etc.read_text():
        etc.write_text(etc.read_text() + EXTRA_QUEUES)
        asterisk.cli("module reload app_queue.so")
    _install_beep(asterisk)
    backend = MemoryBackend(tmp_path / "recordings", HotlineSettings(hours=TEST_HOURS))
    backend.reception(OPEN)  # the Russian calendar loads once (a second): not inside a test call
    menu = short_menu(load_menu(ROOT / "hotline" / "menu.yaml"))
    flow = HotlineFlow(backend, menu, load_info(ROOT / "hotline" / "info.yaml"), backend.settings)
    played: dict[str, list[str]] = {}

    async def spied(session: AgiSession) -> None:
        """The real flow, with the prompt ids it plays noted per call."""
        ids = played.setdefault(session.call_id, [])
        play = session.play_sequence

        async def play_sequence(prompt_ids: Sequence[str] | tuple[str, ...], escape_digits: str = "") -> str | None:
            prompt_ids = list(prompt_ids)
            ids.extend(prompt_ids)
            return await play(prompt_ids, escape_digits)

        session.play_sequence = play_sequence  # type: ignore[method-assign]
        await flow(session)

    router = Router()
    router.add("hotline", spied)
    agi = FastAgiServer(IvrSettings(port=0, command_timeout_s=20, shutdown_grace_s=1), router)
    await agi.start()
    try:
        async with AmiClient(asterisk.ami_settings()) as ami:
            watch = QueueWatch(backend, backend.settings.operator_wait_limit_s)
            sub = watch.attach(ami)
            try:
                yield Line(asterisk, ami, agi, backend, watch, tmp_path, played)
            finally:
                sub.close()
    finally:
        await agi.shutdown()


def _install_beep(asterisk: AsteriskInstance) -> None:
    """RECORD FILE's BEEP plays `beep` from the core sounds, which the test sounds folder lacks."""
    sounds = Path(asterisk.env["AST_SOUNDS_DIR"]) / "ru"
    beep = sounds / "beep.wav"
    if beep.exists():
        return
    import math
    import struct

    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 1000 * i / 8000))) for i in range(1600))
    with wave.open(str(beep), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(frames)


def _after(ids: list[str], prompt: str, n: int) -> list[str]:
    start = ids.index(prompt)
    return ids[start + 1:start + 1 + n]


async def test_balance_spoken_with_kopecks(line: Line) -> None:
    """HL-8: the account by keypad, checked; the debt in roubles and kopecks with its date."""
    line.backend.add("123456789012", debt="1234.56", as_of=date(2026, 11, 30))
    cid = await line.call("test-hl-balance")
    assert _after(line.played[cid], "hotline/balance_debt", 12) == [
        "num/1f", "num/thousand_1", "num/200", "num/30", "num/4", "unit/ruble_2",
        "num/50", "num/6", "unit/kopeck_5", "hotline/as_of", "ord/30n", "month/11gen"]
    record = line.backend.calls[cid]
    assert record.account == "123456789012" and record.outcome == "balance" and record.caller == CALLER
    assert line.played[cid][:2] == ["hotline/welcome", "hotline/recording_notice"]  # HL-3 first


async def test_reading_accepted(line: Line) -> None:
    """HL-7: account, one reading, read back, confirmed with 1: stored with source phone."""
    line.backend.add("555", previous={Register.SINGLE: 4000})
    cid = await line.call("test-hl-reading")
    ((_, reading),) = line.backend.readings
    assert reading.values == {Register.SINGLE: 4567} and reading.call_id == cid and reading.caller == CALLER
    assert "hotline/reading_accepted" in line.played[cid]
    assert line.backend.calls[cid].outcome == "reading"


async def test_reading_below_previous_refused(line: Line) -> None:
    line.backend.add("555", previous={Register.SINGLE: 4000})
    cid = await line.call("test-hl-reading-low")
    assert line.backend.readings == []
    assert _after(line.played[cid], "hotline/reading_too_low", 3) == ["hotline/previous_reading", "num/4",
                                                                       "num/thousand_2"]


async def test_unknown_account_three_times_then_the_operator(line: Line) -> None:
    """Three unknown accounts: the operators' queue, an operator answers; AMI's queue events
    reach the backend by the call's uniqueid (HL-4, HL-5)."""
    cid = await line.call("test-hl-unknown-account")
    assert line.played[cid].count("hotline/account_not_found") == 3
    record = line.backend.calls[cid]
    assert record.outcome == "operator" and record.menu_path == ["balance", "operator"]
    kinds = [(e.kind, e.queue) for e in line.backend.queue_events if e.call_id == cid]
    assert kinds == [("join", "operators"), ("connect", "operators")]
    connect = next(e for e in line.backend.queue_events if e.kind == "connect")
    assert connect.hold_s is not None and connect.hold_s < 40 and line.watch.stats.breaches == 0


@pytest.mark.parametrize(("clock", "branch"), [
    (datetime(2026, 12, 2, 19, 59, tzinfo=AST), "menu"),
    (datetime(2026, 12, 2, 20, 1, tzinfo=AST), "after_hours"),
    (datetime(2026, 11, 4, 12, 0, tzinfo=AST), "after_hours"),  # Unity Day, a Wednesday
    (datetime(2026, 12, 6, 12, 0, tzinfo=AST), "after_hours"),  # a Sunday
])
async def test_reception_hours_choose_the_branch(line: Line, clock: datetime, branch: str) -> None:
    """HL-2: in hours the menu; after hours the caller hears when reception reopens and leaves a
    message, which becomes a callback task with the recording Asterisk wrote."""
    cid = await line.call("test-hl-message", clock=clock)
    ids = line.played[cid]
    record = line.backend.calls[cid]
    if branch == "menu":
        assert "hotline/menu_info" in ids and "hotline/after_hours" not in ids and not record.after_hours
        assert line.backend.tasks == []
        return
    assert "hotline/menu_info" not in ids and "hotline/next_open" in ids
    (task,) = line.backend.tasks
    assert task.kind is TaskKind.CALLBACK and task.caller == CALLER and task.call_id == cid
    assert task.recording is not None and task.recording.stat().st_size > 44  # more than a WAV header
    assert record.after_hours and record.outcome == "after_hours"
    assert "hotline/callback_promise" in ids


async def test_caller_hangs_up_during_the_message(line: Line) -> None:
    """HL-2: what was said before the hang-up is kept and still becomes a callback task."""
    cid = await line.call("test-hl-hangup-in-message", clock=datetime(2026, 12, 2, 21, 0, tzinfo=AST))
    (task,) = line.backend.tasks
    assert task.kind is TaskKind.CALLBACK and task.recording is not None and task.recording.stat().st_size > 44
    assert line.backend.calls[cid].outcome == "after_hours"
    assert "hotline/message_saved" not in line.played[cid]  # nobody left to hear it


async def test_queue_times_out_and_the_caller_leaves_a_message(line: Line) -> None:
    """HL-4: nobody answers within the wait (the production dialplan's AUTOINFORM_OPERATOR_WAIT, 40 s,
    cut to 6 s here: every second of a test call is a real one); back in the flow the caller leaves
    a message instead of waiting on, which becomes a callback task."""
    cid = await line.call("test-hl-queue-timeout", queue="hotline-nobody", timeout_s=40,
                          variables={"AUTOINFORM_OPERATOR_WAIT": "6"})
    (task,) = line.backend.tasks
    assert task.kind is TaskKind.CALLBACK and task.note == "queue timeout" and task.recording is not None
    assert task.recording.stat().st_size > 44
    record = line.backend.calls[cid]
    assert record.menu_path == ["operator", "operator_timeout"] and record.outcome == "operator_timeout"
    events = [e for e in line.backend.queue_events if e.call_id == cid]
    # Asterisk 22 sends QueueCallerAbandon when the queue's timeout ends the wait, too; the flow's
    # `timeout` that follows tells the two apart
    assert [e.kind for e in events] == ["join", "abandon", "timeout"]
    assert events[1].hold_s is not None and events[1].hold_s >= 5


async def test_survey_after_the_operator_hangs_up(line: Line) -> None:
    """HL-11: with Queue's `c` option the caller comes back when the operator hangs up first and
    answers the one-key survey; it lands in the same call record."""
    cid = await line.call("test-hl-survey", queue="hotline-short")
    record = line.backend.calls[cid]
    assert record.survey == 4 and record.menu_path == ["operator"] and record.outcome == "operator"
    assert "hotline/survey_thanks" in line.played[cid]
    assert [e.kind for e in line.backend.queue_events if e.call_id == cid] == ["join", "connect"]


async def test_twenty_wrong_keys_end_politely(line: Line) -> None:
    cid = await line.call("test-hl-wrong-keys")
    ids = line.played[cid]
    assert ids.count("hotline/invalid_input") == 3 and ids[-1] == "hotline/goodbye"
    assert line.backend.calls[cid].outcome == "no_input"
