"""The /hotline flow on the transcript peer with the memory backend: every branch (issue 11;
HL-2 … HL-11). The peer's clock is virtual: each prompt lasts 1 s, keys come at set moments."""

from __future__ import annotations

import random
from datetime import date, datetime
from pathlib import Path

import pytest

from ivr.hotline.backend import ReadingSource, Register, TaskKind
from ivr.hotline.flow import VAR_ACCOUNT, VAR_MENU_AT, VAR_PATH, VAR_QUEUED, VAR_STARTED, hotline_flow
from ivr.hotline.info import load_info
from ivr.hotline.menu import load_menu
from tests.hotline.memory_backend import AST, MemoryBackend
from tests.ivr.conftest import ServerFactory, settle
from tests.ivr.peer import AsteriskModel, Caller, PeerResult, call

ROOT = Path(__file__).resolve().parents[2]
MENU = load_menu(ROOT / "hotline" / "menu.yaml")
INFO = load_info(ROOT / "hotline" / "info.yaml")
AFTER_GREETING_MS = 2000  # welcome + recording notice, 1 s each on the peer
CALLER = "+79001234567"


def presses(*groups: str | int, start_ms: int = AFTER_GREETING_MS + 300, gap_ms: int = 150,
            ) -> list[tuple[int, str]]:
    """Keys one after another, `gap_ms` apart; a number is a pause (ms) while the caller listens to
    something keys cannot interrupt (keys then would be lost, as on a real line)."""
    keys: list[tuple[int, str]] = []
    at = start_ms
    for group in groups:
        if isinstance(group, int):
            at += group
            continue
        for k in group:
            keys.append((at, k))
            at += gap_ms
    return keys


async def run(agi_server: ServerFactory, backend: MemoryBackend, caller: Caller, *,
              script: str = "hotline", variables: dict[str, str] | None = None) -> PeerResult:
    model = AsteriskModel(caller)
    model.variables.update(variables or {})
    async with agi_server({"hotline": hotline_flow(backend, MENU, INFO, backend.settings)}) as server:
        result = await call(server.port, model, script=script, uniqueid="1795788722.7", timeout_s=20)
        await settle(server)
    return result


def played(result: PeerResult) -> list[str]:
    """Prompt ids streamed, in order (STREAM FILE and GET DATA prompts)."""
    ids = []
    for c in result.commands:
        for head in ("STREAM FILE ", "GET DATA "):
            if c.startswith(head):
                ids.append(c.removeprefix(head).split(" ")[0].strip('"').removeprefix("autoinform/"))
    return ids


def variable_sets(result: PeerResult, name: str) -> list[str]:
    return [c.split(" ", 3)[3].strip('"') for c in result.commands if c.startswith(f"SET VARIABLE {name} ")]


@pytest.fixture(autouse=True)
def _callerid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The peer's environment says `unknown`; a hotline caller has a number."""
    import tests.ivr.peer as peer

    original = peer.environment

    def environment(script: str = "selftest", **kw: object) -> bytes:
        return original(script, **{**kw, "callerid": CALLER})  # type: ignore[arg-type]

    monkeypatch.setattr(peer, "environment", environment)


