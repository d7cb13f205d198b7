"""Templates as data: create, list, show, pause, resume, history, and the approvers' notices.

Plain functions over a session, for the CLI (autoinform/cli/templates_cmd.py) and the web app's
pages alike; each change is checked against the actor's role and written with its audit entry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from autoinform.errors import AutoinformError, NotFoundError
from autoinform.models import (
    CampaignTemplate,
    Channel,
    Role,
    TemplateNotice,
    TemplateRun,
    User,
    utcnow,
)
from autoinform.templates.periods import PERIODS, Schedule, hhmm, next_moment
from autoinform.users import audit, require_role

SOURCE_KINDS = ("drop", "list")
APPROVING = (Role.MANAGER, Role.ADMIN)  # who can approve a campaign (campaigns.approve)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def schedule_of(t: CampaignTemplate) -> Schedule:
    return Schedule(period=t.period, first_day=t.first_day, last_day=t.last_day,  # type: ignore[arg-type]
                    start_minute=t.start_minute, end_minute=t.end_minute, form_days_before=t.form_days_before)


def parse_source(source: str) -> tuple[str, str]:
    """"drop:debt_*.csv" (a drop-folder file name) or "list:debt-*" (a list name, imported by hand)."""
    kind, sep, pattern = source.partition(":")
    if not sep or kind not in SOURCE_KINDS or not pattern.strip():
        raise AutoinformError(f"a list source is drop:GLOB or list:GLOB, not {source!r}")
    return kind, pattern.strip()


def get(session: Session, key: str | int) -> CampaignTemplate:
    """A template by name, or by id when `key` is a number and no template has that name."""
    found = session.scalar(select(CampaignTemplate).where(CampaignTemplate.name == str(key)))
    if found is None and str(key).isdigit():
        found = session.get(CampaignTemplate, int(key))
    if found is None:
        raise NotFoundError("template", key)
    return found


def _check_approvers(session: Session, approvers: Sequence[str], system_login: str) -> list[str]:
    """Logins of managers (or admins) and "role:manager"/"role:admin": whoever is named must be able
    to approve, and the system actor that forms the drafts never is one (AI-15)."""
    if not approvers:
        raise AutoinformError("name at least one approver (a manager's login, or role:manager)")
    checked: list[str] = []
    for a in approvers:
        a = a.strip()
        if a.startswith("role:"):
            try:
                role = Role(a[5:])
            except ValueError:
                raise AutoinformError(f"unknown role in {a!r}") from None
            if role not in APPROVING:
                raise AutoinformError(f"{a}: only managers (and admins) approve campaigns")
        else:
            if a == system_login:
                raise AutoinformError(f"{a} forms the drafts and cannot approve them (AI-15)")
            user = session.scalar(select(User).where(User.login == a))
            if user is None:
                raise NotFoundError("user", a)
            if user.role not in APPROVING:
                raise AutoinformError(f"{a} is {user.role.value}: only managers (and admins) approve campaigns")
        checked.append(a)
    return checked


def create(session: Session, *, name: str, scenario: str, channels: Sequence[Channel], source: str,
           schedule: Schedule, approvers: Sequence[str], notify_emails: Sequence[str], actor: str,
           system_login: str, scenario_channels: Sequence[Channel] | None = None) -> CampaignTemplate:
    """A specialist (or manager) describes a routine campaign once; its campaigns are formed from it
    every period, each a draft that a manager must approve. `scenario_channels`: the channels the
    scenario has content for, checked now rather than at 10:00 on the 10th."""
    require_role(session, actor, Role.SPECIALIST, Role.MANAGER)
    name = name.strip()
    if not name or len(name) > 100:
        raise AutoinformError("a template needs a name of 1 to 100 characters")
    if session.scalar(select(CampaignTemplate.id).where(CampaignTemplate.name == name)):
        raise AutoinformError(f"a template named {name!r} already exists")
    if not channels or len(set(channels)) != len(channels):
        raise AutoinformError("a channel chain of distinct channels is needed")
    if scenario_channels is not None:
        missing = [c.value for c in channels if c not in scenario_channels]
        if missing:
            raise AutoinformError(f"scenario {scenario} has no content for: {', '.join(missing)}")
    parse_source(source)
    emails = [e.strip() for e in notify_emails if e.strip()]
    bad = [e for e in emails if not EMAIL.fullmatch(e)]
    if bad:
        raise AutoinformError(f"not an e-mail address: {', '.join(bad)}")
    t = CampaignTemplate(name=name, scenario=scenario, channels=[c.value for c in channels], source=source.strip(),
                         period=schedule.period, first_day=schedule.first_day, last_day=schedule.last_day,
                         start_minute=schedule.start_minute, end_minute=schedule.end_minute,
                         form_days_before=schedule.form_days_before,
                         approvers=_check_approvers(session, approvers, system_login), notify_emails=emails,
                         paused=False, created_by=actor)
    session.add(t)
    session.flush()
    audit(session, actor, "template.create", "template", t.id, **describe(t))
    return t


def describe(t: CampaignTemplate) -> dict[str, Any]:
    s = schedule_of(t)
    unit = "of the month" if s.period == "monthly" else "of the week (1 = Monday)"
    return {"id": t.id, "name": t.name, "scenario": t.scenario, "channels": list(t.channels), "source": t.source,
            "period": t.period, "days": f"{t.first_day}-{t.last_day}", "hours": f"{hhmm(t.start_minute)}-"
            f"{hhmm(t.end_minute)}", "when": f"days {t.first_day}-{t.last_day} {unit}, "
            f"{hhmm(t.start_minute)}-{hhmm(t.end_minute)} local time; drafts {t.form_days_before} days before",
            "form_days_before": t.form_days_before, "approvers": list(t.approvers),
            "notify_emails": list(t.notify_emails), "paused": t.paused, "created_by": t.created_by}


def _set_paused(session: Session, key: str | int, actor: str, paused: bool) -> CampaignTemplate:
    require_role(session, actor, Role.SPECIALIST, Role.MANAGER)
    t = get(session, key)
    if t.paused == paused:
        raise AutoinformError(f"template {t.name} is {'already paused' if paused else 'not paused'}")
    t.paused = paused
    t.updated_at = utcnow()
    audit(session, actor, "template.pause" if paused else "template.resume", "template", t.id)
    return t


def pause(session: Session, key: str | int, actor: str) -> CampaignTemplate:
    """No campaign is formed from a paused template; one already formed goes on as it is."""
    return _set_paused(session, key, actor, True)


def resume(session: Session, key: str | int, actor: str) -> CampaignTemplate:
    return _set_paused(session, key, actor, False)


def run_info(r: TemplateRun) -> dict[str, Any]:
    return {"period": r.period_key, "state": r.state, "campaign_id": r.campaign_id, "list_id": r.list_id,
            "start_at": r.start_at.isoformat(), "end_at": r.end_at.isoformat(), "detail": r.detail,
            "created_at": r.created_at.isoformat(), "updated_at": r.updated_at.isoformat()}


def all_templates(session: Session) -> list[dict[str, Any]]:
    """Every template with its last period's state (the list page)."""
    out = []
    for t in session.scalars(select(CampaignTemplate).order_by(CampaignTemplate.name)):
        last = session.scalar(select(TemplateRun).where(TemplateRun.template_id == t.id)
                              .order_by(TemplateRun.start_at.desc()).limit(1))
        out.append({**describe(t), "last": run_info(last) if last else None})
    return out


