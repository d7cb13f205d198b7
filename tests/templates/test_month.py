"""Two months compressed (issue 14): a fake clock, a drop folder, the engine restarted between
steps; on SQLite and PostgreSQL.

March 2027: the template runs the 7th to the 12th, 10:00-19:00 (Astrakhan), drafts formed two days
before. March 7 is a Sunday and March 8 a public holiday: the campaign spans them and its first
message may leave on the 9th. The export arrives half-written, then whole with a bad row, then a
duplicate; the draft is formed on the 5th by the system user, a manager approves it, it starts.
A corrected export arriving while the campaign is scheduled changes nothing in it.
April 2027: the export comes, the draft is formed, nobody approves it: at the start it is
cancelled, nothing is sent, and the template's history says why.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from autoinform import campaigns, db
from autoinform.config import Settings
from autoinform.engine import Engine, EngineOptions
from autoinform.errors import PermissionDenied
from autoinform.models import Campaign, CampaignState, Channel, Delivery, Role, TemplateNotice, TemplateRun
from autoinform.preflight import window_of
from autoinform.runtime import Runtime, open_runtime
from autoinform.templates import service
from autoinform.templates.drop import DropWatcher
from autoinform.templates.forming import tick
from autoinform.templates.jobs import TemplateJobs
from autoinform.templates.notify import send_pending
from autoinform.templates.periods import Schedule
from autoinform.users import add_user
from tests.conftest import ROOT
from tests.fakes.smtp_sink import SmtpSink
from tests.templates.files import BAD_ROW, HEADER, rows, write

TZ_OFFSET = timedelta(hours=4)  # Europe/Astrakhan


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    """A local Astrakhan time as an aware UTC instant."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC) - TZ_OFFSET


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


@pytest.fixture
def month_settings(db_url: str, tmp_path: Path, sink: SmtpSink) -> Settings:
    return Settings(database_url=db_url, var_dir=tmp_path / "var", scenarios_dir=ROOT / "scenarios",
                    audio_dir=ROOT / "audio", scenario_constants={"hotline_phone": "+78512000000"},
                    smtp={"port": sink.port, "sender": "info@example.ru"},
                    drop_folder={"path": tmp_path / "drop", "pattern": "debt_*.csv", "settle_s": 30})


