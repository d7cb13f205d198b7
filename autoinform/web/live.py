"""Live updates for open pages by Server-Sent Events (AI-6, issue 12 item 1).

One hub per web process, shared by every open page: one watcher learns that the database changed
(PostgreSQL: `LISTEN` on the channel autoinform/changes.py notifies; SQLite: a poll of the few
`generations` counter rows by primary key), then each topic some page watches is computed once and
handed to all of that topic's pages. A slow page gets the newest state, never a backlog. Whichever
engine process made the change, an open page sees it within a poll interval (or a notify's trip).

The watcher runs while at least one page is open, and stops with the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from autoinform.changes import CHANNEL
from autoinform.runtime import Runtime
from autoinform.sendgate import read_generations

log = logging.getLogger(__name__)

# What a page watches: (kind, id, clear). "clear" pages may see personal data unmasked, so they are
# a topic of their own rather than a mask applied per page.
Topic = tuple[str, int, bool]
Compute = Callable[[Session, Topic], dict[str, Any]]


@dataclass
class LiveCounters:
    """Shown by /api/metrics as "live"."""

    pages: int = 0  # open now
    changes: int = 0  # changes the watcher saw
    computed: int = 0  # topic states computed (once per change per watched topic)
    sent: int = 0  # states handed to pages
    watch_errors: int = 0


class Subscription:
    def __init__(self, topic: Topic) -> None:
        self.topic = topic
        self.ended = False  # the server is stopping: the page's stream ends
        self._latest: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1)

    def offer(self, state: dict[str, Any]) -> None:
        """The newest state replaces one the page has not taken yet."""
        with contextlib.suppress(asyncio.QueueEmpty):
            self._latest.get_nowait()
        self._latest.put_nowait(state)

    def take_nowait(self) -> dict[str, Any] | None:
        """The state waiting, if one is."""
        try:
            return self._latest.get_nowait()
        except asyncio.QueueEmpty:
            return None

    async def next(self, timeout: float) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self._latest.get(), timeout)
        except TimeoutError:
            return None


class LiveHub:
    def __init__(self, rt: Runtime, compute: Compute, *, poll_s: float = 0.2, min_interval_s: float = 0.25) -> None:
        self._rt = rt
        self._compute = compute
        self.poll_s = poll_s
        # A busy engine changes something every few milliseconds: pages are recomputed at most this
        # often (a campaign's counts are a grouped query over its deliveries), still well within 1 s.
        self.min_interval_s = min_interval_s
        self.stats = LiveCounters()
        self._subs: dict[Topic, set[Subscription]] = {}
        self._dirty = asyncio.Event()
        self._publishing = False
        self.ready = asyncio.Event()  # the watcher knows where the database stands
        self._tasks: list[asyncio.Task[None]] = []
        self.version = 0

    @property
    def idle(self) -> bool:
        """No change waiting to be published, none being published."""
        return not self._dirty.is_set() and not self._publishing

    @property
    def watching(self) -> int:
        """Tasks watching the database for this process's pages (2 while any page is open, else 0)."""
        return len(self._tasks)

    @property
    def postgres(self) -> bool:
        return self._rt.engine.dialect.name == "postgresql"

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: Topic) -> AsyncIterator[Subscription]:
        """Watch `topic`: the subscription holds its current state at once, then each new one."""
        sub = Subscription(topic)
        self._subs.setdefault(topic, set()).add(sub)
        self.stats.pages += 1
        if not self._tasks:
            self._dirty = asyncio.Event()
            self.ready = asyncio.Event()
            self._tasks = [asyncio.create_task(self._publisher(), name="live-publisher"),
                           asyncio.create_task(self._listen() if self.postgres else self._poll(),
                                               name="live-watcher")]
        try:
            sub.offer(await self._state(topic))
            yield sub
        finally:
            self.stats.pages -= 1
            subs = self._subs.get(topic, set())
            subs.discard(sub)
            if not subs:
                self._subs.pop(topic, None)
            if not self._subs:
                await self.aclose()

    def end_pages(self) -> None:
        """End every open page's stream (the server is stopping: it would wait for them)."""
        for subs in self._subs.values():
            for sub in subs:
                sub.ended = True
                sub.offer({})

    async def aclose(self) -> None:
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    async def _state(self, topic: Topic) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            with self._rt.sessions() as s:
                return self._compute(s, topic)
        self.stats.computed += 1
        return await asyncio.to_thread(run)

    async def _publisher(self) -> None:
        """Changes that arrive while states are being computed are folded into one more round."""
        loop = asyncio.get_running_loop()
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            self._publishing = True
            began = loop.time()
            self.version += 1
            for topic, subs in list(self._subs.items()):
                try:
                    state = await self._state(topic)
                except Exception:  # a page's query failing must not end every page's updates
                    log.exception("live state for %s could not be computed", topic)
                    continue
                for sub in list(subs):
                    sub.offer(state)
                    self.stats.sent += 1
            self._publishing = False
            await asyncio.sleep(max(0.0, began + self.min_interval_s - loop.time()))

    def _changed(self) -> None:
        self.stats.changes += 1
        self._dirty.set()

    async def _poll(self) -> None:
        def read() -> dict[str, int]:
            with self._rt.sessions() as s:
                return read_generations(s)
        last = await asyncio.to_thread(read)
        self.ready.set()
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                now = await asyncio.to_thread(read)
            except Exception as exc:  # the database busy or gone for a moment: try again next poll
                self.stats.watch_errors += 1
                log.warning("live poll failed: %s", exc)
                continue
            if now != last:
                last = now
                self._changed()

    async def _listen(self) -> None:
        import psycopg

        url = make_url(self._rt.settings.database_url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._changed()  # whatever happened while we were not listening
                    self.ready.set()
                    async for _ in conn.notifies():
                        self._changed()
            except psycopg.Error as exc:
                self.stats.watch_errors += 1
                log.warning("live LISTEN connection lost (%s); reconnecting", exc)
                await asyncio.sleep(1.0)


def sse_event(state: dict[str, Any], version: int) -> bytes:
    return f"id: {version}\nevent: state\ndata: {json.dumps(state, ensure_ascii=False)}\n\n".encode()


async def stream(hub: LiveHub, topic: Topic, *, keepalive_s: float = 15.0) -> AsyncIterator[bytes]:
    """The body of an SSE response: the topic's state now, then each change; a comment line when
    nothing changed for `keepalive_s` keeps proxies from closing the connection."""
    async with hub.subscribe(topic) as sub:
        yield b"retry: 1000\n\n"
        while not sub.ended:
            state = await sub.next(keepalive_s)
            if sub.ended:
                return  # the browser reconnects to the next server by itself
            yield sse_event(state, hub.version) if state is not None else b": keep-alive\n\n"


def end_pages(app: Any) -> None:
    """Before a web server stops: end the open pages' streams, which it would otherwise wait for."""
    hub = getattr(getattr(app, "state", None), "live", None)
    if isinstance(hub, LiveHub):
        hub.end_pages()
