"""What the campaign pages show, as plain data: the first render and every live update use the same
functions, so a page never shows numbers that the stream would not (AI-6, issue 12 item 1).

Counts come from grouped queries over one campaign's deliveries (by the campaign_id index); the
feed and the calls in progress from its newest and its open attempts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autoinform import campaigns
from autoinform.calendar import InformingWindow
from autoinform.models import (
    Attempt,
    AuditEntry,
    Campaign,
    Customer,
    Delivery,
    DeliveryState,
    Outcome,
    utcnow,
)
from autoinform.reasons import attempt_text
from autoinform.web.pages.common import Masker

RATE_WINDOW = timedelta(minutes=5)  # the rate per minute is over the last five minutes
FEED_SIZE = 20
IN_PROGRESS_SHOWN = 50
OVERVIEW_SIZE = 50
_OPEN = (DeliveryState.CLAIMED, DeliveryState.AWAITING)


def _blank() -> dict[str, int]:
    return {"total": 0, "pending": 0, "in_progress": 0, "positive": 0, "negative": 0}


def counts(session: Session, campaign_ids: Sequence[int], now: datetime) -> dict[int, dict[str, Any]]:
    """Per campaign: pending, in progress, positive, negative (and per channel), the rate per minute
    over RATE_WINDOW and the minutes left at that rate."""
    out: dict[int, dict[str, Any]] = {cid: _blank() | {"channels": {}} for cid in campaign_ids}
    if not campaign_ids:
        return out
    by = select(Delivery.campaign_id, Delivery.state, Delivery.outcome, Delivery.channel, func.count()).where(
        Delivery.campaign_id.in_(campaign_ids)).group_by(
        Delivery.campaign_id, Delivery.state, Delivery.outcome, Delivery.channel)
    channels: dict[int, dict[str, dict[str, int]]] = {cid: defaultdict(_blank) for cid in campaign_ids}
    for cid, state, outcome, channel, n in session.execute(by):
        c = out[cid]
        c["total"] += n
        if state is DeliveryState.DONE:
            key = "positive" if outcome is Outcome.POSITIVE else "negative"
            c[key] += n
            if channel is not None:  # ended before any channel was tried (no consent, paid): none
                channels[cid][channel.value][key] += n
                channels[cid][channel.value]["total"] += n
        elif state in _OPEN:
            c["in_progress"] += n
        else:
            c["pending"] += n
    # In progress per channel: the open attempts (a delivery's channel is written with its result).
    open_by = (select(Delivery.campaign_id, Attempt.channel, func.count())
               .join(Delivery, Delivery.id == Attempt.delivery_id)
               .where(Delivery.campaign_id.in_(campaign_ids), Delivery.state.in_(_OPEN),
                      Attempt.ended_at.is_(None))
               .group_by(Delivery.campaign_id, Attempt.channel))
    for cid, channel, n in session.execute(open_by):
        channels[cid][channel.value]["in_progress"] += n
        channels[cid][channel.value]["total"] += n
    recent = select(Delivery.campaign_id, func.count()).where(
        Delivery.campaign_id.in_(campaign_ids), Delivery.state == DeliveryState.DONE,
        Delivery.finished_at >= now - RATE_WINDOW).group_by(Delivery.campaign_id)
    done_recently = dict(session.execute(recent).all())
    for cid, c in out.items():
        c["channels"] = {ch: dict(v) | {"percent": _percent(v)} for ch, v in sorted(channels[cid].items())}
        rate = done_recently.get(cid, 0) / (RATE_WINDOW.total_seconds() / 60)
        left = c["pending"] + c["in_progress"]
        c["rate_per_min"] = round(rate, 1)
        c["minutes_left"] = round(left / rate, 1) if rate and left else (0 if not left else None)
        c["done"] = c["positive"] + c["negative"]
        c["percent"] = _percent(c)
    return out


def _percent(c: dict[str, Any]) -> dict[str, float]:
    """Each part's share of the total, for the bar's segments."""
    return {k: (100.0 * c[k] / c["total"] if c["total"] else 0.0) for k in ("positive", "negative", "in_progress",
                                                                          "pending")}


def _summary(c: Campaign) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "state": c.state.value, "channels": list(c.channels),
            "start_at": c.start_at.isoformat(), "end_at": c.end_at.isoformat(),
            "created_by": c.created_by, "approved_by": c.approved_by}


# Counts of campaigns that ended over RATE_WINDOW ago never change again (work still in flight at a
# cancel is ended within a housekeeping round): the campaigns page, recomputed on every change while
# it is open, counts each of them once per process rather than every time.
_SETTLED: dict[tuple[str, int, datetime], dict[str, Any]] = {}  # (database, campaign, its end) -> counts
_SETTLED_MAX = 5000


def _settled_key(database: str, c: Campaign, now: datetime) -> tuple[str, int, datetime] | None:
    if c.state in campaigns.FINAL and c.finished_at is not None and c.finished_at < now - RATE_WINDOW:
        return (database, c.id, c.finished_at)
    return None


def overview(session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    """The campaigns page: the newest campaigns with their counts."""
    now = now or utcnow()
    rows = session.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(OVERVIEW_SIZE)).all()
    database = str(session.get_bind().engine.url)
    keys = {c.id: _settled_key(database, c, now) for c in rows}
    by_id = counts(session, [c.id for c in rows if keys[c.id] is None or keys[c.id] not in _SETTLED], now)
    if len(_SETTLED) > _SETTLED_MAX:
        _SETTLED.clear()
    for cid, key in keys.items():
        if key is not None:
            by_id[cid] = _SETTLED.setdefault(key, by_id.get(cid) or {})
    return {"campaigns": [_summary(c) | {"counts": by_id[c.id]} for c in rows]}


def window_state(window: InformingWindow, now: datetime) -> dict[str, Any]:
    """Whether messages may leave now (AI-13) and, if not, when they may again: a running campaign
    that does not move says why."""
    if window.allows(now):
        return {"open": True, "opens_at": None}
    return {"open": False, "opens_at": window.next_allowed(now).astimezone(window.tz).isoformat(timespec="minutes")}


def board(session: Session, campaign_id: int, mask: Masker, *, now: datetime | None = None,
          window: InformingWindow | None = None) -> dict[str, Any]:
    """One campaign: state, counts, outcome reasons, the newest attempts and the calls in progress;
    with `window`, whether the informing window is open now."""
    now = now or utcnow()
    progress = campaigns.progress(session, campaign_id)
    c = campaigns.get(session, campaign_id)
    attempt_cols = (Attempt.id, Attempt.channel, Attempt.destination, Attempt.started_at, Attempt.ended_at,
                    Attempt.outcome, Attempt.reason, Attempt.detail, Attempt.disposition,
                    Customer.account, Customer.name)
    joined = (select(*attempt_cols).join(Delivery, Delivery.id == Attempt.delivery_id)
              .join(Customer, Customer.id == Delivery.customer_id)
              .where(Delivery.campaign_id == campaign_id))
    feed = [_attempt(r, mask) for r in session.execute(joined.order_by(Attempt.id.desc()).limit(FEED_SIZE))]
    open_q = joined.where(Delivery.state.in_(_OPEN), Attempt.ended_at.is_(None))
    in_progress = [_attempt(r, mask) for r in session.execute(open_q.order_by(Attempt.id).limit(IN_PROGRESS_SHOWN))]
    results = sorted(progress["results"], key=lambda r: (r["outcome"] or "", -r["count"]))
    return {**_summary(c), "counts": counts(session, [campaign_id], now)[campaign_id], "results": results,
            "feed": feed, "in_progress": in_progress, "preflight": c.preflight,
            "window": window_state(window, now) if window is not None else None}


def _attempt(row: Any, mask: Masker) -> dict[str, Any]:
    (aid, channel, destination, started, ended, outcome, reason, detail, disposition, account, name) = row
    return {"id": aid, "channel": channel.value, "destination": mask.contact(destination),
            "account": account, "name": mask.name(name), "started_at": started.isoformat(timespec="seconds"),
            "ended_at": ended.isoformat(timespec="seconds") if ended else None,
            "outcome": outcome.value if outcome else None,
            "reason": reason, "text": attempt_text(reason, detail, disposition) if ended else ""}


def decisions(session: Session, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's approval history: who formed, approved or rejected it, when, with what comment."""
    rows = session.scalars(select(AuditEntry).where(
        AuditEntry.entity == "campaign", AuditEntry.entity_id == str(campaign_id),
        AuditEntry.action.in_(("campaign.create", "campaign.approve", "campaign.reject")))
        .order_by(AuditEntry.id)).all()
    return [{"at": e.at.isoformat(timespec="seconds"), "actor": e.actor, "action": e.action.split(".")[1],
             "comment": str((e.detail or {}).get("comment", ""))} for e in rows]
