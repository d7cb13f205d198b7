"""Database side of dispatching: claim due deliveries under a lease, record attempts, apply results.

Every function is synchronous and runs in one transaction (the async dispatcher calls them in a
worker thread). Invariants:
- an Attempt row is committed before its message leaves (record-before-send), and its result is
  written after; a crash in between leaves an open attempt that recovery marks `interrupted`, and
  the next attempt of that delivery is recorded as a possible duplicate of it;
- a delivery is DONE exactly once, with an outcome and a reason (AI-14).
"""

from __future__ import annotations

import logging
import os
import socket
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from autoinform.bulk import BulkStatement
from autoinform.calendar import InformingWindow
from autoinform.changes import announce
from autoinform.channels.base import ProviderStatus, SendResult
from autoinform.content import Content, EmailContent, PhoneContent, Recipient, SmsContent
from autoinform.errors import AutoinformError, ConfigError, SkipDelivery
from autoinform.logs import scrub
from autoinform.models import (
    Attempt,
    Campaign,
    CampaignState,
    Channel,
    ContactList,
    ContactPoint,
    Customer,
    Delivery,
    DeliveryState,
    Division,
    EngineWorker,
    ListRow,
    ListRowContact,
    Outcome,
    ProviderEvent,
    StopEntry,
)
from autoinform.policy import RetryPolicy, Verdict
from autoinform.routing import Contact, Route, route

log = logging.getLogger(__name__)
ATTEMPTS = cast(Table, Attempt.__table__)  # Core statements: the ORM's bulk paths cost more per row
DELIVERIES = cast(Table, Delivery.__table__)
_NEW_ATTEMPT = BulkStatement.insert(ATTEMPTS, ["delivery_id", "channel", "destination", "worker", "started_at",
                                               "ended_at", "outcome", "reason", "content", "duplicate_of",
                                               "detail", "retry"])


class Renderer(Protocol):
    def render(self, scenario_id: int, channel: Channel, recipient: Recipient) -> Content: ...


@dataclass(frozen=True)
class Work:
    """One claimed delivery, rendered and recorded, ready to send."""

    delivery_id: int
    attempt_id: int
    campaign_id: int
    channel: Channel
    destination: str
    content: Content
    recipient_name: str
    end_at: datetime
    attempts_done: int  # on this channel, before this attempt
    chain_index: int
    has_fallback: bool
    # What the send gate compares at the instant of sending (sendgate.py).
    account: str = ""
    list_created: datetime | None = None
    stops_seen: int = 0  # the stop list's highest id when this work was claimed
    interrupted: Interrupted | None = None  # the crashed attempt this one may duplicate


@dataclass
class ClaimReport:
    work: list[Work] = field(default_factory=list)
    deferred: int = 0  # outside the informing window: moved to the next opening
    finalized: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # reason → count
    # Routed to a channel this engine cannot send on: left pending for an engine that can, or for
    # the settings to be completed (issue 8 item 3). Channel → count.
    unavailable: dict[Channel, int] = field(default_factory=lambda: defaultdict(int))
    lease_until: datetime | None = None
    stops_seen: int = 0
    # Deliveries that could not be rendered, by (campaign, reason code, words): the dispatcher logs
    # each distinct one once per campaign, not once per message (issue 9 item 2).
    failures: dict[tuple[int, str, str], int] = field(default_factory=lambda: defaultdict(int))
    # Phone deliveries over a per-customer call limit (CallLimits): released to the earliest
    # instant the limits allow, not failed (issue 10 part 2).
    limited: int = 0


@dataclass(frozen=True)
class CallLimits:
    """Per-customer call limits (AI-13, issue 10 part 2): at most `per_day` call attempts per
    customer per local day of the window's time zone (0: none), and at least `min_interval`
    between two calls to the same number."""

    per_day: int = 0
    min_interval: timedelta = timedelta(0)

    @property
    def active(self) -> bool:
        return self.per_day > 0 or self.min_interval > timedelta(0)


def render_failure(exc: AutoinformError) -> tuple[str, str]:
    """A render error as (reason code, words): `missing_variable` / "missing variable hotline_phone",
    or `render_error` with what the renderer said."""
    field_name, detail = getattr(exc, "field", None), getattr(exc, "detail", str(exc))
    if field_name and (detail.startswith("missing required variable") or detail.startswith("the customer has no ")):
        return "missing_variable", f"missing variable {field_name}"
    # Reports carry counts and these words only: a phone or address quoted from the row is masked.
    return "render_error", scrub(f"{field_name}: {detail}" if field_name else str(detail))[:300]


# How long work routed to a channel this engine cannot send on waits before it is looked at again.
CHANNEL_WAIT = timedelta(seconds=60)


def content_text(content: Content) -> str:
    """The exact words sent or spoken, stored with the attempt as evidence (AI-2)."""
    if isinstance(content, EmailContent):
        return f"Subject: {content.subject}\n\n{content.text}"
    if isinstance(content, SmsContent):
        return content.text
    if isinstance(content, PhoneContent):
        return "\n".join(f"[{s.id}] {s.text}" for s in content.steps)
    raise TypeError(type(content))


