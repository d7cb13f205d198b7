"""The /notify flow against the transcript peer (issue 10 part 3; AI-2, AI-8, AI-14): the steps
played, the keys, and the one result reported with its evidence."""

from __future__ import annotations

from autoinform.channels.base import ProviderStatus
from autoinform.content import PhoneContent, PhoneStep
from autoinform.models import Outcome
from ivr.flows.notify import notify_flow
from tests.ivr.conftest import ServerFactory, settle
from tests.ivr.peer import AsteriskModel, Caller, PeerResult, call

CONTENT = PhoneContent(
    steps=(PhoneStep("greeting", ("notify/hello",), "Здравствуйте."),
           PhoneStep("debt", ("notify/debt", "words/1000", "words/rub"), "Долг 1000 рублей.", required=True),
           PhoneStep("keys", ("notify/press",), "Нажмите 1, 0 или 9.")),
    confirm_key="1", operator_key="0", repeat_key="9")


class Source:
    def __init__(self) -> None:
        self.reports: list[ProviderStatus] = []

    def notice_for(self, attempt_id: int) -> PhoneContent | None:
        return CONTENT if attempt_id == 7 else None

    async def report(self, status: ProviderStatus) -> None:
        self.reports.append(status)


async def _call(agi_server: ServerFactory, caller: Caller, amd: str = "HUMAN",
                attempt: int = 7) -> tuple[Source, PeerResult]:
    source = Source()
    async with agi_server({"notify": notify_flow(source)}) as server:
        result = await call(server.port, AsteriskModel(caller), script=f"notify?delivery=3&attempt={attempt}&amd={amd}")
        await settle(server)
    return source, result


async def test_confirm_key(agi_server: ServerFactory) -> None:
    """Key 1 during the debt step: positive `confirmed`, the key and prompts in the evidence."""
    source, result = await _call(agi_server, Caller(keys=[(1500, "1")]))
    (status,) = source.reports
    assert (status.provider_id, status.outcome, status.reason) == ("call-7", Outcome.POSITIVE, "confirmed")
    assert [k["key"] for k in status.detail["keys"]] == ["1"]
    assert [p["step"] for p in status.detail["prompts"]] == ["greeting", "debt"]
    assert status.detail["amd"] == "HUMAN"
    assert any("notify/debt" in c for c in result.commands)


async def test_operator_key_sets_next(agi_server: ServerFactory) -> None:
    """Key 0 (AI-8): AUTOINFORM_NEXT=operator for the dialplan, result `transferred`."""
    source, result = await _call(agi_server, Caller(keys=[(500, "0")]))
    (status,) = source.reports
    assert (status.outcome, status.reason) == (Outcome.POSITIVE, "transferred")
    assert any(c.startswith("SET VARIABLE AUTOINFORM_NEXT") and "operator" in c for c in result.commands)


async def test_hung_up_during_required_step(agi_server: ServerFactory) -> None:
    """A hang-up during step 2 (required): negative `hung_up_early` with the step stored."""
    source, _ = await _call(agi_server, Caller(hangup_at_ms=1500))
    (status,) = source.reports
    assert (status.outcome, status.reason) == (Outcome.NEGATIVE, "hung_up_early")
    assert status.detail["hung_up_step"] == "debt"


async def test_required_heard_then_silence_is_heard(agi_server: ServerFactory) -> None:
    """Every required step played to its end and no key at all: positive `heard` (AI-14)."""
    source, result = await _call(agi_server, Caller())
    (status,) = source.reports
    assert (status.outcome, status.reason) == (Outcome.POSITIVE, "heard")
    assert sum("notify/debt" in c for c in result.commands) == 3  # played, then replayed twice


async def test_answering_machine(agi_server: ServerFactory) -> None:
    source, result = await _call(agi_server, Caller(), amd="MACHINE")
    (status,) = source.reports
    assert (status.outcome, status.reason) == (Outcome.NEGATIVE, "answering_machine")
    assert not any("STREAM FILE" in c for c in result.commands)


async def test_unknown_attempt_reports_nothing(agi_server: ServerFactory) -> None:
    source, _ = await _call(agi_server, Caller(), attempt=8)
    assert source.reports == []
