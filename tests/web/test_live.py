"""Live updates (AI-6, issue 12 item 1): a change made by any engine process reaches an open page
within one second, on SQLite (an indexed poll) and on PostgreSQL (LISTEN/NOTIFY); one watcher per
web process, however many pages are open."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from autoinform import campaigns, db
from autoinform.runtime import Runtime
from autoinform.web.live import LiveHub
from autoinform.web.pages.campaigns import live_state
from tests.conftest import ROOT
from tests.engine.builders import Built
from tests.web.pages_fixtures import draft, serve, web_app

# Another engine process: opens the same database, changes it through the domain functions, and
# prints the monotonic clock (one clock for every process of the machine) right after its commit.
OTHER_PROCESS = """
import sys, time
from pathlib import Path
from autoinform import campaigns, db
from autoinform.runtime import open_runtime
from tests.web.pages_fixtures import finish, web_settings
rt = open_runtime(web_settings(sys.argv[1], Path(sys.argv[2])), migrate=False)
if sys.argv[3] == "finish":
    finish(rt, int(sys.argv[4]))
else:
    with db.transaction(rt.sessions) as s:
        campaigns.pause(s, int(sys.argv[4]), "boss")
print(time.monotonic(), flush=True)
"""


def other_process(rt: Runtime, tmp: str, *args: str) -> float:
    done = subprocess.run([sys.executable, "-c", OTHER_PROCESS, rt.settings.database_url, tmp, *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    return float(done.stdout.split()[-1])


def running(rt: Runtime, n: int) -> Built:
    built = draft(rt, n)
    with db.transaction(rt.sessions) as s:
        campaigns.approve(s, built.campaign_id, "boss")
    with db.transaction(rt.sessions) as s:
        campaigns.start(s, built.campaign_id, "boss")
    return built


class Page:
    """An open page's event stream, read in a thread: (arrival time, state) per event."""

    def __init__(self, url: str, who: str) -> None:
        self.events: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(url, who), daemon=True)
        self._thread.start()

    def _read(self, url: str, who: str) -> None:
        try:
            with httpx.stream("GET", url, headers={"X-Test-User": who}, timeout=None) as r:
                assert r.headers["content-type"].startswith("text/event-stream")
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        self.events.put((time.monotonic(), json.loads(line[6:])))
        except httpx.HTTPError:
            pass  # the server stopped at the end of the test

    def wait_for(self, test: Callable[[dict[str, Any]], bool], timeout: float = 30) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            at, state = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            if test(state):
                return at, state


def test_a_change_by_another_process_reaches_an_open_page_within_a_second(live_rt: Runtime, tmp_path: Any) -> None:
    built = running(live_rt, 3)
    cid = built.campaign_id
    app = web_app(live_rt)
    with serve(app) as base:
        page = Page(f"{base}/live/campaigns/{cid}", "spec")
        overview = Page(f"{base}/live/campaigns", "view")
        _, first = page.wait_for(lambda s: True)
        assert first["counts"] == first["counts"] | {"pending": 3, "positive": 0}
        overview.wait_for(lambda s: True)
        deadline = time.monotonic() + 10
        while not app.state.live.ready.is_set():  # the server's watcher knows where the database stands
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # Deliveries end in another engine process.
        committed = other_process(live_rt, str(tmp_path), "finish", "2")
        at, state = page.wait_for(lambda s: s["counts"]["positive"] == 2)
        assert at - committed < 1.0, f"the page saw it {at - committed:.2f} s after the commit"
        assert len(state["feed"]) == 2 and state["feed"][0]["destination"].endswith("@example.ru")
        at, state = overview.wait_for(lambda s: s["campaigns"][0]["counts"]["positive"] == 2)
        assert at - committed < 1.0
        # A campaign's state changes in another process.
        committed = other_process(live_rt, str(tmp_path), "pause", str(cid))
        at, state = page.wait_for(lambda s: s["state"] == "paused")
        assert at - committed < 1.0, f"the page saw it {at - committed:.2f} s after the commit"


async def test_one_watcher_and_one_computation_per_change_for_all_pages(live_rt: Runtime) -> None:
    built = running(live_rt, 2)
    hub = LiveHub(live_rt, live_state, poll_s=0.05)
    topic = ("campaign", built.campaign_id, False)
    async with hub.subscribe(topic) as a, hub.subscribe(topic) as b, hub.subscribe(topic) as c:
        assert hub.watching == 2  # the watcher and the publisher, shared by the three pages
        for sub in (a, b, c):
            first = await sub.next(5)
            assert first is not None and first["state"] == "running"
        async with asyncio.timeout(10):  # the watcher knows where the database stands, nothing pending
            await hub.ready.wait()
            while not hub.idle:
                await asyncio.sleep(0.01)
        for sub in (a, b, c):  # PostgreSQL: the state published as LISTEN began, if it came after
            sub.take_nowait()
        computed = hub.stats.computed

        def pause() -> None:
            with db.transaction(live_rt.sessions) as s:
                campaigns.pause(s, built.campaign_id, "boss")
        await asyncio.to_thread(pause)
        for sub in (a, b, c):
            state = await sub.next(10)
            assert state is not None and state["state"] == "paused"
            assert state["feed"] == [] and state["counts"]["pending"] == 2
        assert hub.stats.computed == computed + 1
        assert hub.stats.pages == 3
    assert hub.watching == 0 and hub.stats.pages == 0  # the last page closed: nothing polls


async def test_a_slow_page_gets_the_newest_state_not_a_backlog(live_rt: Runtime) -> None:
    built = running(live_rt, 1)
    hub = LiveHub(live_rt, live_state, poll_s=0.05)
    async with hub.subscribe(("campaign", built.campaign_id, False)) as sub:
        async with asyncio.timeout(10):
            await hub.ready.wait()
            while not hub.idle:
                await asyncio.sleep(0.01)
        await sub.next(1)  # the state at opening (and on PostgreSQL perhaps once more as LISTEN began)
        for action in ("pause", "resume", "pause"):
            def act(action: str = action) -> None:
                with db.transaction(live_rt.sessions) as s:
                    getattr(campaigns, action)(s, built.campaign_id, "boss")
            sent = hub.stats.sent
            await asyncio.to_thread(act)
            async with asyncio.timeout(10):  # each change is published while the page reads nothing
                while hub.stats.sent == sent:
                    await asyncio.sleep(0.01)
        state = await sub.next(5)
        assert state is not None and state["state"] == "paused"
        assert await sub.next(0.3) is None  # one state waiting, not four


def test_stopping_the_server_ends_open_pages(live_rt: Runtime, caplog: Any) -> None:
    """uvicorn waits for every open response when it stops; live pages are ended first, so a stop
    is prompt and cancels nothing."""
    built = running(live_rt, 1)
    app = web_app(live_rt)
    with serve(app) as base:
        page = Page(f"{base}/live/campaigns/{built.campaign_id}", "view")
        page.wait_for(lambda s: True)
        assert app.state.live.stats.pages == 1
        stopping = time.monotonic()
    page._thread.join(10)
    assert not page._thread.is_alive()
    assert time.monotonic() - stopping < 3  # the grace period (serve.GRACE_S) was not needed
    assert "timeout graceful shutdown exceeded" not in caplog.text
    assert app.state.live.stats.pages == 0 and app.state.live.watching == 0