@dataclass(frozen=True)
class _Leased:
    """A delivery row as the claim's UPDATE ... RETURNING gives it back."""

    id: int
    campaign_id: int
    customer_id: int
    list_row_id: int
    channel_index: int
    attempts: int


@dataclass(frozen=True)
class _CampaignFacts:
    """What every delivery of one campaign shares: read once per claim, not once per row."""

    channels: list[Channel]
    end_at: datetime
    scenario_id: int
    list_created: datetime


# The claim's statements are built once: constructing them per claim cost about 1 ms of Python.
def _in_ids(column: Any) -> Any:
    return column.in_(bindparam("ids", expanding=True))


def _lease_statement(*, skip_locked: bool) -> Any:
    due = (
        select(Delivery.id)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Campaign.state == CampaignState.RUNNING, Delivery.state == DeliveryState.PENDING,
               Delivery.next_attempt_at <= bindparam("now"))
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(bindparam("limit"))
    )
    if skip_locked:
        due = due.with_for_update(of=Delivery, skip_locked=True)
    # One statement: on SQLite the write lock is taken at once (no stale-snapshot upgrade), on
    # PostgreSQL SKIP LOCKED lets several workers claim side by side without claiming twice.
    # No second state test outside the subquery: the rows it yields are already pending and ours
    # (write lock on SQLite, row locks on PostgreSQL), and on SQLite that test made the planner
    # walk every pending delivery by the state index, a cost growing with the campaign.
    return (
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(state=DeliveryState.CLAIMED, lease_owner=bindparam("worker"),
                lease_until=bindparam("lease_until"))
        .returning(Delivery.id, Delivery.campaign_id, Delivery.customer_id, Delivery.list_row_id,
                   Delivery.channel_index, Delivery.attempts)
    )


_LEASE = _lease_statement(skip_locked=False)
_LEASE_SKIP_LOCKED = _lease_statement(skip_locked=True)
_CAMPAIGN_FACTS = (select(Campaign.id, Campaign.channels, Campaign.end_at, Campaign.scenario_id,
                          ContactList.created_at)
                   .join(ContactList, ContactList.id == Campaign.list_id)
                   .where(_in_ids(Campaign.id)))
_PEOPLE = (select(Customer.id, Customer.account, Customer.name, Customer.group, Customer.address,
                  Customer.preferred_channel, Division.name)
           .outerjoin(Division, Division.id == Customer.division_id)
           .where(_in_ids(Customer.id)))
_VARIABLES = select(ListRow.id, ListRow.variables).where(_in_ids(ListRow.id))
# A delivery writes only to the contacts its own list row gave, in the row's order, never to one a
# newer import superseded (AI-11, issue 8 item 4); opt-outs are routing's to enforce. Two lookups by
# primary key rather than one join: without fresh statistics (just after an import) PostgreSQL
# planned the join as a scan of every contact point per claim.
_ROW_LINKS = (select(ListRowContact.list_row_id, ListRowContact.contact_point_id)
              .where(_in_ids(ListRowContact.list_row_id))
              .order_by(ListRowContact.list_row_id, ListRowContact.position))
_CONTACTS = (select(ContactPoint.id, ContactPoint.channel, ContactPoint.value, ContactPoint.line_type,
                    ContactPoint.source, ContactPoint.consent, ContactPoint.opted_out_at, ContactPoint.superseded_at)
             .where(_in_ids(ContactPoint.id)))


def _row_contacts(conn: Connection, list_row_ids: Sequence[int]) -> dict[int, list[Contact]]:
    """Each list row's current contacts, in the row's order."""
    links = conn.execute(_ROW_LINKS, {"ids": list(set(list_row_ids))}).all()
    points = {cp[0]: Contact(cp[1], cp[2], cp[3], cp[4], cp[5], cp[6] is not None)
              for cp in conn.execute(_CONTACTS, {"ids": list({cp_id for _, cp_id in links})}).all()
              if cp[7] is None}
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for row_id, cp_id in links:
        c = points.get(cp_id)
        if c is not None:
            contacts[row_id].append(c)
    return contacts


_STOPPED = (select(StopEntry.account, StopEntry.created_at, StopEntry.reason)
            .where(_in_ids(StopEntry.account)).order_by(StopEntry.id))
_STOPS_SEEN = select(func.coalesce(func.max(StopEntry.id), 0))
_LATEST = (select(Attempt.delivery_id, func.max(Attempt.id).label("aid"))
           .where(_in_ids(Attempt.delivery_id)).group_by(Attempt.delivery_id))
# The latest attempt that may have left: one closed as not sent (held at the instant of sending)
# does not hide the crash-interrupted attempt before it.
_LATEST_SUB = (select(Attempt.delivery_id, func.max(Attempt.id).label("aid"))
               .where(_in_ids(Attempt.delivery_id),
                      or_(Attempt.disposition.is_(None), Attempt.disposition != "not_sent"))
               .group_by(Attempt.delivery_id)).subquery()
_INTERRUPTED = (select(Attempt.delivery_id, Attempt.id, Attempt.channel, Attempt.destination, Attempt.started_at)
                .join(_LATEST_SUB, _LATEST_SUB.c.aid == Attempt.id)
                .where(Attempt.reason == "interrupted"))


# What counts as a call: a phone attempt that may have left (not one held at the instant of
# sending, not one that could not be rendered).
_NOT_CALLS = ("missing_variable", "render_error")