def show(session: Session, key: str | int, tz: Any, now: Any = None) -> dict[str, Any]:
    """A template, when its next step is due, and its last periods."""
    t = get(session, key)
    upcoming = None if t.paused else next_moment(schedule_of(t), now or utcnow(), tz)
    return {**describe(t), "next_due_at": upcoming.isoformat() if upcoming else None,
            "history": history(session, key, limit=6)}


def history(session: Session, key: str | int, limit: int = 100) -> list[dict[str, Any]]:
    """Every period of the template, newest first: what was formed, and why not when it was not."""
    t = get(session, key)
    runs = session.scalars(select(TemplateRun).where(TemplateRun.template_id == t.id)
                           .order_by(TemplateRun.start_at.desc()).limit(limit))
    return [run_info(r) for r in runs]


def notices_for(session: Session, login: str, *, unread_only: bool = True) -> list[dict[str, Any]]:
    """The approval requests for a user (the web app's list): addressed to the login itself."""
    stmt = select(TemplateNotice).where(TemplateNotice.kind == "user", TemplateNotice.recipient == login)
    if unread_only:
        stmt = stmt.where(TemplateNotice.done_at.is_(None))
    return [{"id": n.id, "campaign_id": n.campaign_id, "text": n.text, "created_at": n.created_at.isoformat(),
             "read": n.done_at is not None} for n in session.scalars(stmt.order_by(TemplateNotice.id.desc()))]


def mark_read(session: Session, notice_id: int, login: str) -> None:
    n = session.scalar(select(TemplateNotice).where(TemplateNotice.id == notice_id, TemplateNotice.kind == "user",
                                                    TemplateNotice.recipient == login))
    if n is None:
        raise NotFoundError("notice", notice_id)
    if n.done_at is None:
        n.done_at = utcnow()
        n.status = "read"


def approver_logins(session: Session, approvers: Sequence[str]) -> list[str]:
    """The enabled users the approvers name now (roles resolved to their members)."""
    roles = [Role(a[5:]) for a in approvers if a.startswith("role:")]
    logins = [a for a in approvers if not a.startswith("role:")]
    conds = []
    if roles:
        conds.append(User.role.in_(roles))
    if logins:
        conds.append(User.login.in_(logins))
    if not conds:
        return []
    return list(session.scalars(select(User.login).where(User.disabled.is_(False), or_(*conds))
                                .order_by(User.login)))


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(CampaignTemplate)) or 0)


__all__ = ["PERIODS", "all_templates", "create", "get", "history", "notices_for", "pause", "resume", "show"]
