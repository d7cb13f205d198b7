"""Forming edge cases (issue 14 item 3): refused drafts, hand-imported sources, notices kept until sent."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from autoinform import db
from autoinform.importing.importer import import_list
from autoinform.models import Campaign, CampaignState, Channel, Role, TemplateNotice, utcnow
from autoinform.runtime import Runtime
from autoinform.templates import service
from autoinform.templates.forming import tick
from autoinform.templates.notify import send_pending
from autoinform.templates.periods import Schedule
from autoinform.users import add_user, set_disabled
from tests.fakes.smtp_sink import SmtpSink
from tests.templates.files import HEADER, rows, write
from tests.templates.test_month import local


def _template(rt: Runtime, *, channels: list[Channel], source: str, schedule: Schedule,
              notify: list[str] | None = None) -> int:
    with db.transaction(rt.sessions) as s:
        add_user(s, "spec", Role.SPECIALIST)
        add_user(s, "boss", Role.MANAGER)
        t = service.create(s, name="t", scenario="debt_reminder", channels=channels, source=source,
                           schedule=schedule, approvers=["boss"], notify_emails=notify or [], actor="spec",
                           system_login=rt.settings.templates.system_login)
        return t.id


def _soon(rt: Runtime) -> Schedule:
    """A weekly schedule whose next start is tomorrow 10:00 local and whose draft is due now."""
    tomorrow = (utcnow().astimezone(rt.settings.tz) + timedelta(days=1)).isoweekday()
    return Schedule("weekly", tomorrow, 7, 600, 1140, form_days_before=6)


def _drop_in(rt: Runtime, tmp_path: Path, name: str) -> int:
    """A list taken from the drop folder, as the watcher would."""
    from autoinform.templates.drop import DropWatcher

    folder = tmp_path / "drop"
    folder.mkdir(exist_ok=True)
    write(folder / name, HEADER + rows(range(1, 4)))
    w = DropWatcher(rt, rt.settings.drop_folder.model_copy(update={"path": folder, "settle_s": 0,
                                                                   "pattern": "debt_*.csv"}))
    w.poll(local(2027, 3, 1))
    [taken] = w.poll(local(2027, 3, 1, 0, 0, 1))
    assert taken.list_id is not None
    return taken.list_id


def test_a_draft_that_cannot_work_is_refused_with_why(sqlite_rt: Runtime, tmp_path: Path) -> None:
    """SMS is not configured: the preflight refuses, no campaign exists, the history gives the reason."""
    tid = _template(sqlite_rt, channels=[Channel.SMS], source="drop:debt_*.csv",
                    schedule=Schedule("monthly", 7, 12, 600, 1140, 2))
    _drop_in(sqlite_rt, tmp_path, "debt_03.csv")
    report = tick(sqlite_rt, local(2027, 3, 5, 10))
    assert report.refused == ["t 2027-03"] and report.formed == []
    with sqlite_rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Campaign)) == 0
        [h] = service.history(s, tid)
    assert h["state"] == "refused" and "sms not configured" in h["detail"]
    assert tick(sqlite_rt, local(2027, 3, 6, 10)).refused == []  # said once, not retried every tick


def test_disabled_system_user_forms_nothing(sqlite_rt: Runtime, tmp_path: Path) -> None:
    _template(sqlite_rt, channels=[Channel.EMAIL], source="drop:debt_*.csv",
              schedule=Schedule("monthly", 7, 12, 600, 1140, 2))
    _drop_in(sqlite_rt, tmp_path, "debt_03.csv")
    with db.transaction(sqlite_rt.sessions) as s:
        add_user(s, "system-templates", Role.SPECIALIST)
        set_disabled(s, "system-templates", True, actor="admin")
    assert tick(sqlite_rt, local(2027, 3, 5, 10)).refused == ["t 2027-03"]
    with sqlite_rt.sessions() as s:
        assert "disabled" in service.history(s, "t")[0]["detail"]


def test_hand_imported_list_source(sqlite_rt: Runtime, tmp_path: Path) -> None:
    """`list:GLOB`: the newest list imported by hand whose name matches; used once."""
    sqlite_rt.settings.scenario_constants = {"hotline_phone": "+78512000000"}
    _template(sqlite_rt, channels=[Channel.EMAIL], source="list:debt-*", schedule=_soon(sqlite_rt))
    f = write(tmp_path / "x.csv", HEADER + rows(range(1, 4)))
    import_list(sqlite_rt, f, "other-list")
    assert tick(sqlite_rt).formed == []  # no matching name yet
    report = import_list(sqlite_rt, f, "debt-this-week")
    [cid] = tick(sqlite_rt).formed
    with sqlite_rt.sessions() as s:
        c = s.get_one(Campaign, cid)
        assert (c.list_id, c.state) == (report.list_id, CampaignState.DRAFT)
    assert tick(sqlite_rt).formed == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_notice_waits_for_an_unreachable_relay(sqlite_rt: Runtime) -> None:
    sqlite_rt.settings.scenario_constants = {"hotline_phone": "+78512000000"}
    sqlite_rt.settings.smtp.port = _closed_port()
    sqlite_rt.settings.smtp.timeout = 2
    _template(sqlite_rt, channels=[Channel.EMAIL], source="list:debt-*", schedule=_soon(sqlite_rt),
              notify=["boss@example.ru"])
    path = Path(sqlite_rt.settings.var_dir) / "x.csv"
    import_list(sqlite_rt, write(path, HEADER + rows(range(1, 3))), "debt-1")
    assert len(tick(sqlite_rt).formed) == 1
    sent = asyncio.run(send_pending(sqlite_rt))
    assert (sent.sent, sent.waiting) == (0, 1)
    with sqlite_rt.sessions() as s:
        assert s.scalar(select(TemplateNotice.status).where(TemplateNotice.kind == "email")) == "pending"
    with SmtpSink() as sink:
        sqlite_rt.settings.smtp.port = sink.port
        assert asyncio.run(send_pending(sqlite_rt)).sent == 1
        assert asyncio.run(send_pending(sqlite_rt)).sent == 0  # once
        assert [m.rcpt_tos for m in sink.messages] == [("boss@example.ru",)]