def _is_call() -> Any:
    return ((Attempt.channel == Channel.PHONE)
            & or_(Attempt.disposition.is_(None), Attempt.disposition != "not_sent")
            & or_(Attempt.reason.is_(None), Attempt.reason.not_in(_NOT_CALLS)))


# Calls per customer since a local day's start: by deliveries.customer_id, then attempts.delivery_id.
_CALLS_TODAY = (select(Delivery.customer_id, func.count(Attempt.id))
                .join(Attempt, Attempt.delivery_id == Delivery.id)
                .where(_in_ids(Delivery.customer_id), Attempt.started_at >= bindparam("since"), _is_call())
                .group_by(Delivery.customer_id))
# The last call to each number within the interval: by the (destination, started_at) index.
_LAST_CALL = (select(Attempt.destination, func.max(Attempt.started_at))
              .where(_in_ids(Attempt.destination), Attempt.started_at > bindparam("since"), _is_call())
              .group_by(Attempt.destination))


def _local_day_start(now: datetime, window: InformingWindow, days: int = 0) -> datetime:
    local = now.astimezone(window.tz).date() + timedelta(days=days)
    return datetime.combine(local, time(0), tzinfo=window.tz)


class _CallBook:
    """The calls already made, and those this claim adds, for the customers and numbers leased."""

    def __init__(self, conn: Connection, limits: CallLimits, now: datetime, window: InformingWindow,
                 customers: Collection[int], numbers: Collection[str]) -> None:
        self.limits, self.now, self.window = limits, now, window
        self.today: dict[int, int] = defaultdict(int)
        self.last: dict[str, datetime] = {}
        if limits.per_day > 0 and customers:
            self.today.update(conn.execute(_CALLS_TODAY, {"ids": list(customers),
                                                          "since": _local_day_start(now, window)}).all())
        if limits.min_interval > timedelta(0) and numbers:
            rows = conn.execute(_LAST_CALL, {"ids": list(numbers), "since": now - limits.min_interval}).all()
            self.last.update((number, _utc(at)) for number, at in rows if at is not None)

    def allowed_at(self, customer_id: int, number: str) -> datetime | None:
        """None if a call may start now; else the earliest instant the limits allow one."""
        at = self.now
        if self.limits.per_day > 0 and self.today[customer_id] >= self.limits.per_day:
            at = max(at, _local_day_start(self.now, self.window, days=1))
        last = self.last.get(number)
        if last is not None and last + self.limits.min_interval > self.now:
            at = max(at, last + self.limits.min_interval)
        return None if at == self.now else at

    def book(self, customer_id: int, number: str) -> None:
        self.today[customer_id] += 1
        self.last[number] = self.now


def _utc(at: datetime) -> datetime:
    # Aggregates (max) skip the column's type on some backends: naive UTC comes back.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _lease(conn: Connection, now: datetime, limit: int, worker: str, lease_until: datetime) -> list[_Leased]:
    stmt = _LEASE_SKIP_LOCKED if conn.dialect.name == "postgresql" else _LEASE
    return [_Leased(*row) for row in conn.execute(stmt, {"now": now, "limit": limit, "worker": worker,
                                                         "lease_until": lease_until}).all()]


def _campaign_facts(conn: Connection, campaign_ids: set[int]) -> dict[int, _CampaignFacts]:
    rows = conn.execute(_CAMPAIGN_FACTS, {"ids": list(campaign_ids)}).all()
    return {cid: _CampaignFacts([Channel(c) for c in channels], end_at, scenario_id, created)
            for cid, channels, end_at, scenario_id, created in rows}


