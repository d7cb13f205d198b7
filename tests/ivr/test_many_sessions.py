"""10,000 calls whose caller hangs up at a random command (issue 4): no leaked task or socket,
no server error, every call's end recorded, every flow's `finally` run."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections import Counter

import pytest

from ivr.session import AgiSession
from tests.ivr.conftest import ServerFactory, settle
from tests.ivr.peer import AsteriskModel, Caller, PeerResult, call

SESSIONS = 10_000
CONCURRENCY = 250
COMMANDS = 10


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.slow
async def test_ten_thousand_calls_hanging_up_anywhere(agi_server: ServerFactory,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    finally_ran = Counter[str]()

    async def flow(session: AgiSession) -> None:
        try:
            await session.answer()
            await session.stream_file("hotline/welcome", "1")
            await session.get_data("beep", 500, 2)
            await session.set_variable("STEP", "menu")
            await session.play_sequence(["hotline/menu_info", "hotline/menu_readings"], "12")
            await session.wait_for_digit(300)
            await session.get_variable("STEP")
            await session.say_digits("123")
            await session.hangup()
        finally:
            finally_ran[session.call_id] += 1

    rng = random.Random(20261127)
    caplog.set_level(logging.WARNING)
    async with agi_server({"load": flow}, backlog=1024) as server:
        fds_before = _open_fds()
        tasks_before = len(asyncio.all_tasks())
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> PeerResult:
            caller = Caller(hangup_at_command=rng.randrange(COMMANDS + 2),  # beyond 9: no hang-up
                            keys=[(rng.randrange(3000), rng.choice("12#"))], default_prompt_ms=300)
            model = AsteriskModel(caller, exit_on_hangup=rng.random() < 0.2,
                                  hangup_delay_s=rng.choice((0.0, 0.001, 0.004)))
            async with gate:
                return await call(server.port, model, script="load", uniqueid=f"load.{i}",
                                  env_pieces=rng.randrange(1, 5))

        results = await asyncio.gather(*(one(i) for i in range(SESSIONS)))
        await settle(server, timeout_s=30)

        assert server.stats.started == server.stats.ended == SESSIONS
        assert sum(server.stats.by_reason.values()) == SESSIONS
        assert set(server.stats.by_reason) <= {"completed", "caller_hangup"}, server.stats.by_reason
        assert server.stats.by_reason["caller_hangup"] > SESSIONS // 2
        assert len(finally_ran) == SESSIONS and set(finally_ran.values()) == {1}
        assert all(r.closed_by_server for r in results)
        assert not server.tasks and not server.connections
        assert len(asyncio.all_tasks()) == tasks_before
        await asyncio.sleep(0)  # let the last transports finish closing their sockets
        assert _open_fds() == fds_before
    assert not [r for r in caplog.records if r.name.startswith("ivr")], "server logged warnings"