async def test_greeting_and_notice_first_then_menu(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    """HL-3: the recording notice before anything else; silence three times ends politely."""
    result = await run(agi_server, backend, Caller())
    ids = played(result)
    assert ids[:3] == ["hotline/welcome", "hotline/recording_notice", "hotline/menu_info"]
    assert ids.count("hotline/menu_info") == 3 and ids[-1] == "hotline/goodbye"
    assert result.commands[-1] == "HANGUP"
    record = backend.calls["1795788722.7"]
    assert record.outcome == "no_input" and record.caller == CALLER and record.menu_reached_at == backend.clock


async def test_balance_with_kopecks(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    """HL-8: the account by keypad, the debt in roubles and kopecks with its date."""
    backend.add("123456789012", debt="1234.56", as_of=date(2026, 11, 30))
    result = await run(agi_server, backend, Caller(keys=presses("3", "123456789012#")))
    ids = played(result)
    start = ids.index("hotline/balance_debt")
    assert ids[start:start + 13] == [
        "hotline/balance_debt", "num/1f", "num/thousand_1", "num/200", "num/30", "num/4", "unit/ruble_2",
        "num/50", "num/6", "unit/kopeck_5", "hotline/as_of", "ord/30n", "month/11gen"]
    record = backend.calls["1795788722.7"]
    assert record.menu_path == ["balance"] and record.account == "123456789012" and record.outcome == "balance"


async def test_overpayment_and_zero(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    backend.add("1001", debt="-0.05")
    ids = played(await run(agi_server, backend, Caller(keys=presses("3", "1001#"))))
    start = ids.index("hotline/balance_overpaid")
    assert ids[start + 1:start + 3] == ["num/5", "unit/kopeck_5"]
    backend.add("1002", debt="0")
    assert "hotline/balance_zero" in played(await run(agi_server, backend, Caller(keys=presses("3", "1002#"))))


async def test_unknown_account_three_times_then_operator(agi_server: ServerFactory,
                                                        backend: MemoryBackend) -> None:
    """Three wrong accounts: the caller goes to a person (AUTOINFORM_NEXT=operator), the state saved."""
    result = await run(agi_server, backend, Caller(keys=presses("3", "111#", 2500, "222#", 2500, "333#")))
    ids = played(result)
    assert ids.count("hotline/account_not_found") == 3
    assert variable_sets(result, "AUTOINFORM_NEXT") == ["operator"]
    assert variable_sets(result, VAR_PATH) == ["balance,operator"]
    assert "HANGUP" not in result.commands  # the dialplan takes the call on
    assert backend.calls["1795788722.7"].outcome == "operator"


async def test_reading_accepted(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    """HL-7: account, one reading, read back, confirmed with 1, stored with source phone."""
    backend.add("555", previous={Register.SINGLE: 4000})
    result = await run(agi_server, backend, Caller(keys=presses("2", "555#", "1", "4567#", 6000, "1")))
    ids = played(result)
    assert "hotline/reading_accepted" in ids
    readback = ids.index("hotline/you_entered")
    assert ids[readback + 1:readback + 6] == ["num/4", "num/thousand_2", "num/500", "num/60", "num/7"]
    ((_, reading),) = backend.readings
    assert reading.values == {Register.SINGLE: 4567} and reading.source is ReadingSource.PHONE
    assert reading.caller == CALLER and reading.call_id == "1795788722.7"
    assert backend.calls["1795788722.7"].outcome == "reading"


async def test_reading_below_previous_refused_then_corrected(agi_server: ServerFactory,
                                                            backend: MemoryBackend) -> None:
    backend.add("555", previous={Register.SINGLE: 4000})
    result = await run(agi_server, backend, Caller(keys=presses("2", "555#", "1", "3999#", "1", 8000,
                                                                "1", "4001#", "1")))
    ids = played(result)
    refused = ids.index("hotline/reading_too_low")
    assert ids[refused + 1:refused + 4] == ["hotline/previous_reading", "num/4", "num/thousand_2"]
    assert [r.values for _, r in backend.readings] == [{Register.SINGLE: 4001}]


async def test_day_night_reading_reentered_after_2(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    """Key 2 at the read-back enters again; a day/night meter takes two values."""
    backend.add("777", two_rate=True, previous={Register.DAY: 100, Register.NIGHT: 50})
    await run(agi_server, backend, Caller(keys=presses("2", "777#", "2", "150#", "60#", "2",
                                                       "2", "151#", "61#", "1")))
    assert [r.values for _, r in backend.readings] == [{Register.DAY: 151, Register.NIGHT: 61}]


async def test_implausible_and_wrong_registers(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    backend.add("555", previous={Register.SINGLE: 10})
    ids = played(await run(agi_server, backend, Caller(keys=presses("2", "555#", "1", "999999#", "1", 2000,
                                                                    "2", "11#", "12#", "1"))))
    assert "hotline/reading_too_high" in ids and "hotline/reading_wrong_registers" in ids
    assert backend.readings == []


async def test_information_in_force_today(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    """HL-6: the info menu, tariffs spoken from the entry in force (money with kopecks), then back."""
    result = await run(agi_server, backend, Caller(keys=presses("1", "1")))
    ids = played(result)
    tariffs = ids.index("info/tariff_single")
    assert ids[tariffs + 1:tariffs + 5] == ["num/6", "unit/ruble_5", "num/12", "unit/kopeck_5"]
    assert backend.calls["1795788722.7"].menu_path == ["info", "info_tariffs"]
    backend.clock = datetime(2026, 6, 30, 12, 0, tzinfo=AST)  # before the only tariff entry
    assert "hotline/info_missing" in played(await run(agi_server, backend, Caller(keys=presses("1", "1"))))


async def test_back_repeat_and_operator_in_a_submenu(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    """`*` back to the main menu, `9` repeats the submenu, `0` in a submenu: the operator."""
    result = await run(agi_server, backend, Caller(keys=presses("1", "9", "*", "1", "0")))
    ids = played(result)
    assert ids.count("hotline/info_tariffs") == 3 and ids.count("hotline/menu_info") == 2
    assert variable_sets(result, "AUTOINFORM_NEXT") == ["operator"]
    assert backend.calls["1795788722.7"].menu_path == ["info", "info", "operator"]


async def test_twenty_wrong_keys_end_politely(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    """Wrong keys (no item, no control): three tries, then goodbye and hang-up, no error."""
    rng = random.Random(11)
    result = await run(agi_server, backend, Caller(keys=presses("".join(rng.choice("6789#") for _ in range(20)))))
    ids = played(result)
    assert ids.count("hotline/invalid_input") == 3 and ids[-1] == "hotline/goodbye"
    assert result.commands[-1] == "HANGUP"
    assert backend.calls["1795788722.7"].outcome == "no_input"


async def test_complaint_and_visit_become_tasks(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    """HL-9: a complaint by voice (# ends it) is a task with its recording; HL-10: a visit request."""
    result = await run(agi_server, backend, Caller(keys=[*presses("4", "1"), (9000, "#"), (10500, "*"), (11000, "5")]))
    record_cmd = next(c for c in result.commands if c.startswith("RECORD FILE"))
    assert str(backend.recordings) in record_cmd and "BEEP" in record_cmd and "s=5" in record_cmd
    complaint, visit = backend.tasks
    assert complaint.kind is TaskKind.COMPLAINT and complaint.recording is not None
    assert complaint.recording.parent == backend.recordings and complaint.caller == CALLER
    assert visit.kind is TaskKind.VISIT and visit.recording is None
    assert "hotline/message_saved" in played(result) and "hotline/visit_registered" in played(result)


@pytest.mark.parametrize(("clock", "branch"), [
    (datetime(2026, 12, 2, 19, 59, tzinfo=AST), "menu"),
    (datetime(2026, 12, 2, 20, 1, tzinfo=AST), "after_hours"),
    (datetime(2026, 12, 6, 12, 0, tzinfo=AST), "after_hours"),  # a Sunday
    (datetime(2026, 11, 4, 12, 0, tzinfo=AST), "after_hours"),  # Unity Day
])
async def test_reception_hours_choose_the_branch(agi_server: ServerFactory, backend: MemoryBackend,
                                                 clock: datetime, branch: str) -> None:
    backend.clock = clock
    result = await run(agi_server, backend, Caller(keys=[(6000, "#")]))
    ids = played(result)
    if branch == "menu":
        assert "hotline/menu_info" in ids and "hotline/after_hours" not in ids
        return
    assert "hotline/menu_info" not in ids and ids[2:4] == ["hotline/after_hours", "hotline/next_open"]
    (task,) = backend.tasks
    assert task.kind is TaskKind.CALLBACK and task.note == "after hours" and task.recording is not None
    record = backend.calls["1795788722.7"]
    assert record.after_hours and record.outcome == "after_hours"
    assert "hotline/callback_promise" in ids


async def test_after_hours_speaks_when_reception_reopens(agi_server: ServerFactory,
                                                         backend: MemoryBackend) -> None:
    backend.clock = datetime(2026, 12, 2, 20, 1, tzinfo=AST)  # reopens Thursday 3 December, 8:00
    ids = played(await run(agi_server, backend, Caller(keys=[(9000, "#")])))
    at = ids.index("hotline/next_open")
    assert ids[at + 1:at + 6] == ["ord/3n", "month/12gen", "hotline/at", "num/8", "unit/hour_5"]


async def test_hang_up_during_the_message_still_a_task(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    """HL-2: the caller says something and hangs up: the recording becomes a callback task."""
    backend.clock = datetime(2026, 12, 6, 12, 0, tzinfo=AST)
    result = await run(agi_server, backend, Caller(hangup_at_ms=12000))
    assert any(c.startswith("RECORD FILE") for c in result.commands)
    (task,) = backend.tasks
    assert task.kind is TaskKind.CALLBACK and task.recording is not None
    assert backend.calls["1795788722.7"].outcome == "after_hours"


async def test_hang_up_in_the_menu(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    await run(agi_server, backend, Caller(hangup_at_ms=3500))
    record = backend.calls["1795788722.7"]
    assert record.outcome == "hung_up" and record.ended_at is not None


QUEUED = {VAR_QUEUED: "1", VAR_STARTED: "2026-12-02T11:59:00+04:00", VAR_PATH: "balance,operator",
          VAR_MENU_AT: "2026-12-02T11:59:05+04:00", VAR_ACCOUNT: "555"}


async def test_queue_timeout_message_becomes_a_callback(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    """HL-4: nobody answered in the limit: offered a message instead of waiting; a callback task."""
    result = await run(agi_server, backend, Caller(keys=[(300, "1"), (5000, "#")]),
                       script="hotline?after=operator&queue=TIMEOUT", variables=QUEUED)
    (task,) = backend.tasks
    assert task.kind is TaskKind.CALLBACK and task.note == "queue timeout" and task.account == "555"
    (event,) = backend.queue_events
    assert (event.kind, event.queue, event.call_id) == ("timeout", "operators", "1795788722.7")
    record = backend.calls["1795788722.7"]
    assert record.menu_path == ["balance", "operator", "operator_timeout"]
    assert record.started_at == datetime(2026, 12, 2, 11, 59, tzinfo=AST)
    assert record.outcome == "operator_timeout"
    assert "ANSWER" not in result.commands  # answered already, before the queue


async def test_queue_timeout_without_a_key(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    result = await run(agi_server, backend, Caller(), script="hotline?after=operator&queue=TIMEOUT",
                       variables=QUEUED)
    assert played(result).count("hotline/offer_callback") == 3 and backend.tasks == []
    assert result.commands[-1] == "HANGUP" and backend.calls["1795788722.7"].outcome == "operator_timeout"


async def test_survey_after_the_operator(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    """HL-11: back from a connected queue call (the operator hung up): one key, stored."""
    result = await run(agi_server, backend, Caller(keys=[(300, "4")]),
                       script="hotline?after=operator&queue=CONTINUE", variables=QUEUED)  # Queue's `c`
    assert "hotline/survey_thanks" in played(result)
    record = backend.calls["1795788722.7"]
    assert record.survey == 4 and record.outcome == "operator" and record.menu_path == ["balance", "operator"]


async def test_no_survey_when_disabled_or_never_queued(agi_server: ServerFactory, backend: MemoryBackend) -> None:
    result = await run(agi_server, backend, Caller(keys=[(300, "4")]), script="hotline?after=operator&queue=")
    assert "hotline/survey_question" not in played(result)
    backend.settings = backend.settings.model_copy(update={"survey": False})
    result = await run(agi_server, backend, Caller(keys=[(300, "4")]),
                       script="hotline?after=operator&queue=", variables=QUEUED)
    assert "hotline/survey_question" not in played(result)
