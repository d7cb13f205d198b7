"""The engine serves /hotline when it is given a backend (EngineOptions.hotline), with the menu
and information base checked before it takes any call (issue 11)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from autoinform.config import HotlineSettings, Settings
from autoinform.engine import Engine, EngineOptions
from autoinform.errors import HotlineDataError
from autoinform.runtime import open_runtime
from tests.conftest import ROOT
from tests.hotline.memory_backend import MemoryBackend
from tests.ivr.peer import AsteriskModel, Caller, call


def _settings(tmp_path: Path, menu: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'e.db'}", var_dir=tmp_path / "var",
                    scenarios_dir=ROOT / "scenarios", audio_dir=ROOT / "audio", ivr={"port": 0},
                    hotline=HotlineSettings(menu_file=menu, info_file=ROOT / "hotline" / "info.yaml"))


async def test_engine_answers_hotline_calls(tmp_path: Path) -> None:
    rt = open_runtime(_settings(tmp_path, ROOT / "hotline" / "menu.yaml"))
    backend = MemoryBackend(tmp_path / "rec")
    engine = Engine(rt, senders={}, options=EngineOptions(web=False, hotline=backend))
    stop = asyncio.Event()
    run = asyncio.create_task(engine.run(stop))
    try:
        await asyncio.wait_for(engine.started(), 30)
        async with asyncio.timeout(10):
            while engine.ivr_port is None:
                await asyncio.sleep(0.01)
        result = await call(engine.ivr_port, AsteriskModel(Caller()), script="hotline", uniqueid="77.1")
    finally:
        stop.set()
        await asyncio.wait_for(run, 30)
        rt.close()
    assert any("hotline/recording_notice" in c for c in result.commands)
    assert backend.calls["77.1"].outcome == "no_input"


def test_a_broken_menu_stops_the_engine_before_any_call(tmp_path: Path) -> None:
    bad = tmp_path / "menu.yaml"
    bad.write_text((ROOT / "hotline" / "menu.yaml").read_text(encoding="utf-8")
                   .replace("hotline/menu_visit", "hotline/menu_vizit"), encoding="utf-8")
    rt = open_runtime(_settings(tmp_path, bad))
    try:
        with pytest.raises(HotlineDataError, match=r"menu.yaml:16: menus.main.prompts.4: prompt 'hotline/menu_vizit'"):
            Engine(rt, senders={}, options=EngineOptions(web=False, hotline=MemoryBackend(tmp_path / "rec")))
    finally:
        rt.close()
