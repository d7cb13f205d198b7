"""The tick: what is due for every template at an instant, done once whatever the clock or restarts.

For each period whose draft may be formed or whose campaign may run (periods.open_periods):
- before the start: when the template's list source has an import newer than the previous period
  and not used by the template before, the campaign is formed as a draft by the system user (so
  any manager approving it is "not the author", AI-15), the preflight runs, and the approvers are
  notified (a row per approver for the web app, an e-mail per address); until then the period
  waits, and says so in the history;
- an approved draft is started (scheduled for its start; nothing leaves before it, and the informing
  window still closes Sundays and holidays inside the period);
- at the start, a draft nobody approved is cancelled (nothing was sent) and the history says why;
  a period whose list never came says so too.
Idempotent: the period's row is unique per template, locked while it changes, and every step
checks the state it starts from; ticking twice, or from two engines, does each thing once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from autoinform import campaigns, db
from autoinform.errors import AutoinformError
from autoinform.models import (
    Campaign,
    CampaignState,
    CampaignTemplate,
    Channel,
    ContactList,
    DropFile,
    Role,
    TemplateNotice,
    TemplateRun,
    User,
    utcnow,
)
from autoinform.templates.periods import Period, open_periods, previous
from autoinform.templates.service import approver_logins, parse_source, schedule_of
from autoinform.users import add_user, audit

if TYPE_CHECKING:
    from autoinform.config import Settings
    from autoinform.runtime import Runtime

log = logging.getLogger(__name__)

WAITING, FORMED, STARTED = "waiting", "formed", "started"
NOT_APPROVED, REFUSED, NO_LIST, CANCELLED = "not_approved", "refused", "no_list", "cancelled"
FINAL = (STARTED, NOT_APPROVED, REFUSED, NO_LIST, CANCELLED)


@dataclass
class TickReport:
    formed: list[int] = field(default_factory=list)  # campaign ids
    started: list[int] = field(default_factory=list)
    not_approved: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "template period"
    waiting: list[str] = field(default_factory=list)
    no_list: list[str] = field(default_factory=list)


def system_user(session: Session, login: str) -> str:
    """The specialist that forms templates' drafts: made on first use, without a password or token."""
    if session.scalar(select(User.id).where(User.login == login)) is None:
        add_user(session, login, Role.SPECIALIST, "Регулярные рассылки (системный пользователь)",
                 actor="templates")
        session.flush()
    return login


def new_list(session: Session, t: CampaignTemplate, p: Period, tz: object) -> ContactList | None:
    """The newest complete import of the template's source made since the previous period's end and
    not used by this template before (so last month's export is never sent again)."""
    kind, pattern = parse_source(t.source)
    since = previous(schedule_of(t), p, tz).end_at  # type: ignore[arg-type]
    used = select(TemplateRun.list_id).where(TemplateRun.template_id == t.id, TemplateRun.list_id.is_not(None))
    stmt: Select[ContactList, str]
    if kind == "drop":  # when the file was taken from the folder
        stmt = (select(ContactList, DropFile.name).join(DropFile, DropFile.list_id == ContactList.id)
                .where(DropFile.state == "imported", DropFile.received_at >= since))
    else:
        stmt = select(ContactList, ContactList.name).where(ContactList.created_at >= since)
    stmt = stmt.where(ContactList.complete.is_(True), ContactList.id.not_in(used)).order_by(ContactList.id.desc())
    for lst, name in session.execute(stmt):
        if fnmatchcase(name, pattern):
            return lst
    return None


def tick(rt: Runtime, now: datetime | None = None) -> TickReport:
    """Everything due at `now` for every template (see the module's docstring)."""
    now = now or utcnow()
    report = TickReport()
    with rt.sessions() as s:
        templates = [(t.id, schedule_of(t)) for t in s.scalars(select(CampaignTemplate).order_by(CampaignTemplate.id))]
    for template_id, schedule in templates:
        for p in open_periods(schedule, now, rt.settings.tz):
            try:
                _open_period(rt, template_id, p, now, report)
            except IntegrityError:
                log.info("template %s period %s: another engine acted first", template_id, p.key)
            except AutoinformError as exc:  # one template's trouble (its system user disabled…) stops no other
                log.error("template %s period %s: %s", template_id, p.key, exc)
    # Periods left open (a draft, or a wait for the list) are followed to their end even when the
    # engine was down through their whole span.
    with rt.sessions() as s:
        pending = list(s.scalars(select(TemplateRun.id).where(TemplateRun.state.in_((WAITING, FORMED)))
                                 .order_by(TemplateRun.id)))
    for run_id in pending:
        try:
            _follow_run(rt, run_id, now, report)
        except AutoinformError as exc:
            log.error("template period %s: %s", run_id, exc)
    return report