def claim(session: Session, *, now: datetime, limit: int, worker: str, lease_s: float,
          window: InformingWindow, renderer: Renderer, sendable: Collection[Channel] | None = None,
          call_limits: CallLimits | None = None) -> ClaimReport:
    """Lease up to `limit` due deliveries, route and render them, and record their attempts.

    `sendable`: the channels this engine can send on (None: all); work routed to another channel
    stays pending. `call_limits`: a phone delivery over them is released to the earliest instant
    they (and the window) allow, or ends `call_limit` if the campaign ends first. Works on plain
    rows through the session's Core connection and writes in bulk: ORM objects and per-row result
    processing here cost more than the sending.
    """
    report = ClaimReport()
    conn = session.connection()
    # First: a stop entry committed after this read is newer than `stops_seen`, and the send gate
    # looks for exactly those.
    report.stops_seen = int(conn.execute(_STOPS_SEEN).scalar_one())
    report.lease_until = now + timedelta(seconds=lease_s)
    leased = _lease(conn, now, limit, worker, report.lease_until)
    if not leased:
        return report
    ids = [d.id for d in leased]
    campaigns_by_id = _campaign_facts(conn, {d.campaign_id for d in leased})
    people = {row[0]: row[1:] for row in conn.execute(_PEOPLE, {"ids": list({d.customer_id for d in leased})})}
    variables: dict[int, dict[str, object] | None] = dict(
        conn.execute(_VARIABLES, {"ids": [d.list_row_id for d in leased]}).all())
    contacts = _row_contacts(conn, [d.list_row_id for d in leased])
    stopped = _stopped_accounts(conn, [p[0] for p in people.values()])
    previous = _interrupted_attempts(conn, ids)
    open_now = window.allows(now)
    book = None
    if call_limits is not None and call_limits.active:
        numbers = {c.value for cs in contacts.values() for c in cs if c.channel is Channel.PHONE}
        book = _CallBook(conn, call_limits, now, window, {d.customer_id for d in leased}, numbers)

    changes: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []  # closed at once (render errors)
    opened: list[dict[str, Any]] = []  # about to be sent: what differs per row; the rest is `same`
    pending: list[tuple[int, int, Route, Content, str, datetime, int, str]] = []
    for d in leased:
        delivery_id, chain_index, attempts_done, campaign_id = d.id, d.channel_index, d.attempts, d.campaign_id
        facts = campaigns_by_id[campaign_id]
        end_at = facts.end_at
        account, name, group, address, preferred, division = people[d.customer_id]
        stop_reason = next((reason for at, reason in stopped.get(account, ()) if at >= facts.list_created), None)
        if stop_reason is not None:
            changes.append(_finished(delivery_id, Outcome.NEGATIVE, stop_reason, now))
            report.finalized[stop_reason] += 1
            continue
        if not open_now:
            if _wait_or_end(changes, report, delivery_id, window.next_allowed(now), end_at, "window_closed", now):
                report.deferred += 1
            continue
        r = route(facts.channels, chain_index, contacts[d.list_row_id], preferred)
        if r is None:
            changes.append(_finished(delivery_id, Outcome.NEGATIVE, "no_consent", now))
            report.finalized["no_consent"] += 1
            continue
        if sendable is not None and r.channel not in sendable:
            changes.append(_released(delivery_id, now + CHANNEL_WAIT))
            report.unavailable[r.channel] += 1
            continue
        if book is not None and r.channel is Channel.PHONE:
            allowed = book.allowed_at(d.customer_id, r.destination)
            if allowed is not None:
                if _wait_or_end(changes, report, delivery_id, window.next_allowed(allowed), end_at, "call_limit", now):
                    report.limited += 1
                continue
        if r.index != chain_index:
            attempts_done = 0
        recipient = Recipient(account=account, name=name, group=group, division=division or "",
                              address=address, variables=dict(variables.get(d.list_row_id) or {}))
        try:
            content = renderer.render(facts.scenario_id, r.channel, recipient)
        except SkipDelivery as exc:
            # The scenario's own rule (a zero debt is not told "please pay"): no message, its reason.
            changes.append(_finished(delivery_id, Outcome.NEGATIVE, exc.reason, now))
            report.finalized[exc.reason] += 1
            continue
        except AutoinformError as exc:
            # A list row the scenario cannot render: a negative result with the reason, not a crash.
            # A short code reports group by, and the words people read (issue 9 item 2).
            code, text = render_failure(exc)
            changes.append(_finished(delivery_id, Outcome.NEGATIVE, code, now)
                           | {"channel": r.channel, "reason_text": text})
            attempts.append(_attempt_row(delivery_id, r.channel, r.destination, worker, now, "",
                                         outcome=Outcome.NEGATIVE, reason=code,
                                         detail={"error": str(exc), "reason_text": text}))
            report.finalized[code] += 1
            report.failures[campaign_id, code, text] += 1
            continue
        # Channel and chain position are written with the result (record): routing is
        # deterministic, so a crash before then re-routes the same way.
        if book is not None and r.channel is Channel.PHONE:
            book.book(d.customer_id, r.destination)
        prev = previous.get(delivery_id)
        opened.append({"delivery_id": delivery_id, "channel": r.channel, "destination": r.destination,
                       "content": content_text(content), "duplicate_of": prev.attempt_id if prev else None})
        pending.append((delivery_id, campaign_id, r, content, name, end_at, attempts_done, account))
    if changes:
        _update_by_id(conn, DELIVERIES, changes)
    ids_by_delivery: dict[int, int] = {}
    _NEW_ATTEMPT.run(conn, attempts)
    if opened:
        # A plain executemany, then one query for the ids: INSERT ... RETURNING in parameter order
        # degrades to one statement per row on SQLite. The leases make "newest attempt" ours.
        _NEW_ATTEMPT.run(conn, opened, same={"worker": worker, "started_at": now, "ended_at": None, "outcome": None,
                                             "reason": None, "detail": {}, "retry": False})
        ids_by_delivery = dict(conn.execute(_LATEST, {"ids": [p[0] for p in pending]}).all())
    report.work = [Work(delivery_id=did, attempt_id=ids_by_delivery[did], campaign_id=cid, channel=r.channel,
                        destination=r.destination, content=content, recipient_name=name, end_at=end_at,
                        attempts_done=done_before, chain_index=r.index, has_fallback=r.has_fallback,
                        account=account, list_created=campaigns_by_id[cid].list_created,
                        stops_seen=report.stops_seen, interrupted=previous.get(did))
                   for did, cid, r, content, name, end_at, done_before, account in pending]
    announce(session, {d.campaign_id for d in leased})  # attempts opened, deliveries ended: pages see it
    return report


