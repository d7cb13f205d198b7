"""The `/hotline` flow (ivr/hotline/flow.py, issue 11's other half) over the real DbHotlineBackend
on the transcript peer, on SQLite and PostgreSQL: a reading accepted and exported, one below the
previous refused, the balance spoken with kopecks from a billing import, an after-hours call that
becomes a callback due in the next reception hours, spoken in local time.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from autoinform.config import HotlineSettings, Settings
from autoinform.hotline.backend import DbHotlineBackend
from autoinform.hotline.billing import import_balances
from autoinform.hotline.readings import readings_since, write_export
from autoinform.models import HotlineCall, HotlineTask, MeterReading
from autoinform.runtime import Runtime
from ivr.hotline.flow import hotline_flow
from ivr.hotline.info import load_info
from ivr.hotline.menu import load_menu
from tests.conftest import ROOT
from tests.hotline.test_flow import CALLER, _callerid, played, presses
from tests.hotline_data.conftest import AddCustomer
from tests.ivr.conftest import ServerFactory, agi_server, settle
from tests.ivr.peer import AsteriskModel, Caller, call

__all__ = ["_callerid", "agi_server"]  # fixtures used by name

HOURS = {d: "08:00-20:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat")}


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, var_dir=tmp_path / "var", scenarios_dir=ROOT / "scenarios",
                    audio_dir=ROOT / "audio",
                    hotline=HotlineSettings(hours=HOURS, recordings_dir=tmp_path / "recordings"))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # Wednesday 12:00 in Astrakhan

    def __call__(self) -> datetime:
        return self.now


async def test_flow_over_the_database(agi_server: ServerFactory, rt: Runtime, add_customer: AddCustomer,
                                      tmp_path: Path) -> None:
    add_customer("555")
    saldo = tmp_path / "saldo.csv"
    saldo.write_text("Лицевой счёт;Сальдо;Дата\n555;1 234,05;30.11.2026\n", encoding="utf-8")
    import_balances(rt, saldo)
    clock = Clock()
    backend = DbHotlineBackend(rt, clock=clock)
    flow = hotline_flow(backend, load_menu(ROOT / "hotline" / "menu.yaml"), load_info(ROOT / "hotline" / "info.yaml"),
                        backend.settings)

    async def run(caller: Caller, uid: str) -> list[str]:
        async with agi_server({"hotline": flow}) as server:
            result = await call(server.port, AsteriskModel(caller), script="hotline", uniqueid=uid, timeout_s=20)
            await settle(server)
        return played(result)

    assert "hotline/reading_accepted" in await run(Caller(keys=presses("2", "555#", "1", "4567#", 6000, "1")), "1.1")
    clock.now += timedelta(days=1)
    assert "hotline/reading_too_low" in await run(Caller(keys=presses("2", "555#", "1", "3999#", "1", 8000)), "1.2")
    ids = await run(Caller(keys=presses("3", "555#")), "1.3")
    start = ids.index("hotline/balance_debt")
    assert ids[start:start + 9] == ["hotline/balance_debt", "num/1f", "num/thousand_1", "num/200", "num/30", "num/4",
                                    "unit/ruble_2", "num/5", "unit/kopeck_5"]
    clock.now = datetime(2026, 12, 2, 16, 1, tzinfo=UTC)  # Wednesday 20:01 local: closed
    ids = await run(Caller(keys=[(4000, "1")], hangup_at_ms=12000), "1.4")
    opens = ids.index("hotline/next_open")
    assert ids[opens + 1:opens + 6] == ["ord/3n", "month/12gen", "hotline/at", "num/8", "unit/hour_5"]

    with rt.sessions() as s:
        readings = s.scalars(select(MeterReading)).all()
        task = s.scalars(select(HotlineTask)).one()
        outcomes = {c.call_id: c.outcome for c in s.scalars(select(HotlineCall))}
        out = io.StringIO()
        write_export(out, readings_since(s, datetime(2026, 12, 1, tzinfo=UTC)), rt.settings.tz)
    assert [(r.value, r.source, r.call_id, r.caller) for r in readings] == [(4567, "phone", "1.1", CALLER)]
    assert out.getvalue().splitlines()[1] == "555;однотарифный;4567;02.12.2026 12:00:00;phone"
    # 8 reception hours from Thursday 08:00 local
    assert task.kind == "callback" and task.deadline == datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert task.caller == CALLER and task.recording_path and "-callback-1_4.wav" in task.recording_path
    assert outcomes == {"1.1": "reading", "1.2": "reading", "1.3": "balance", "1.4": "after_hours"}
