"""The built-in /selftest route through the real server and the test peer (issue 4, AI-10)."""

from __future__ import annotations

import logging

import pytest

from ivr import say
from ivr.flows import default_router
from tests.ivr.conftest import ServerFactory, settle
from tests.ivr.peer import AsteriskModel, Caller, call


def _plays(ids: tuple[str, ...]) -> list[str]:
    return [f'STREAM FILE autoinform/{p} ""' for p in ids]


async def test_selftest_reads_back_the_key_and_a_russian_amount(
        agi_server: ServerFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ivr")
    async with agi_server(default_router()) as server:
        caller = Caller(keys=[(1500, "7")])  # pressed while "press a key" plays
        result = await call(server.port, AsteriskModel(caller), script="selftest", uniqueid="st.1")
        await settle(server)
    amount = say.phrase("selftest/sample_amount") + say.money(123456)
    assert amount.text == "Пример суммы: одна тысяча двести тридцать четыре рубля пятьдесят шесть копеек"
    assert result.commands == [
        "ANSWER",
        *_plays(("selftest/hello",)),
        "GET DATA autoinform/selftest/press_key 5000 1",
        *_plays(("selftest/you_pressed", "num/7")),
        *_plays(amount.prompts),
        *_plays(("selftest/goodbye",)),
        "HANGUP",
    ]
    assert server.stats.by_reason == {"completed": 1}
    steps = [r.getMessage() for r in caplog.records if r.name == "ivr.flows.selftest"]
    assert len(steps) == 6 and all(
        getattr(r, "call_id", None) == "st.1" for r in caplog.records if r.name == "ivr.flows.selftest")


async def test_selftest_without_a_key_says_so(agi_server: ServerFactory) -> None:
    async with agi_server(default_router()) as server:
        result = await call(server.port, AsteriskModel(), script="selftest")
        await settle(server)
    assert _plays(("selftest/no_key",))[0] in result.commands
    assert result.commands[-1] == "HANGUP"


async def test_selftest_caller_hanging_up_midway(agi_server: ServerFactory) -> None:
    async with agi_server(default_router()) as server:
        result = await call(server.port, AsteriskModel(Caller(hangup_at_command=4)), script="selftest")
        await settle(server)
    assert len(result.commands) == 5 + 1  # the fifth is cut off, then CHANNEL STATUS confirms
    assert result.commands[-1] == "CHANNEL STATUS"
    assert server.stats.by_reason == {"caller_hangup": 1}