class Engine_:
    """One engine 'process': a runtime and the drop watcher; restart() is a new one on the same database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rt: Runtime = open_runtime(settings)
        self.watcher = DropWatcher(self.rt)

    def restart(self) -> None:
        self.rt.close()
        self.rt = open_runtime(self.settings)
        self.watcher = DropWatcher(self.rt)

    def settle(self, at: datetime) -> list[Any]:
        """Two looks a settle period apart: what is whole by then is taken."""
        self.watcher.poll(at)
        return self.watcher.poll(at + timedelta(seconds=31))

    def tick(self, at: datetime) -> Any:
        report = tick(self.rt, at)
        asyncio.run(send_pending(self.rt))
        return report


def _counts(rt: Runtime) -> tuple[int, int]:
    with rt.sessions() as s:
        return (int(s.scalar(select(func.count()).select_from(Campaign)) or 0),
                int(s.scalar(select(func.count()).select_from(TemplateRun)) or 0))


def test_two_months_compressed(month_settings: Settings, sink: SmtpSink) -> None:
    e = Engine_(month_settings)
    folder = month_settings.drop_folder.path
    assert folder is not None
    folder.mkdir()
    try:
        with db.transaction(e.rt.sessions) as s:
            add_user(s, "spec", Role.SPECIALIST)
            add_user(s, "boss", Role.MANAGER)
            add_user(s, "chief", Role.MANAGER)
            t = service.create(s, name="Долги", scenario="debt_reminder", channels=[Channel.EMAIL],
                               source="drop:debt_*.csv", schedule=Schedule("monthly", 7, 12, 600, 1140, 2),
                               approvers=["role:manager"], notify_emails=["boss@example.ru"], actor="spec",
                               system_login=month_settings.templates.system_login,
                               scenario_channels=[Channel.EMAIL, Channel.SMS, Channel.PHONE])
            template_id = t.id

        # March 1: the export arrives half-written, then whole (with one bad row), then again.
        march = folder / "debt_2027-03.csv"
        write(march, HEADER + rows(range(1, 3)))
        assert e.watcher.poll(local(2027, 3, 1, 9)) == []
        with march.open("ab") as out:
            out.write((rows(range(3, 6)) + BAD_ROW).encode())
        assert e.watcher.poll(local(2027, 3, 1, 9, 0, 40)) == []  # grew since the last look
        [imported] = e.watcher.poll(local(2027, 3, 1, 9, 1, 20))
        assert (imported.state, imported.detail.split(", ")[0]) == ("imported", "read 6")
        assert "rejected 1" in imported.detail
        shutil.copyfile(folder / "done" / march.name, folder / "debt_2027-03-copy.csv")
        [dup] = e.settle(local(2027, 3, 2, 9))
        assert dup.state == "duplicate"

        # March 4: too early, nothing formed. The engine restarts.
        assert e.tick(local(2027, 3, 4, 12)).formed == []
        assert _counts(e.rt) == (0, 0)
        e.restart()

        # March 5, 10:00: the draft is formed by the system user, preflighted, the approvers told.
        formed = e.tick(local(2027, 3, 5, 10))
        [cid] = formed.formed
        with e.rt.sessions() as s:
            c = s.get_one(Campaign, cid)
            assert c.state is CampaignState.DRAFT and c.created_by == "system-templates"
            assert c.list_id == imported.list_id
            assert (c.start_at, c.end_at) == (local(2027, 3, 7, 10), local(2027, 3, 12, 19))
            pf = c.preflight or {}
            # Sunday the 7th and the holiday on the 8th are closed: the first message leaves on the 9th.
            assert pf["first_send_at"] == local(2027, 3, 9, 10).isoformat()
            assert "start_outside_window" in [w["code"] for w in pf["warnings"]]
            notices = s.scalars(select(TemplateNotice).order_by(TemplateNotice.id)).all()
            assert sorted((n.kind, n.recipient, n.status) for n in notices) == [
                ("email", "boss@example.ru", "sent"), ("user", "boss", ""), ("user", "chief", "")]
            assert service.notices_for(s, "chief")[0]["campaign_id"] == cid
        window = window_of(month_settings)
        assert not window.allows(local(2027, 3, 7, 12)) and not window.allows(local(2027, 3, 8, 12))
        assert window.allows(local(2027, 3, 9, 12))
        [mail] = sink.messages
        parsed = message_from_bytes(mail.data, policy=email_policy.default)
        assert mail.rcpt_tos == ("boss@example.ru",) and "Долги 2027-03" in str(parsed["Subject"])
        body = parsed.get_body()
        assert body is not None and f"campaigns approve {cid}" in body.get_content()

        # The engine restarts again and ticks twice: nothing is formed twice, no e-mail sent twice.
        e.restart()
        again = e.tick(local(2027, 3, 5, 10, 5))
        assert again.formed == [] and e.tick(local(2027, 3, 5, 11)).formed == []
        assert _counts(e.rt) == (1, 1) and len(sink.messages) == 1

        # The specialist cannot approve (not a manager); a manager can: the system user is the author.
        with db.transaction(e.rt.sessions) as s, pytest.raises(PermissionDenied):
            campaigns.approve(s, cid, "spec")
        with db.transaction(e.rt.sessions) as s:
            campaigns.approve(s, cid, "boss", settings=month_settings, now=local(2027, 3, 6, 9))
        started = e.tick(local(2027, 3, 6, 9, 5))
        assert started.started == [cid]
        with e.rt.sessions() as s:
            c = s.get_one(Campaign, cid)
            assert c.state is CampaignState.SCHEDULED
            deliveries = s.scalar(select(func.count()).select_from(Delivery).where(Delivery.campaign_id == cid))
            assert deliveries == 5

        # March 8: the campaign is running (the dispatcher begins it at its start; nothing leaves on
        # the holiday) when a corrected export arrives: a new list, the campaign keeps its own.
        with db.transaction(e.rt.sessions) as s:
            assert campaigns.begin_due(s, local(2027, 3, 7, 10)) == [cid]
        write(folder / "debt_2027-03-fix.csv", HEADER + rows(range(1, 9), debt="99,00"))
        [fix] = e.settle(local(2027, 3, 8, 12))
        assert fix.state == "imported" and fix.list_id != imported.list_id
        e.tick(local(2027, 3, 8, 12, 5))
        with e.rt.sessions() as s:
            c = s.get_one(Campaign, cid)
            assert (c.list_id, c.state) == (imported.list_id, CampaignState.RUNNING)
            assert s.scalar(select(func.count()).select_from(Delivery).where(Delivery.campaign_id == cid)) == 5
        assert _counts(e.rt) == (1, 1)

        # April: the export comes, the draft is formed; nobody approves it.
        write(folder / "debt_2027-04.csv", HEADER + rows(range(1, 5)))
        [april_file] = e.settle(local(2027, 4, 1, 9))
        e.restart()
        [april] = e.tick(local(2027, 4, 5, 10, 1)).formed
        with e.rt.sessions() as s:
            assert s.get_one(Campaign, april).list_id == april_file.list_id  # not March's correction
        e.restart()
        assert e.tick(local(2027, 4, 7, 9, 59)).not_approved == []
        late = e.tick(local(2027, 4, 7, 10))
        assert late.not_approved == [april]
        with e.rt.sessions() as s:
            assert s.get_one(Campaign, april).state is CampaignState.CANCELLED
            assert s.scalar(select(func.count()).select_from(Delivery).where(Delivery.campaign_id == april)) == 0
            history = service.history(s, template_id)
        assert [(h["period"], h["state"]) for h in history] == [("2027-04", "not_approved"), ("2027-03", "started")]
        assert "not approved before its start 2027-04-07 10:00" in history[0]["detail"]
        assert "nothing was sent" in history[0]["detail"]
        assert _counts(e.rt) == (2, 2)
    finally:
        e.rt.close()


def test_period_without_export_says_so(month_settings: Settings) -> None:
    rt = open_runtime(month_settings)
    try:
        with db.transaction(rt.sessions) as s:
            add_user(s, "spec", Role.SPECIALIST)
            add_user(s, "boss", Role.MANAGER)
            service.create(s, name="Долги", scenario="debt_reminder", channels=[Channel.EMAIL],
                           source="drop:debt_*.csv", schedule=Schedule("monthly", 7, 12, 600, 1140, 2),
                           approvers=["boss"], notify_emails=[], actor="spec",
                           system_login=month_settings.templates.system_login)
        assert tick(rt, local(2027, 3, 6, 10)).waiting == ["Долги 2027-03"]
        assert tick(rt, local(2027, 3, 7, 10)).no_list == ["Долги 2027-03"]
        with rt.sessions() as s:
            [h] = service.history(s, "Долги")
        assert h["state"] == "no_list" and "no new import of drop:debt_*.csv" in h["detail"]
        assert tick(rt, local(2027, 3, 8, 10)).no_list == []  # said once
    finally:
        rt.close()


async def test_engine_jobs_rebuilt_from_the_database(month_settings: Settings) -> None:
    """The engine's scheduler holds a job per template at its next due moment, rebuilt at start:
    a restart loses none; a paused template has none."""
    rt = open_runtime(month_settings)
    clock = [local(2027, 3, 1, 12)]

    async def started_jobs() -> dict[str, datetime]:
        engine = Engine(rt, senders={}, options=EngineOptions(web=False, ivr=False))
        engine.templates.clock = lambda: clock[0]
        engine.templates.check = _no_check  # type: ignore[method-assign]
        await engine.scheduler.start()
        try:
            aps = engine.scheduler._aps
            return {j.id: j.next_run_time for j in aps.get_jobs() if j.id.startswith(("template", "drop"))}
        finally:
            engine.scheduler.shutdown()

    try:
        with db.transaction(rt.sessions) as s:
            add_user(s, "spec", Role.SPECIALIST)
            add_user(s, "boss", Role.MANAGER)
            t = service.create(s, name="Долги", scenario="debt_reminder", channels=[Channel.EMAIL],
                               source="drop:debt_*.csv", schedule=Schedule("monthly", 7, 12, 600, 1140, 2),
                               approvers=["boss"], notify_emails=[], actor="spec",
                               system_login=month_settings.templates.system_login)
            tid = t.id
        first = await started_jobs()
        assert first[f"template-{tid}"] == local(2027, 3, 5, 10)  # form the March draft
        assert {"templates-check", "drop-folder"} <= set(first)
        assert (await started_jobs())[f"template-{tid}"] == local(2027, 3, 5, 10)  # restarted: same
        clock[0] = local(2027, 3, 5, 10, 30)
        assert (await started_jobs())[f"template-{tid}"] == local(2027, 3, 7, 10)  # next: the start
        with db.transaction(rt.sessions) as s:
            service.pause(s, tid, "boss")
        assert f"template-{tid}" not in await started_jobs()
        assert TemplateJobs(rt, lambda: clock[0]).due() == {}
    finally:
        rt.close()


async def _no_check() -> None:
    """The jobs' schedule is the subject here, not what a check does."""