def _wait_or_end(changes: list[dict[str, Any]], report: ClaimReport, delivery_id: int, nxt: datetime,
                 end_at: datetime, reason: str, now: datetime) -> bool:
    """Back to pending until `nxt`, or, when that is past the campaign's end, negative with
    `reason`. True when it waits."""
    if nxt >= end_at:
        changes.append(_finished(delivery_id, Outcome.NEGATIVE, reason, now))
        report.finalized[reason] += 1
        return False
    changes.append(_released(delivery_id, nxt))
    return True


def _attempt_row(delivery_id: int, channel: Channel, destination: str, worker: str, now: datetime,
                 content: str, *, outcome: Outcome, reason: str, detail: dict[str, Any]) -> dict[str, Any]:
    """An attempt that ends as it begins (it could not be rendered)."""
    return {"delivery_id": delivery_id, "channel": channel, "destination": destination, "worker": worker,
            "started_at": now, "ended_at": now, "outcome": outcome, "reason": reason,
            "content": content, "duplicate_of": None, "detail": detail, "retry": False}


def _finished(delivery_id: int, outcome: Outcome, reason: str, now: datetime) -> dict[str, Any]:
    return {"id": delivery_id, "state": DeliveryState.DONE, "outcome": outcome, "reason": reason,
            "finished_at": now, "lease_owner": None, "lease_until": None}


def _released(delivery_id: int, at: datetime) -> dict[str, Any]:
    return {"id": delivery_id, "state": DeliveryState.PENDING, "next_attempt_at": at, "lease_owner": None,
            "lease_until": None}


def _apply(delivery: Delivery, change: dict[str, Any]) -> None:
    for key, value in change.items():
        if key != "id":
            setattr(delivery, key, value)


def _finish(delivery: Delivery, outcome: Outcome, reason: str, now: datetime) -> None:
    _apply(delivery, _finished(delivery.id, outcome, reason, now))


def _release(delivery: Delivery, at: datetime) -> None:
    _apply(delivery, _released(delivery.id, at))


def _stopped_accounts(conn: Connection, accounts: Sequence[str]) -> dict[str, list[tuple[datetime, str]]]:
    """Each account's stop entries, oldest first: (when, reason)."""
    found: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    if accounts:
        for account, at, reason in conn.execute(_STOPPED, {"ids": list(set(accounts))}).all():
            found[account].append((at, reason or "paid"))
    return found


@dataclass(frozen=True)
class Interrupted:
    """A delivery's latest attempt, cut by a crash before its result (or provider id) was written:
    it may have been sent. The next attempt is recorded as its possible duplicate, and a channel that
    can ask its provider what was sent (SMS) reconciles instead of sending again."""

    attempt_id: int
    channel: Channel
    destination: str
    started_at: datetime


def _interrupted_attempts(conn: Connection, delivery_ids: Sequence[int]) -> dict[int, Interrupted]:
    return {did: Interrupted(aid, Channel(ch), dest, started)
            for did, aid, ch, dest, started in conn.execute(_INTERRUPTED, {"ids": list(delivery_ids)}).all()}


@dataclass(frozen=True)
class Done:
    work: Work
    result: SendResult
    ended_at: datetime
    # When the send began; the attempt was recorded at claim time, and a queue of slow calls can
    # lie between the two. None keeps the claim instant.
    started_at: datetime | None = None


def record(session: Session, done: Iterable[Done], *, policies: dict[Channel, RetryPolicy],
           status_timeout_s: float | Mapping[Channel, float], worker: str) -> dict[str, int]:
    """Write results of sent work and move each delivery on; returns counts by verdict.

    The attempt is written whatever happens (it is the truth of what was sent); the delivery only
    while `worker` still holds its lease, so an engine that lost a lease never overwrites the
    engine that took the work over (issue 8 item 2). Such results count as "lease_lost".

    `status_timeout_s` (one figure, or one per channel) is how long a handed-over message waits
    for its provider's final status before it is polled; never past its campaign's end."""
    timeouts = status_timeout_s if isinstance(status_timeout_s, Mapping) else defaultdict(lambda: status_timeout_s)
    counts: dict[str, int] = defaultdict(int)
    attempt_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    done_list = list(done)
    for d in done_list:
        w, res, now = d.work, d.result, d.ended_at
        attempt_rows.append({"id": w.attempt_id, "ended_at": now, "outcome": res.outcome,
                             "reason": res.reason, "retry": res.retry, "provider_id": res.provider_id,
                             "disposition": res.disposition[:64], "detail": res.detail}
                            | ({"started_at": d.started_at} if d.started_at is not None else {}))
        decision = policies[w.channel].decide(res, attempts_done=w.attempts_done + 1, now=now,
                                              end_at=w.end_at, has_fallback=w.has_fallback)
        counts[decision.verdict.value] += 1
        row: dict[str, Any] = {"id": w.delivery_id, "lease_owner": None, "lease_until": None,
                               "channel": w.channel, "channel_index": w.chain_index}
        if decision.verdict is Verdict.DONE_POSITIVE:
            row |= {"state": DeliveryState.DONE, "outcome": Outcome.POSITIVE, "reason": res.reason,
                    "finished_at": now, "attempts": w.attempts_done + 1}
        elif decision.verdict is Verdict.AWAIT:
            deadline = min(now + timedelta(seconds=timeouts[w.channel]), max(now, w.end_at))
            row |= {"state": DeliveryState.AWAITING, "attempts": w.attempts_done + 1, "lease_until": deadline}
        elif decision.verdict is Verdict.RETRY:
            row |= {"state": DeliveryState.PENDING, "next_attempt_at": decision.next_attempt_at,
                    "attempts": w.attempts_done + 1}
        elif decision.verdict is Verdict.FALLBACK:
            row |= {"state": DeliveryState.PENDING, "next_attempt_at": now, "attempts": 0,
                    "channel_index": w.chain_index + 1}
        else:  # retries exhausted or permanent: the last reason stands
            row |= {"state": DeliveryState.DONE, "outcome": Outcome.NEGATIVE, "reason": res.reason,
                    "finished_at": now, "attempts": w.attempts_done + 1}
        delivery_rows.append(row)
    if attempt_rows:
        conn = session.connection()
        _update_by_id(conn, ATTEMPTS, attempt_rows)
        lost = len(delivery_rows) - _update_claimed(conn, delivery_rows, worker)
        if lost:
            counts["lease_lost"] = lost
            log.warning("%d results written to attempts only: their leases were lost to another engine", lost)
    if counts.get(Verdict.AWAIT.value):
        # A provider may report before we record the hand-over (Twilio often does): apply any
        # report already stored for these ids now rather than at the next housekeeping.
        session.flush()
        apply_statuses(session, now=max(d.ended_at for d in done_list), policies=policies)
    if done_list:
        announce(session, {d.work.campaign_id for d in done_list})
    return dict(counts)


