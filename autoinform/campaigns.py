"""Campaign lifecycle (AI-7, AI-15): draft → approved → scheduled → running ⇄ paused → end states.

The allowed transitions are data (TRANSITIONS); every operation checks roles, changes state in one
transaction with its audit entry, and materialises or finalises deliveries in set-based SQL so that
a million-row list costs one statement, not a million objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, func, insert, literal, select, update
from sqlalchemy.orm import Session, object_session

from autoinform.changes import announce
from autoinform.errors import AutoinformError, CampaignStateError, NotFoundError, PermissionDenied
from autoinform.models import (
    Campaign,
    CampaignState,
    Channel,
    ContactList,
    Customer,
    Delivery,
    DeliveryState,
    ListRow,
    Outcome,
    Role,
    ScenarioVersion,
    utcnow,
)
from autoinform.reasons import describe
from autoinform.sendgate import CAMPAIGNS, bump
from autoinform.users import audit, require_role

if TYPE_CHECKING:
    from autoinform.config import Settings
    from autoinform.preflight import Preflight

S = CampaignState
TRANSITIONS: dict[str, dict[CampaignState, CampaignState]] = {
    "approve": {S.DRAFT: S.APPROVED},
    "schedule": {S.APPROVED: S.SCHEDULED},
    "begin": {S.SCHEDULED: S.RUNNING},
    "pause": {S.RUNNING: S.PAUSED, S.SCHEDULED: S.PAUSED},
    "resume": {S.PAUSED: S.RUNNING},
    "cancel": {s: S.CANCELLED for s in (S.DRAFT, S.APPROVED, S.SCHEDULED, S.RUNNING, S.PAUSED)},
    "complete": {S.RUNNING: S.COMPLETED},
    "expire": {S.SCHEDULED: S.EXPIRED, S.RUNNING: S.EXPIRED, S.PAUSED: S.EXPIRED},
}
ACTIVE = (S.SCHEDULED, S.RUNNING, S.PAUSED)
FINAL = (S.COMPLETED, S.CANCELLED, S.EXPIRED)


def _transition(campaign: Campaign, action: str) -> CampaignState:
    new = TRANSITIONS[action].get(campaign.state)
    if new is None:
        raise CampaignStateError(campaign.id, campaign.state.value, action)
    _set_state(campaign, new)
    return new


def _set_state(campaign: Campaign, new: CampaignState) -> None:
    """Every state change is counted, so a message about to leave sees it (sendgate.py)."""
    session = object_session(campaign)
    if session is not None:
        bump(session, CAMPAIGNS)
        announce(session, [campaign.id], counted=True)  # open pages (autoinform/changes.py)
    campaign.state = new


def get(session: Session, campaign_id: int, *, lock: bool = False) -> Campaign:
    stmt = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        stmt = stmt.with_for_update()
    campaign = session.scalar(stmt)
    if campaign is None:
        raise NotFoundError("campaign", campaign_id)
    return campaign


def create(session: Session, *, name: str, scenario: ScenarioVersion, contact_list: ContactList,
           channels: Sequence[Channel], start_at: datetime, end_at: datetime, actor: str,
           supported: Sequence[Channel] | None = None, groups: Sequence[int] | None = None,
           settings: Settings | None = None, now: datetime | None = None) -> Campaign:
    """A specialist forms a campaign from a stored scenario version and an imported list.

    `supported` and `groups` are the scenario's channels and customer groups: a list reaching
    outside them is refused now rather than failing customer by customer at send time. With
    `settings`, the preflight (autoinform/preflight.py) runs and refuses a campaign that cannot work;
    its warnings are kept with the campaign (issue 9 item 1)."""
    require_role(session, actor, Role.SPECIALIST)
    if not channels:
        raise AutoinformError("a campaign needs at least one channel")
    if len(set(channels)) != len(channels):
        raise AutoinformError("a channel appears twice in the fallback chain")
    if supported is not None:
        missing = [c.value for c in channels if c not in supported]
        if missing:
            raise AutoinformError(f"scenario {scenario.name} has no content for: {', '.join(missing)}")
    if start_at >= end_at:
        raise AutoinformError("the campaign must start before it ends")
    if not contact_list.complete:
        raise AutoinformError(f"list {contact_list.name!r} was not fully imported")
    if groups is not None:
        outside = session.scalar(select(func.count()).select_from(ListRow)
                                 .join(Customer, Customer.id == ListRow.customer_id)
                                 .where(ListRow.list_id == contact_list.id, Customer.group.not_in(groups)))
        if outside:
            raise AutoinformError(f"scenario {scenario.name} is for customer groups "
                                  f"{', '.join(map(str, groups))} only; {outside} rows of the list are not")
    campaign = Campaign(name=name, scenario_id=scenario.id, list_id=contact_list.id,
                        channels=[c.value for c in channels], start_at=start_at, end_at=end_at,
                        created_by=actor, state=S.DRAFT)
    session.add(campaign)
    session.flush()
    checked = _preflight(session, campaign, settings, "create", now)
    audit(session, actor, "campaign.create", "campaign", campaign.id, name=name,
          scenario=f"{scenario.name} v{scenario.version}", list=contact_list.name,
          channels=campaign.channels, start_at=start_at.isoformat(), end_at=end_at.isoformat(), **checked)
    return campaign


def _preflight(session: Session, campaign: Campaign, settings: Settings | None, step: str,
               now: datetime | None, probes: Mapping[Channel, str] | None = None) -> dict[str, Any]:
    """Run the preflight when settings are given (every entry point does; bare unit tests need not):
    raises PreflightError on errors; returns the warning codes for the audit entry."""
    if settings is None:
        return {}
    from autoinform.preflight import enforce

    result: Preflight = enforce(session, campaign, settings, step=step, now=now, probes=probes)
    return {"warnings": [w.code for w in result.warnings]}


def approve(session: Session, campaign_id: int, actor: str, *, settings: Settings | None = None,
            now: datetime | None = None, comment: str = "") -> Campaign:
    """A manager other than the author approves the list and the message (AI-15). With `settings`
    the preflight runs again: a campaign that cannot work is refused, and the warnings the approver
    accepts are in the audit entry (issue 9 item 1). `comment`, if any, is kept in that entry."""
    campaign = _decidable(session, campaign_id, actor, "approve")
    checked = _preflight(session, campaign, settings, "approve", now)
    _transition(campaign, "approve")
    campaign.approved_by = actor
    campaign.approved_at = utcnow()
    audit(session, actor, "campaign.approve", "campaign", campaign.id, **checked,
          **({"comment": comment} if comment else {}))
    return campaign


def reject(session: Session, campaign_id: int, actor: str, *, comment: str) -> Campaign:
    """A manager other than the author turns a draft down, saying why (AI-15): it ends cancelled
    (nothing was sent; the specialist forms a corrected one), the comment in the audit log."""
    if not comment.strip():
        raise AutoinformError("a rejection needs a comment saying why")
    campaign = _decidable(session, campaign_id, actor, "reject")
    _transition(campaign, "cancel")
    campaign.finished_at = utcnow()
    audit(session, actor, "campaign.reject", "campaign", campaign.id, comment=comment.strip())
    return campaign


def _decidable(session: Session, campaign_id: int, actor: str, action: str) -> Campaign:
    """A draft that `actor`, a manager who is not its author, may approve or reject (AI-15)."""
    require_role(session, actor, Role.MANAGER)
    campaign = get(session, campaign_id, lock=True)
    if campaign.created_by == actor:
        raise PermissionDenied(f"the author of a campaign cannot {action} it (AI-15)")
    if S.APPROVED is not TRANSITIONS["approve"].get(campaign.state):
        raise CampaignStateError(campaign.id, campaign.state.value, action)
    return campaign


def start(session: Session, campaign_id: int, actor: str, now: datetime | None = None, *,
          unavailable: Mapping[Channel, str] | None = None, settings: Settings | None = None,
          probes: Mapping[Channel, str] | None = None) -> int:
    """Schedule an approved campaign: one pending delivery per list row. Returns how many.

    `unavailable`: channels the installation cannot send on, with why (channels.unavailable_channels);
    a chain naming one is refused here, not failed customer by customer (issue 8 item 3).
    `settings`: run the preflight (which covers `unavailable` too) with `probes`, the channels found
    not answering (preflight.probe_channels), refusing a campaign that cannot work (issue 9 item 1)."""
    require_role(session, actor, Role.SPECIALIST, Role.MANAGER)
    now = now or utcnow()
    campaign = get(session, campaign_id, lock=True)
    if campaign.end_at <= now:
        raise AutoinformError(f"campaign {campaign.id} ended at {campaign.end_at.isoformat()}")
    unavailable = unavailable or {}
    blocked = [f"{c}: {unavailable[Channel(c)]}" for c in campaign.channels if Channel(c) in unavailable]
    if blocked:
        raise AutoinformError(f"campaign {campaign.id} cannot start: its channels include one this installation "
                              f"cannot send on ({'; '.join(blocked)}). Complete the settings, or form the "
                              "campaign without that channel")
    if S.SCHEDULED is not TRANSITIONS["schedule"].get(campaign.state):
        raise CampaignStateError(campaign.id, campaign.state.value, "schedule")
    checked = _preflight(session, campaign, settings, "start", now, probes)
    _transition(campaign, "schedule")
    first = max(campaign.start_at, now)
    rows = select(
        literal(campaign.id), ListRow.customer_id, ListRow.id,
        literal(DeliveryState.PENDING.value), literal(first.astimezone(UTC).replace(tzinfo=None)),
        literal(0), literal(0),
    ).where(ListRow.list_id == campaign.list_id)
    session.execute(insert(Delivery).from_select(
        ["campaign_id", "customer_id", "list_row_id", "state", "next_attempt_at", "attempts",
         "channel_index"], rows))
    # rowcount of INSERT ... SELECT is not reported by every driver: count what is there.
    count = int(session.scalar(select(func.count()).select_from(Delivery)
                               .where(Delivery.campaign_id == campaign.id)) or 0)
    audit(session, actor, "campaign.start", "campaign", campaign.id, deliveries=count, **checked)
    if campaign.start_at <= now:
        _transition(campaign, "begin")
    return count


def begin_due(session: Session, now: datetime) -> list[int]:
    """Scheduled campaigns whose start time has come begin running."""
    due = session.scalars(select(Campaign).where(Campaign.state == S.SCHEDULED,
                                                 Campaign.start_at <= now).with_for_update()).all()
    for c in due:
        _transition(c, "begin")
        audit(session, "scheduler", "campaign.begin", "campaign", c.id)
    return [c.id for c in due]


def pause(session: Session, campaign_id: int, actor: str) -> Campaign:
    require_role(session, actor, Role.SPECIALIST, Role.MANAGER)
    campaign = get(session, campaign_id, lock=True)
    _transition(campaign, "pause")
    audit(session, actor, "campaign.pause", "campaign", campaign.id)
    return campaign


def resume(session: Session, campaign_id: int, actor: str) -> Campaign:
    require_role(session, actor, Role.SPECIALIST, Role.MANAGER)
    campaign = get(session, campaign_id, lock=True)
    target = TRANSITIONS["resume"].get(campaign.state)
    if target is S.RUNNING and campaign.start_at > utcnow():
        target = S.SCHEDULED  # paused before its start: back to waiting for it
        _set_state(campaign, target)
    else:
        _transition(campaign, "resume")
    audit(session, actor, "campaign.resume", "campaign", campaign.id)
    return campaign


def cancel(session: Session, campaign_id: int, actor: str) -> int:
    """Cancel; every delivery not yet final ends negative with reason `cancelled`."""
    require_role(session, actor, Role.SPECIALIST, Role.MANAGER)
    campaign = get(session, campaign_id, lock=True)
    _transition(campaign, "cancel")
    campaign.finished_at = utcnow()
    n = finalize_open(session, campaign.id, "cancelled", states=(DeliveryState.PENDING,))
    audit(session, actor, "campaign.cancel", "campaign", campaign.id, finalized=n)
    return n


def finalize_open(session: Session, campaign_id: int, reason: str,
                  states: Sequence[DeliveryState] = (DeliveryState.PENDING,)) -> int:
    """End every delivery in `states` negative with `reason` (set-based)."""
    result = cast(CursorResult[Any], session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.state.in_(states))
        .values(state=DeliveryState.DONE, outcome=Outcome.NEGATIVE, reason=reason,
                finished_at=utcnow(), lease_owner=None, lease_until=None)
    ))
    return int(result.rowcount or 0)


def close_due(session: Session, now: datetime) -> dict[int, str]:
    """End campaigns: expired past their end time, completed when nothing is left open."""
    _finalize_late(session)
    closed: dict[int, str] = {}
    for c in session.scalars(select(Campaign).where(Campaign.state.in_(ACTIVE)).with_for_update()):
        if c.end_at <= now:
            n = finalize_open(session, c.id, "window_closed")
            _transition(c, "expire")
            c.finished_at = now
            audit(session, "scheduler", "campaign.expire", "campaign", c.id, window_closed=n)
            closed[c.id] = c.state.value
        elif c.state is S.RUNNING and open_count(session, c.id) == 0:
            _transition(c, "complete")
            c.finished_at = now
            audit(session, "scheduler", "campaign.complete", "campaign", c.id)
            closed[c.id] = c.state.value
    return closed


def _finalize_late(session: Session) -> None:
    """Work that was in flight when its campaign was cancelled or expired (a send that came back
    for a retry, an SMS report asking for a fallback) went back to pending; nothing will claim it
    again, so it ends here with the reason its campaign ended."""
    for state, reason in ((S.CANCELLED, "cancelled"), (S.EXPIRED, "window_closed")):
        session.execute(
            update(Delivery)
            .where(Delivery.state == DeliveryState.PENDING,
                   Delivery.campaign_id.in_(select(Campaign.id).where(Campaign.state == state)))
            .values(state=DeliveryState.DONE, outcome=Outcome.NEGATIVE, reason=reason, finished_at=utcnow(),
                    lease_owner=None, lease_until=None))


def open_count(session: Session, campaign_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.campaign_id == campaign_id, Delivery.state != DeliveryState.DONE)) or 0)


def progress(session: Session, campaign_id: int) -> dict[str, Any]:
    """Counts by state and by final outcome/reason: the data behind reports and the dashboard."""
    campaign = get(session, campaign_id)
    by_state = dict(session.execute(
        select(Delivery.state, func.count()).where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.state)).all())
    by_result = session.execute(
        select(Delivery.outcome, Delivery.reason, Delivery.reason_text, func.count())
        .where(Delivery.campaign_id == campaign_id, Delivery.state == DeliveryState.DONE)
        .group_by(Delivery.outcome, Delivery.reason, Delivery.reason_text)).all()
    return {
        "id": campaign.id,
        "name": campaign.name,
        "state": campaign.state.value,
        "channels": campaign.channels,
        "start_at": campaign.start_at.isoformat(),
        "end_at": campaign.end_at.isoformat(),
        "created_by": campaign.created_by,
        "approved_by": campaign.approved_by,
        "preflight": campaign.preflight,
        "deliveries": {s.value: int(n) for s, n in by_state.items()},
        "total": int(sum(by_state.values())),
        # By outcome and reason code, and within a code by its words ("missing variable debt" and
        # "missing variable hotline_phone" are two lines of `missing_variable`): issue 9 item 2.
        "results": [
            {"outcome": o.value if o else None, "reason": r, "count": int(n), "text": describe(r, t)}
            for o, r, t, n in by_result
        ],
    }
