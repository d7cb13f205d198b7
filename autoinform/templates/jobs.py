"""The engine's jobs for templates and the drop folder, on the engine's APScheduler.

The database holds the templates and their periods; APScheduler holds only when to look next: one
date job per template at its next due moment (a draft to form, a start to check), remade from the
database at start and at every resync, plus an interval job that ticks every templates.check_s
(catching approvals, late lists and missed moments) and one that polls the drop folder. The tick is
idempotent (forming.py), so a job run twice or a restart between two jobs does each thing once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from autoinform.models import CampaignTemplate, utcnow
from autoinform.runtime import Runtime
from autoinform.templates.drop import DropWatcher
from autoinform.templates.forming import TickReport, tick
from autoinform.templates.notify import send_pending
from autoinform.templates.periods import next_moment
from autoinform.templates.service import schedule_of

log = logging.getLogger(__name__)

PREFIX = "template-"


class TemplateJobs:
    def __init__(self, rt: Runtime, clock: Callable[[], datetime] = utcnow) -> None:
        self.rt = rt
        self.clock = clock
        self.watcher = DropWatcher(rt) if rt.settings.drop_folder.path is not None else None
        self._lock = asyncio.Lock()  # one tick at a time in this process

    def install(self, aps: BaseScheduler) -> None:
        # Once at start: what fell due while the engine was down is done now, not at the next check.
        aps.add_job(self.check, id="templates-first-check", replace_existing=True)
        aps.add_job(self.check, IntervalTrigger(seconds=self.rt.settings.templates.check_s), id="templates-check",
                    replace_existing=True)
        if self.watcher is not None:
            aps.add_job(self.poll, IntervalTrigger(seconds=self.rt.settings.drop_folder.poll_s), id="drop-folder",
                        replace_existing=True)

    def due(self) -> dict[int, datetime]:
        """Each active template's next due moment, from the database."""
        now = self.clock()
        with self.rt.sessions() as s:
            found = {t.id: next_moment(schedule_of(t), now, self.rt.settings.tz)
                     for t in s.scalars(select(CampaignTemplate).where(CampaignTemplate.paused.is_(False)))}
        return {tid: when for tid, when in found.items() if when is not None}

    async def resync(self, aps: BaseScheduler) -> int:
        """(Re)make one date job per active template; drop those of paused or removed templates."""
        due = await asyncio.to_thread(self.due)
        for job in aps.get_jobs():
            if job.id.startswith(PREFIX) and int(job.id[len(PREFIX):]) not in due:
                job.remove()
        for tid, when in due.items():
            aps.add_job(self._due, DateTrigger(run_date=when), id=f"{PREFIX}{tid}", replace_existing=True,
                        kwargs={"aps": aps})
        return len(due)

    async def _due(self, aps: BaseScheduler) -> None:
        await self.check()
        await self.resync(aps)  # the template's next moment

    async def check(self) -> TickReport:
        async with self._lock:
            report = await asyncio.to_thread(tick, self.rt, self.clock())
            if report.formed or report.started or report.not_approved or report.refused or report.no_list:
                log.info("templates: %s", vars(report))
            await send_pending(self.rt)
            return report

    async def poll(self) -> None:
        """Take ready files from the drop folder, then tick: a list that came may be awaited."""
        assert self.watcher is not None
        taken = await asyncio.to_thread(self.watcher.poll, self.clock())
        if taken:
            await self.check()