_BY_ID: dict[str, dict[tuple[str, ...], BulkStatement]] = {}


def _by_shape(conn: Connection, rows: list[dict[str, Any]], statement: Callable[[list[str]], BulkStatement],
              cache: dict[tuple[str, ...], BulkStatement], same: Mapping[str, Any] | None = None) -> int:
    """One executemany per shape of row (the columns it sets), statements built once per shape;
    returns the rows matched."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        shapes[tuple(sorted(row))].append(row)
    written = 0
    for keys, group in shapes.items():
        stmt = cache.get(keys)
        if stmt is None:
            stmt = cache[keys] = statement([k for k in keys if k != "id"])
        written += stmt.run(conn, group, same=same)
    return written


def _update_by_id(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """UPDATE ... WHERE id = ?."""
    _by_shape(conn, rows, lambda cols: BulkStatement.update_by_id(table, cols), _BY_ID.setdefault(table.name, {}))


_CLAIMED_BY: dict[tuple[str, ...], BulkStatement] = {}


def _update_claimed(conn: Connection, rows: list[dict[str, Any]], worker: str) -> int:
    """UPDATE deliveries ... WHERE id = ? AND state = claimed AND lease_owner = worker; returns how
    many rows were still ours."""
    return _by_shape(conn, rows, lambda cols: BulkStatement.update_claimed(DELIVERIES, cols), _CLAIMED_BY,
                     same={"owner": worker, "claimed_state": DeliveryState.CLAIMED})


_CLOSE_UNSENT = (update(Attempt)
                 .where(Attempt.id == bindparam("_id"), Attempt.ended_at.is_(None))
                 .values(ended_at=bindparam("_ended_at"), outcome=Outcome.NEGATIVE, reason=bindparam("_reason"),
                         disposition="not_sent"))


def release(session: Session, work: Sequence[tuple[Work, datetime, str]], now: datetime, *, worker: str,
            finished: Sequence[tuple[Work, str]] = ()) -> int:
    """Close claimed work that was never sent, each with why. `work` waits again for its instant
    (engine stopping, window closed, campaign paused); `finished` ends negative with its reason
    (cancelled, paid, window_closed). The attempt ends negative with disposition `not_sent`, so every
    attempt a report counts has an outcome (AI-14); the delivery is written only while `worker`
    holds its lease. Returns how many deliveries were still ours."""
    if not work and not finished:
        return 0
    conn = session.connection()
    unsent = [(w, reason) for w, _, reason in work] + list(finished)
    conn.execute(_CLOSE_UNSENT, [{"_id": w.attempt_id, "_ended_at": now, "_reason": reason} for w, reason in unsent])
    rows = [_released(w.delivery_id, at) for w, at, _ in work]
    rows += [_finished(w.delivery_id, Outcome.NEGATIVE, reason, now) for w, reason in finished]
    announce(session, {w.campaign_id for w, _ in unsent})
    return _update_claimed(conn, rows, worker)


def close_lost(session: Session, work: Sequence[Work], now: datetime) -> None:
    """Work whose lease another engine took is not sent and its delivery not touched; its open
    attempt (if the other engine has not closed it as interrupted yet) ends `lease_lost`."""
    if work:
        session.connection().execute(_CLOSE_UNSENT, [{"_id": w.attempt_id, "_ended_at": now, "_reason": "lease_lost"}
                                                      for w in work])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, someone else's
        return True
    return True


def register_worker(session: Session, *, worker: str, now: datetime, stale_after: timedelta) -> None:
    """Claim the lease-owner name `worker` for this process, or refuse: another live engine uses it
    (same host and its process still there, or another host whose heartbeat is fresh). Taking its
    name would let this engine take back its live leases at start, and both would send them."""
    host, pid = socket.gethostname()[:255], os.getpid()
    row = session.get(EngineWorker, worker, with_for_update=True)
    if row is not None and (row.host, row.pid) != (host, pid):
        live = _pid_alive(row.pid) if row.host == host else row.heartbeat_at > now - stale_after
        if live:
            raise ConfigError(f"another engine is running as worker {worker!r} (host {row.host}, pid {row.pid}, "
                              f"seen {row.heartbeat_at.isoformat()}): give each engine its own AUTOINFORM_WORKER")
    if row is None:
        session.add(EngineWorker(name=worker, host=host, pid=pid, heartbeat_at=now))
    else:
        row.host, row.pid, row.heartbeat_at = host, pid, now


def heartbeat(session: Session, *, worker: str, now: datetime) -> None:
    session.execute(update(EngineWorker).where(EngineWorker.name == worker, EngineWorker.pid == os.getpid())
                    .values(heartbeat_at=now))


def recover(session: Session, *, now: datetime, worker: str | None = None, alive: str | None = None) -> int:
    """Take back deliveries whose lease is dead: claimed by `worker` (our previous life, which
    crashed) or leased past lease_until by any worker but `alive` (ourselves, who know what we have
    in flight). Their open attempts end `interrupted`."""
    cond = Delivery.lease_until < now
    if alive is not None:
        cond = cond & (Delivery.lease_owner != alive)
    if worker is not None:
        cond = cond | (Delivery.lease_owner == worker)
    ids = list(session.scalars(select(Delivery.id).where(Delivery.state == DeliveryState.CLAIMED, cond)))
    if not ids:
        return 0
    # Interrupted: perhaps sent, perhaps not. Negative (not known to be received), so reports never
    # count an attempt without an outcome; the next attempt is recorded as a possible duplicate.
    session.execute(update(Attempt).where(Attempt.delivery_id.in_(ids), Attempt.ended_at.is_(None))
                    .values(ended_at=now, outcome=Outcome.NEGATIVE, reason="interrupted",
                            disposition="engine_stopped"))
    session.execute(update(Delivery).where(Delivery.id.in_(ids))
                    .values(state=DeliveryState.PENDING, next_attempt_at=now, lease_owner=None,
                            lease_until=None))
    announce(session)
    log.warning("recovered %d deliveries from a dead lease", len(ids))
    return len(ids)


_RENEW = (update(Delivery)
          .where(Delivery.id.in_(bindparam("ids", expanding=True)), Delivery.state == DeliveryState.CLAIMED,
                 Delivery.lease_owner == bindparam("worker"))
          .values(lease_until=bindparam("until"))
          .returning(Delivery.id))


def renew_leases(session: Session, *, worker: str, ids: Sequence[int], until: datetime) -> list[int]:
    """Extend the leases `worker` still holds on `ids` (claimed work not yet written back: a long
    queue of slow calls can outlast one lease). Returns the ids renewed; the others were taken by
    another engine after our lease lapsed, and must not be sent."""
    if not ids:
        return []
    conn = session.connection()
    return list(conn.execute(_RENEW, {"ids": list(ids), "worker": worker, "until": until}).scalars())


def store_status(session: Session, status: ProviderStatus, *, now: datetime | None = None) -> None:
    """Keep a provider's report as a row first (AI-2: nothing lost), then try to apply it.
    `now` is the receiving engine's clock: how long an unmatched report is kept counts from it."""
    session.add(ProviderEvent(channel=status.channel, provider_id=status.provider_id, status=status.status,
                              outcome=status.outcome, reason=status.reason, error_code=status.error_code,
                              detail=status.detail, retry=status.retry,
                              **({"received_at": now} if now is not None else {})))