def _open_period(rt: Runtime, template_id: int, p: Period, now: datetime, report: TickReport) -> None:
    """Make the period's row (once), and form its draft when the list is there."""
    settings = rt.settings
    with db.transaction(rt.sessions) as s:
        t = s.get_one(CampaignTemplate, template_id)
        run = s.scalar(select(TemplateRun).where(TemplateRun.template_id == t.id, TemplateRun.period_key == p.key)
                       .with_for_update())
        if run is None:
            if t.paused or t.created_at >= p.start_at:
                return  # nothing formed from a paused template, nor for a period begun before it existed
            run = TemplateRun(template_id=t.id, period_key=p.key, start_at=p.start_at, end_at=p.end_at,
                              state=WAITING, detail=f"waiting for a new import of {t.source}")
            s.add(run)
            s.flush()  # IntegrityError here: another engine made the row first
        if run.state != WAITING or now >= p.start_at or t.paused:
            return
        lst = new_list(s, t, p, settings.tz)
        if lst is None:
            report.waiting.append(f"{t.name} {p.key}")
        else:
            _form(s, t, run, p, lst, settings, now, report)


def _follow_run(rt: Runtime, run_id: int, now: datetime, report: TickReport) -> None:
    settings = rt.settings
    with db.transaction(rt.sessions) as s:
        run = s.scalar(select(TemplateRun).where(TemplateRun.id == run_id).with_for_update())
        if run is None or (now < run.start_at and run.state == WAITING):
            return
        t = s.get_one(CampaignTemplate, run.template_id)
        p = Period(key=run.period_key, first=run.start_at.date(), last=run.end_at.date(), form_at=run.start_at,
                   start_at=run.start_at, end_at=run.end_at)
        if run.state == WAITING:
            _close(s, run, NO_LIST, f"no new import of {t.source} was formed into a draft before the start "
                   f"({p.start_at.astimezone(settings.tz):%Y-%m-%d %H:%M}); nothing was sent")
            report.no_list.append(f"{t.name} {p.key}")
        elif run.state == FORMED and run.campaign_id is not None:
            _follow(s, t, run, p, settings, now, report)


def _close(s: Session, run: TemplateRun, state: str, detail: str) -> None:
    run.state, run.detail, run.updated_at = state, detail[:2000], utcnow()
    audit(s, "templates", f"template.{state}", "template", run.template_id, period=run.period_key, detail=detail)


def _form(s: Session, t: CampaignTemplate, run: TemplateRun, p: Period, lst: ContactList, settings: Settings,
          now: datetime, report: TickReport) -> None:
    """The draft, by the system user, preflighted; refused (with every reason) when it cannot work."""
    from autoinform.preflight import PreflightError
    from autoinform.scenarios import load_scenario
    from autoinform.scenarios.store import snapshot

    actor = system_user(s, settings.templates.system_login)
    run.list_id = lst.id
    try:
        with s.begin_nested():
            sc = load_scenario(settings.scenarios_dir / f"{t.scenario}.yaml")
            version = snapshot(s, sc)
            c = campaigns.create(s, name=f"{t.name} {p.key}"[:200], scenario=version, contact_list=lst,
                                 channels=[Channel(ch) for ch in t.channels], start_at=p.start_at, end_at=p.end_at,
                                 actor=actor, supported=list(sc.channels), groups=sc.spec.groups,
                                 settings=settings, now=now)
    except PreflightError as exc:
        reasons = "; ".join(f.message for f in exc.result.errors)
        _close(s, run, REFUSED, f"list {lst.name!r} (id {lst.id}): the campaign cannot work: {reasons}")
        report.refused.append(f"{t.name} {p.key}")
        return
    except AutoinformError as exc:
        _close(s, run, REFUSED, f"list {lst.name!r} (id {lst.id}): {exc}")
        report.refused.append(f"{t.name} {p.key}")
        return
    run.campaign_id = c.id
    _close(s, run, FORMED, f"campaign {c.id} formed from list {lst.name!r} (id {lst.id}: {lst.rows_imported} rows, "
           f"{lst.rows_rejected} rejected) and waits for approval before "
           f"{p.start_at.astimezone(settings.tz):%Y-%m-%d %H:%M}")
    _notify(s, t, run, c, lst, p, settings)
    report.formed.append(c.id)


