"""APScheduler drives time: campaign starts and ends, housekeeping, and re-reading the schedule.

The database is the source of truth, so the job store is in memory and rebuilt from it: on start
and every `resync` seconds (campaigns created or changed by another process, e.g. the CLI, are
picked up). Retries are not jobs: they are deliveries whose next_attempt_at has come, found by the
dispatcher's claim query, so a million pending retries cost no scheduler memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from autoinform.campaigns import ACTIVE
from autoinform.dispatch import Dispatcher
from autoinform.models import Campaign, CampaignState, utcnow

log = logging.getLogger(__name__)


class SchedulerPart(Protocol):
    """More jobs rebuilt from the database with the campaigns' (issue 14: autoinform/templates/jobs.py)."""

    def install(self, aps: AsyncIOScheduler) -> None: ...

    async def resync(self, aps: AsyncIOScheduler) -> int: ...


class EngineScheduler:
    def __init__(self, dispatcher: Dispatcher, *, housekeeping_s: float = 5.0, resync_s: float = 30.0,
                 clock: Callable[[], datetime] = utcnow, parts: Sequence[SchedulerPart] = ()) -> None:
        self.dispatcher = dispatcher
        self.parts = list(parts)  # issue 14
        self.clock = clock
        self.housekeeping_s = housekeeping_s
        self.resync_s = resync_s
        self._aps = AsyncIOScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                   "misfire_grace_time": None})

    async def start(self) -> None:
        self._aps.add_job(self.dispatcher.housekeeping, IntervalTrigger(seconds=self.housekeeping_s),
                          id="housekeeping", replace_existing=True)
        self._aps.add_job(self.resync, IntervalTrigger(seconds=self.resync_s), id="resync",
                          replace_existing=True)
        for channel, sender in self.dispatcher.senders.items():
            every, scan = getattr(sender, "bounce_scan_s", None), getattr(sender, "scan_bounces", None)
            if every and scan:  # a mailbox of bounces to read (e-mail, issue 8 item 8)
                self._aps.add_job(scan, IntervalTrigger(seconds=every),
                                  id=f"bounces-{channel.value}", replace_existing=True)
        for part in self.parts:  # issue 14: templates and the drop folder
            part.install(self._aps)
        self._aps.start()
        await self.resync()

    def shutdown(self) -> None:
        if self._aps.running:
            self._aps.shutdown(wait=False)

    async def resync(self) -> int:
        """(Re)create a start and an end job for every active campaign; returns how many campaigns."""
        rows = await self.dispatcher.in_db(lambda s: list(s.execute(
            select(Campaign.id, Campaign.state, Campaign.start_at, Campaign.end_at)
            .where(Campaign.state.in_(ACTIVE))).all()))
        now = self.clock()
        for cid, state, start_at, end_at in rows:
            if state is CampaignState.SCHEDULED:
                self._at(f"start-{cid}", max(start_at, now), self._begin)
            self._at(f"end-{cid}", max(end_at, now), self.dispatcher.housekeeping)
        for part in self.parts:  # issue 14
            await part.resync(self._aps)
        return len(rows)

    def jobs(self) -> list[str]:
        return sorted(j.id for j in self._aps.get_jobs())

    def _at(self, job_id: str, when: datetime, func: Callable[[], object]) -> None:
        self._aps.add_job(func, DateTrigger(run_date=when), id=job_id, replace_existing=True)

    async def _begin(self) -> None:
        await self.dispatcher.housekeeping()  # begins due campaigns and wakes the dispatcher
        log.info("campaign start reached")
