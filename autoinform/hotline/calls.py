"""Hotline call records and the operator queue's events (HL-4, HL-5): stored per call, and the
figures the dashboard and reports read (waits against the 40 s target, breaches)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from autoinform.models import HotlineCall, HotlineQueueEvent
from ivr.hotline.backend import CallRecord, QueueEvent


def merged_path(old: list[str], new: list[str]) -> list[str]:
    """A caller back from the queue continues the record: a path that restates the old one
    replaces it, any other path is appended."""
    return list(new) if new[: len(old)] == old else [*old, *new]


def insert_new_call(conn: Connection, record: CallRecord) -> bool:
    """The common case in one statement: insert the call's record unless its call_id is already
    there (a caller back from the queue). False: it was, and upsert_call must merge the two."""
    values = {"call_id": record.call_id[:64], "caller": record.caller[:32], "started_at": record.started_at,
              "ended_at": record.ended_at, "menu_path": list(record.menu_path),
              "menu_reached_at": record.menu_reached_at, "outcome": record.outcome[:32], "account": record.account,
              "survey": record.survey, "after_hours": record.after_hours}
    return conn.execute(_INSERT_NEW[conn.dialect.name], values).first() is not None


# RETURNING, not rowcount: an insert that returns the new id reports rowcount -1 on psycopg
_INSERT_NEW = {d.dialect.name: d.insert(HotlineCall).on_conflict_do_nothing(index_elements=["call_id"])
               .returning(HotlineCall.id) for d in (postgresql, sqlite)}


def upsert_call(session: Session, record: CallRecord) -> HotlineCall:
    """Write one call's record; a second write for the same call_id continues the first."""
    row = session.scalar(select(HotlineCall).where(HotlineCall.call_id == record.call_id).with_for_update())
    if row is None:
        row = HotlineCall(call_id=record.call_id[:64], caller=record.caller[:32], started_at=record.started_at,
                          ended_at=record.ended_at, menu_path=list(record.menu_path),
                          menu_reached_at=record.menu_reached_at, outcome=record.outcome[:32],
                          account=record.account, survey=record.survey, after_hours=record.after_hours)
        session.add(row)
        session.flush()
        return row
    row.started_at = min(row.started_at, record.started_at)
    if record.ended_at is not None:
        row.ended_at = max(row.ended_at or record.ended_at, record.ended_at)
    row.menu_path = merged_path(list(row.menu_path), list(record.menu_path))
    if row.menu_reached_at is None:
        row.menu_reached_at = record.menu_reached_at
    row.outcome = record.outcome[:32] or row.outcome
    row.account = record.account or row.account
    row.survey = record.survey if record.survey is not None else row.survey
    row.after_hours = row.after_hours or record.after_hours
    return row


def add_queue_event(session: Session, event: QueueEvent) -> None:
    session.add(HotlineQueueEvent(call_id=event.call_id[:64], queue=event.queue[:64], kind=event.kind[:16],
                                  at=event.at, hold_s=event.hold_s, member=event.member))


@dataclass(frozen=True)
class QueueStats:
    """HL-5 for the operator queue over a period: waits measured by Asterisk's own HoldTime."""

    joined: int
    connected: int
    abandoned: int
    timed_out: int
    breaches: int  # answered after the limit, or abandoned / timed out having waited past it
    mean_hold_s: float | None
    max_hold_s: float | None


def queue_stats(session: Session, since: datetime, until: datetime, limit_s: float) -> QueueStats:
    e = HotlineQueueEvent
    period = (e.at >= since, e.at < until)
    counts = dict(session.execute(select(e.kind, func.count()).where(*period).group_by(e.kind)).all())
    breaches = session.scalar(select(func.count()).select_from(e).where(
        *period, ((e.kind.in_(("connect", "abandon")) & (e.hold_s > limit_s)) | (e.kind == "timeout")))) or 0
    mean, top = session.execute(select(func.avg(e.hold_s), func.max(e.hold_s))
                                .where(*period, e.kind == "connect")).one()
    return QueueStats(counts.get("join", 0), counts.get("connect", 0), counts.get("abandon", 0),
                      counts.get("timeout", 0), breaches, float(mean) if mean is not None else None,
                      float(top) if top is not None else None)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else round((b - a).total_seconds(), 1)


def call_summaries(session: Session, since: datetime, until: datetime, limit_s: float,
                   *, limit: int = 10000) -> list[dict[str, object]]:
    """One dict per call started in [since, until) for the dashboard and reports (HL-5): time to
    the menu, time in the queue (Asterisk's HoldTime), time to an operator from the call's start,
    the outcome and survey, and whether the 40 s target was missed. Numbers masked (AI-19)."""
    from autoinform.logs import mask_phone

    rows = session.scalars(select(HotlineCall).where(HotlineCall.started_at >= since, HotlineCall.started_at < until)
                           .order_by(HotlineCall.started_at).limit(limit)).all()
    events: dict[str, list[HotlineQueueEvent]] = {}
    ids = [r.call_id for r in rows]
    for i in range(0, len(ids), 1000):
        for e in session.scalars(select(HotlineQueueEvent).where(HotlineQueueEvent.call_id.in_(ids[i:i + 1000]))
                                 .order_by(HotlineQueueEvent.at, HotlineQueueEvent.id)):
            events.setdefault(e.call_id, []).append(e)
    out: list[dict[str, object]] = []
    for r in rows:
        evs = events.get(r.call_id, [])
        connect = next((e for e in evs if e.kind == "connect"), None)
        ended = [e for e in evs if e.kind in ("connect", "abandon", "timeout")]
        hold = ended[-1].hold_s if ended else None
        breach = any(e.kind == "timeout" or (e.hold_s or 0) > limit_s for e in ended)
        out.append({"call_id": r.call_id, "caller": mask_phone(r.caller), "started_at": r.started_at.isoformat(),
                    "ended_at": r.ended_at.isoformat() if r.ended_at else None, "menu_path": list(r.menu_path),
                    "to_menu_s": _seconds(r.started_at, r.menu_reached_at), "queue_s": hold,
                    "to_operator_s": _seconds(r.started_at, connect.at) if connect else None,
                    "outcome": r.outcome, "account": r.account, "survey": r.survey, "after_hours": r.after_hours,
                    "breach": breach})
    return out