NO_MATCHING_ATTEMPT = "no_matching_attempt"  # retired_reason of a report no attempt claimed in time
_APPLY_BATCH = 1000


def apply_statuses(session: Session, *, now: datetime, policies: dict[Channel, RetryPolicy]) -> int:
    """Apply stored provider reports to their attempts, oldest first; returns how many.

    Only unsettled reports whose provider id an attempt carries are read (a join by index on both
    sides), so however many reports match nothing (yet), they can never crowd out one that does.
    Those wait for their attempt's id to be written, until retire_unmatched() retires them."""
    batch = (select(ProviderEvent, Attempt)
             .join(Attempt, Attempt.provider_id == ProviderEvent.provider_id)
             .where(ProviderEvent.applied_at.is_(None))
             .order_by(ProviderEvent.id, Attempt.id)
             .limit(_APPLY_BATCH))
    if session.get_bind().dialect.name == "postgresql":
        # Engines sharing a database each apply a report once: another's rows are skipped, not
        # applied twice (SQLite's single writer needs no lock).
        batch = batch.with_for_update(of=ProviderEvent, skip_locked=True)
    applied = 0
    while True:
        rows = session.execute(batch).all()
        seen: set[int] = set()
        for e, a in rows:
            if e.id in seen:
                continue  # one provider id on two attempts (never expected): the first takes it
            seen.add(e.id)
            e.applied_at = now
            applied += 1
            _apply_event(session, e, a, now, policies)
        if len(rows) < _APPLY_BATCH:
            if applied:
                announce(session)
            return applied
        session.flush()  # the next batch must not see these again


