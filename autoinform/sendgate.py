"""The one place that decides whether a claimed message may leave now (issue 8 items 1 and 2).

A message was claimed, routed and recorded in one transaction; it may wait in a queue for seconds or
minutes before its turn. At the instant it would leave, the gate answers from memory:
- the lease: still ours and not about to lapse (a renewal that found it gone marks it lost);
- the campaign: still running and before its end (pause → released, cancel → `cancelled`, end or
  expiry → `window_closed`);
- the stop list: the account was not stopped (paid, moved out) after the claim;
- the informing window (AI-13).

Campaign states and stop entries come from the database, but not by a query per message: every
change that matters bumps a counter (`generations`) in its own transaction, and before a send the
gate reads those two counters, reloading campaigns or new stop entries only when one moved. Reads
are single-flight: every send waiting at one instant shares one read, and a read serves only the
sends that were waiting before it began, so an action committed before a send's instant is always
seen by that send.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, PoolProxiedConnection, bindparam, select, update
from sqlalchemy.orm import Session

from autoinform.calendar import InformingWindow, OpenSpan
from autoinform.models import Campaign, CampaignState, Generation, StopEntry

if TYPE_CHECKING:
    from autoinform.deliveries import Work

CAMPAIGNS = "campaigns"
STOP_LIST = "stop_list"
_GENERATIONS = select(Generation.name, Generation.value)
_GENERATIONS_SQL = "SELECT name, value FROM generations"
_CAMPAIGN_STATES = select(Campaign.id, Campaign.state, Campaign.end_at).where(
    Campaign.id.in_(bindparam("ids", expanding=True)))
_NEW_STOPS = (select(StopEntry.id, StopEntry.account, StopEntry.created_at, StopEntry.reason)
              .where(StopEntry.id > bindparam("after")).order_by(StopEntry.id))


def bump(session: Session, name: str) -> None:
    """Count a change that sends must see. Call it first in the transaction that makes the change:
    the row lock it takes orders concurrent changes, so their ids and counters agree."""
    session.execute(update(Generation).where(Generation.name == name).values(value=Generation.value + 1))


def read_generations(session: Session) -> dict[str, int]:
    return {name: int(value) for name, value in session.execute(_GENERATIONS).all()}


class Action(enum.StrEnum):
    RELEASE = "release"  # back to pending at `at`: the message may still leave later
    FINISH = "finish"  # the delivery ends negative with `reason`, nothing sent
    DROP = "drop"  # not ours any more: another engine holds it; write nothing to the delivery


@dataclass(frozen=True)
class Hold:
    """Why a claimed message must not leave now, and what becomes of it."""

    action: Action
    reason: str
    at: datetime | None = None


@dataclass
class _Snapshot:
    """What the gate knows, valid as of the counters in `generations`."""

    generations: dict[str, int] = field(default_factory=dict)
    campaigns: dict[int, tuple[CampaignState, datetime]] = field(default_factory=dict)
    stale: set[int] = field(default_factory=set)  # campaigns first seen in a claim: reload once
    stops: dict[str, list[tuple[int, datetime, str]]] = field(default_factory=lambda: defaultdict(list))
    stops_after: int | None = None  # stop entries with a greater id are in `stops`
    stops_stale: bool = False  # `stops_after` was just set: read entries after it once


class SendGate:
    """Decides at the instant of each send; see the module docstring."""

    def __init__(self, engine: Engine, window: InformingWindow, *, lease_margin: timedelta) -> None:
        self._engine = engine
        self.window = window
        self._open = OpenSpan(window)
        self._margin = lease_margin
        self._snap = _Snapshot()
        self._leases: dict[int, datetime] = {}  # delivery id -> lease end last confirmed
        self._lost: set[int] = set()
        self._per_campaign: dict[int, int] = defaultdict(int)  # in-flight work per campaign
        self._next: asyncio.Future[None] | None = None  # the read the next waiters share
        self._reader: asyncio.Task[None] | None = None
        # Its own thread: the dispatcher's database thread may be busy with a claim for
        # milliseconds, and a send must not queue behind it.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="send-gate")
        self._inline = engine.dialect.name == "sqlite"
        self._raw: PoolProxiedConnection | None = None
        self.reads = 0
        self.reloads = 0  # reads that had to load campaign states or stop entries

    def close(self) -> None:
        self._thread.shutdown(wait=False)
        raw, self._raw = self._raw, None
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.close()

    # --- what the dispatcher tells the gate ------------------------------------------------------

    def track(self, work: Iterable[Work], *, lease_until: datetime, stops_seen: int) -> None:
        """Claimed work enters the gate: its lease end, its campaign (running at the claim)."""
        snap = self._snap
        for w in work:
            self._leases[w.delivery_id] = lease_until
            if w.campaign_id not in snap.campaigns:
                snap.campaigns[w.campaign_id] = (CampaignState.RUNNING, w.end_at)
                snap.stale.add(w.campaign_id)
            self._per_campaign[w.campaign_id] += 1
        if snap.stops_after is None:
            # Entries up to `stops_seen` were checked by the claim itself; later claims saw more.
            snap.stops_after = stops_seen
            snap.stops_stale = True

    def untrack(self, work: Work) -> None:
        """The work's result (or release) is written: the gate forgets it."""
        self._leases.pop(work.delivery_id, None)
        self._lost.discard(work.delivery_id)
        left = self._per_campaign[work.campaign_id] - 1
        if left > 0:
            self._per_campaign[work.campaign_id] = left
            return
        self._per_campaign.pop(work.campaign_id, None)
        self._snap.campaigns.pop(work.campaign_id, None)
        if not self._per_campaign:  # nothing in flight: stop entries seen so far are checked at claim
            self._snap.stops.clear()
            self._snap.stops_after = None

    def in_flight(self) -> list[int]:
        return list(self._leases)

    def renewed(self, kept: Iterable[int], asked: Iterable[int], until: datetime) -> list[int]:
        """A lease renewal kept `kept` of `asked`; the rest another engine took: lost. Returns them."""
        kept_set = set(kept)
        lost = []
        for delivery_id in asked:
            if delivery_id not in self._leases:
                continue  # finished meanwhile
            if delivery_id in kept_set:
                self._leases[delivery_id] = until
            else:
                self._lost.add(delivery_id)
                lost.append(delivery_id)
        return lost

    # --- the decision ----------------------------------------------------------------------------

    async def check(self, w: Work, clock: Callable[[], datetime]) -> Hold | None:
        """None: the message may leave now. Else what to do with it instead. The instant is taken
        after the read, so a campaign's end or the window's close is judged when the send leaves."""
        hold = self._lease_hold(w, clock())
        if hold is not None:
            return hold
        await self._fresh()
        now = clock()
        return self._lease_hold(w, now) or self._decide(w, now)

    def _lease_hold(self, w: Work, now: datetime) -> Hold | None:
        if w.delivery_id in self._lost:
            return Hold(Action.DROP, "lease_lost")
        until = self._leases.get(w.delivery_id)
        if until is None or now >= until - self._margin:
            # Not renewed in time (the database was unreachable): another engine may take it from
            # `until` on. It goes back only if it is still ours (the release is conditional).
            return Hold(Action.RELEASE, "lease_expired", now)
        return None

    def _decide(self, w: Work, now: datetime) -> Hold | None:
        state, end_at = self._snap.campaigns.get(w.campaign_id, (CampaignState.RUNNING, w.end_at))
        if state is CampaignState.CANCELLED:
            return Hold(Action.FINISH, "cancelled")
        if state in (CampaignState.EXPIRED, CampaignState.COMPLETED) or now >= end_at:
            return Hold(Action.FINISH, "window_closed")
        if state is not CampaignState.RUNNING:  # paused (or put back to wait for its start)
            return Hold(Action.RELEASE, state.value, now)
        for stop_id, created_at, reason in self._snap.stops.get(w.account, ()):
            if stop_id > w.stops_seen and (w.list_created is None or created_at >= w.list_created):
                return Hold(Action.FINISH, reason or "paid")
        if not self._open.allows(now):  # AI-13, at the instant of the attempt
            nxt = self.window.next_allowed(now)
            if nxt >= end_at:
                return Hold(Action.FINISH, "window_closed")
            return Hold(Action.RELEASE, "window_closed_before_send", nxt)
        return None

    # --- reading the database --------------------------------------------------------------------

    async def _fresh(self) -> None:
        """Wait for a read that begins after this call (a read already under way may have begun
        before a change this send must see). Every send that asks before the read begins shares it."""
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        waiter = self._next
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_loop(), name="send-gate-read")
        await asyncio.shield(waiter)

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._next is not None:
            waiter, self._next = self._next, None
            snap = self._snap
            campaigns = set(snap.campaigns)
            stale = set(snap.stale)
            stops_after = snap.stops_after
            stops_stale, snap.stops_stale = snap.stops_stale, False
            try:
                args = (dict(snap.generations), campaigns, stale, stops_after, stops_stale)
                # SQLite: a few microseconds of local file access, cheaper than a hand-over to a
                # thread; run as a task, after the sends made ready in the same loop turn have asked.
                result = self._read(*args) if self._inline else await loop.run_in_executor(self._thread, self._read,
                                                                                         *args)
            except Exception as exc:  # no answer: nothing may leave on a guess
                snap.stops_stale = snap.stops_stale or stops_stale
                if not waiter.done():
                    waiter.set_exception(exc)
                continue
            self._apply(*result, stale)
            self.reads += 1
            if not waiter.done():
                waiter.set_result(None)

    def _read(self, known: dict[str, int], campaigns: set[int], stale: set[int], stops_after: int | None,
              stops_stale: bool) -> tuple[dict[str, int], dict[int, tuple[CampaignState, datetime]] | None,
                         list[tuple[int, str, datetime, str]]]:
        generations = self._read_generations()
        states = None
        stops: list[tuple[int, str, datetime, str]] = []
        reload_campaigns = bool(campaigns) and (bool(stale) or generations.get(CAMPAIGNS) != known.get(CAMPAIGNS))
        reload_stops = stops_after is not None and (stops_stale or generations.get(STOP_LIST) != known.get(STOP_LIST))
        if not reload_campaigns and not reload_stops:
            return generations, states, stops
        # Rare (a counter moved): read after the counters, so what is read is at least that new.
        self.reloads += 1
        with self._engine.connect() as conn:
            if reload_campaigns:
                states = {cid: (CampaignState(st), end) for cid, st, end in
                          conn.execute(_CAMPAIGN_STATES, {"ids": list(campaigns)}).all()}
            if reload_stops:
                stops = [tuple(r) for r in conn.execute(_NEW_STOPS, {"after": stops_after}).all()]  # type: ignore[misc]
            conn.rollback()
        return generations, states, stops

    def _read_generations(self) -> dict[str, int]:
        """The counters, on a DBAPI connection of the gate's own in autocommit (each read sees the
        latest commits and holds no transaction open): the hot path, so no pool checkout, no BEGIN."""
        if self._raw is None:
            raw = self._engine.raw_connection()
            if self._engine.dialect.name == "postgresql":
                raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            self._raw = raw
        try:
            cursor = self._raw.cursor()
            try:
                cursor.execute(_GENERATIONS_SQL)
                return {name: int(value) for name, value in cursor.fetchall()}
            finally:
                cursor.close()
        except Exception:
            self._drop_raw()  # a broken connection is not reused; the next read opens another
            raise

    def _drop_raw(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.invalidate()

    def _apply(self, generations: dict[str, int], states: dict[int, tuple[CampaignState, datetime]] | None,
               stops: list[tuple[int, str, datetime, str]], stale: set[int]) -> None:
        snap = self._snap
        snap.generations = generations
        snap.stale -= stale
        if states is not None:
            for cid in list(snap.campaigns):
                if cid in states:
                    snap.campaigns[cid] = states[cid]
        if stops and snap.stops_after is not None:
            for stop_id, account, created_at, reason in stops:
                if stop_id > snap.stops_after and all(stop_id != s[0] for s in snap.stops[account]):
                    snap.stops[account].append((stop_id, created_at, reason))

    def describe(self) -> dict[str, Any]:
        return {"reads": self.reads, "reloads": self.reloads, "in_flight": len(self._leases), "lost": len(self._lost),
                "campaigns": len(self._snap.campaigns)}