def _notify(s: Session, t: CampaignTemplate, run: TemplateRun, c: Campaign, lst: ContactList, p: Period,
            settings: Settings) -> None:
    """A row for each approver (the web app lists them) and an e-mail per address, sent after commit."""
    tz = settings.tz
    warnings = [w.get("message", "") for w in (c.preflight or {}).get("warnings", [])]
    text = "\n".join([
        f"Рассылка «{c.name}» (кампания {c.id}) сформирована по шаблону «{t.name}» и ждёт утверждения.",
        f"Период: {p.start_at.astimezone(tz):%d.%m.%Y %H:%M} — {p.end_at.astimezone(tz):%d.%m.%Y %H:%M}; "
        f"каналы: {', '.join(t.channels)}; сценарий: {t.scenario}.",
        f"Список: {lst.name} (строк {lst.rows_imported}, отклонено {lst.rows_rejected}).",
        *(f"Предупреждение: {w}" for w in warnings),
        f"Не утверждённая до {p.start_at.astimezone(tz):%d.%m.%Y %H:%M} рассылка не будет проведена.",
        f"Утвердить: autoinform campaigns approve {c.id} (или в веб-приложении).",
    ])[:2000]
    for login in approver_logins(s, t.approvers):
        s.add(TemplateNotice(run_id=run.id, campaign_id=c.id, recipient=login, kind="user", text=text, status=""))
    for address in t.notify_emails:
        s.add(TemplateNotice(run_id=run.id, campaign_id=c.id, recipient=address, kind="email", text=text,
                             status="pending"))


def _follow(s: Session, t: CampaignTemplate, run: TemplateRun, p: Period, settings: Settings, now: datetime,
            report: TickReport) -> None:
    """A formed draft: started once approved; cancelled at the start when nobody approved it."""
    c = campaigns.get(s, run.campaign_id or 0, lock=True)
    actor = settings.templates.system_login
    if c.state is CampaignState.APPROVED and c.approved_at is not None and c.approved_at <= p.start_at:
        try:
            with s.begin_nested():
                n = campaigns.start(s, c.id, actor, now, settings=settings)
        except AutoinformError as exc:
            campaigns.cancel(s, c.id, actor)
            _close(s, run, REFUSED, f"campaign {c.id} approved by {c.approved_by} but it cannot start: {exc}; "
                   "cancelled, nothing was sent")
            report.refused.append(f"{t.name} {p.key}")
            return
        _close(s, run, STARTED, f"campaign {c.id} approved by {c.approved_by}; scheduled with {n} deliveries "
               f"from {p.start_at.astimezone(settings.tz):%Y-%m-%d %H:%M}")
        report.started.append(c.id)
    elif c.state in (CampaignState.DRAFT, CampaignState.APPROVED) and now >= p.start_at:
        late = (f" (approved by {c.approved_by} at {c.approved_at.astimezone(settings.tz):%Y-%m-%d %H:%M}, "
                "after the start)") if c.approved_at else ""
        campaigns.cancel(s, c.id, actor)
        _close(s, run, NOT_APPROVED, f"campaign {c.id} was not approved before its start "
               f"{p.start_at.astimezone(settings.tz):%Y-%m-%d %H:%M}{late}; cancelled, nothing was sent")
        report.not_approved.append(c.id)
    elif c.state is CampaignState.CANCELLED:
        _close(s, run, CANCELLED, f"campaign {c.id} was cancelled before it started")
    elif c.state in campaigns.ACTIVE:  # started by a person (`campaigns start`) after approval
        _close(s, run, STARTED, f"campaign {c.id} approved by {c.approved_by} and started by hand")
        report.started.append(c.id)