def _apply_event(session: Session, e: ProviderEvent, a: Attempt, now: datetime,
                 policies: dict[Channel, RetryPolicy]) -> None:
    # The report's own evidence (a call's prompts, keys, AMD status; an operator transfer's outcome
    # that comes after the result) is kept on the attempt (AI-2, AI-8; issue 10); the attempt's own
    # keys (what the send recorded) win over a report's of the same name.
    evidence = {k: v for k, v in (e.detail or {}).items() if k not in a.detail}
    if e.outcome is None:
        a.detail = {**a.detail, **evidence, "last_status": e.status}
        return
    if a.outcome is not None:
        return  # already final (a duplicate report)
    # The provider's retry flag goes with the outcome, so the policy retries what may still
    # arrive (handset off) and not what never will (spam filter): issue 8 item 7.
    a.outcome, a.reason, a.disposition, a.retry = e.outcome, e.reason, e.status, e.retry
    a.detail = {**a.detail, **evidence, **({"error_code": e.error_code} if e.error_code else {})}
    _settle(session, a, now, policies)


def retire_unmatched(session: Session, *, now: datetime, after_s: float) -> int:
    """Retire reports that no attempt has claimed for `after_s` seconds: settled with
    reason NO_MATCHING_ATTEMPT, never applied; returns how many (the engine logs and counts them)."""
    claimed = select(Attempt.id).where(Attempt.provider_id == ProviderEvent.provider_id).exists()
    result = session.execute(
        update(ProviderEvent)
        .where(ProviderEvent.applied_at.is_(None),
               ProviderEvent.received_at < now - timedelta(seconds=after_s), ~claimed)
        .values(applied_at=now, retired_reason=NO_MATCHING_ATTEMPT)
        .execution_options(synchronize_session=False))
    retired = int(getattr(result, "rowcount", 0) or 0)
    if retired:
        log.warning("retired %d provider reports that matched no attempt within %.0f s", retired, after_s,
                    extra={"retired_reports": retired})
    return retired


def report_counts(session: Session) -> dict[str, int]:
    """Provider reports by fate: applied, waiting for their attempt, and retired by reason."""
    waiting = ProviderEvent.applied_at.is_(None)
    counts: dict[str, int] = defaultdict(int)
    for retired, unsettled, n in session.execute(
            select(ProviderEvent.retired_reason, waiting, func.count())
            .group_by(ProviderEvent.retired_reason, waiting)):
        counts[retired or ("waiting" if unsettled else "applied")] += int(n)
    return dict(counts)


def _settle(session: Session, attempt: Attempt, now: datetime, policies: dict[Channel, RetryPolicy]) -> None:
    delivery = session.get(Delivery, attempt.delivery_id)
    if delivery is None or delivery.state is not DeliveryState.AWAITING:
        return
    campaign = session.get(Campaign, delivery.campaign_id)
    assert campaign is not None
    res = SendResult(outcome=attempt.outcome, reason=attempt.reason or "", retry=attempt.retry)
    decision = policies[attempt.channel].decide(res, attempts_done=delivery.attempts, now=now,
                                                end_at=campaign.end_at,
                                                has_fallback=_can_fall_back(session, delivery, campaign))
    if decision.verdict is Verdict.DONE_POSITIVE:
        _finish(delivery, Outcome.POSITIVE, res.reason, now)
    elif decision.verdict is Verdict.RETRY and decision.next_attempt_at:
        _release(delivery, decision.next_attempt_at)
    elif decision.verdict is Verdict.FALLBACK:
        delivery.channel_index += 1
        delivery.attempts = 0
        _release(delivery, now)
    else:
        _finish(delivery, Outcome.NEGATIVE, res.reason, now)


def _can_fall_back(session: Session, delivery: Delivery, campaign: Campaign) -> bool:
    """Is there a consented channel after the current one? (Else the report's reason stands.)"""
    customer = session.get(Customer, delivery.customer_id)
    contacts = _row_contacts(session.connection(), [delivery.list_row_id])[delivery.list_row_id]
    chain = [Channel(c) for c in campaign.channels]
    preferred = customer.preferred_channel if customer else None
    return route(chain, delivery.channel_index + 1, contacts, preferred) is not None


def overdue_awaiting(session: Session, now: datetime, limit: int = 500) -> list[tuple[int, Channel, str]]:
    """Attempts whose final status never came in time: (delivery id, channel, provider id) to poll."""
    rows = session.execute(
        select(Delivery.id, Attempt.channel, Attempt.provider_id)
        .join(Attempt, Attempt.delivery_id == Delivery.id)
        .where(Delivery.state == DeliveryState.AWAITING, Delivery.lease_until < now,
               Attempt.outcome.is_(None), Attempt.provider_id.is_not(None))
        .limit(limit)).all()
    return [(d, c, p) for d, c, p in rows if p]


def expire_awaiting(session: Session, delivery_id: int, now: datetime) -> None:
    """No final status even after polling past the campaign's end: negative, reason no_report."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is not None and delivery.state is DeliveryState.AWAITING:
        _finish(delivery, Outcome.NEGATIVE, "no_report", now)
        announce(session, [delivery.campaign_id])


def extend_await(session: Session, delivery_id: int, until: datetime) -> None:
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(lease_until=until))

