"""Quality indicators (6.1.6, QI-1..QI-3) the engine can compute from its own records.

One function per indicator, each given the session and the report's spec, each returning an
IndicatorValue (or None when it does not apply to that kind of report). Indicators read tables
other parts of the engine own (deliveries; the hotline's tasks and queue events, issue 11); with
nothing to count in the period an indicator says "no data yet". Add one with `register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, and_, case, func, or_, select
from sqlalchemy.orm import Session

from autoinform.models import Delivery, DeliveryState, HotlineQueueEvent, HotlineTask, Outcome
from autoinform.report_files.scope import ReportSpec, Share

NO_DATA = "no data yet"


@dataclass(frozen=True)
class IndicatorValue:
    code: str
    requirement: str  # QI-n / HL-n it measures
    title: str
    value: Share | int | None  # None: not computed (see note)
    note: str = ""


Indicator = Callable[[Session, ReportSpec, datetime], IndicatorValue | None]
INDICATORS: list[Indicator] = []


def register(fn: Indicator) -> Indicator:
    INDICATORS.append(fn)
    return fn


def compute_all(session: Session, spec: ReportSpec, *, now: datetime | None = None) -> list[IndicatorValue]:
    now = now or datetime.now(UTC)
    return [v for fn in INDICATORS if (v := fn(session, spec, now)) is not None]


def _delivery_scope(spec: ReportSpec) -> list[Any]:
    if spec.campaign_id is not None:
        return [Delivery.campaign_id == spec.campaign_id, Delivery.state == DeliveryState.DONE]
    start, end = spec.bounds()
    return [Delivery.state == DeliveryState.DONE, Delivery.finished_at >= start, Delivery.finished_at < end]


@register
def positive_share(session: Session, spec: ReportSpec, now: datetime) -> IndicatorValue:
    """QI-1 informativeness: the share of finished notices the customer received (AI-14)."""
    done, positive = session.execute(
        select(func.count(), func.sum(case((Delivery.outcome == Outcome.POSITIVE, 1), else_=0), type_=Integer))
        .where(*_delivery_scope(spec))).one()
    done, positive = int(done), int(positive or 0)
    if not done:
        return IndicatorValue("positive_share", "QI-1", "Доля положительных оповещений", None, NO_DATA)
    return IndicatorValue("positive_share", "QI-1", "Доля положительных оповещений", Share(positive / done),
                          f"{positive} из {done}")


@register
def within_window(session: Session, spec: ReportSpec, now: datetime) -> IndicatorValue:
    """QI-2 punctuality, campaign windows: the share of finished notices that were not left unsent
    because the campaign's window closed first (reason window_closed)."""
    done, late = session.execute(
        select(func.count(), func.sum(case((Delivery.reason == "window_closed", 1), else_=0), type_=Integer))
        .where(*_delivery_scope(spec))).one()
    done, late = int(done), int(late or 0)
    title = "Оповещения, отправленные в окно кампании"
    if not done:
        return IndicatorValue("within_window", "QI-2", title, None, NO_DATA)
    return IndicatorValue("within_window", "QI-2", title, Share((done - late) / done),
                          f"не успели до конца окна: {late} из {done}")


def _period(spec: ReportSpec) -> tuple[datetime, datetime] | None:
    return spec.bounds() if spec.is_period else None


def _tasks_on_time(session: Session, spec: ReportSpec, now: datetime, *, code: str, requirement: str,
                   title: str, kinds: tuple[str, ...]) -> IndicatorValue | None:
    """Tasks of `kinds` due in the period: done by their deadline, against all due (done late, or
    still open past it). Tasks not yet due are left out."""
    period = _period(spec)
    if period is None:
        return None  # hotline work belongs to periods, not to a notice campaign
    t = HotlineTask
    start, end = period
    on_time = and_(t.done_at.is_not(None), t.done_at <= t.deadline)
    late = or_(and_(t.done_at.is_not(None), t.done_at > t.deadline),
               and_(t.done_at.is_(None), t.deadline < now))
    ok, bad = session.execute(
        select(func.sum(case((on_time, 1), else_=0), type_=Integer), func.sum(case((late, 1), else_=0), type_=Integer))
        .where(t.kind.in_(kinds), t.deadline >= start, t.deadline < end)).one()
    ok, bad = int(ok or 0), int(bad or 0)
    if not ok + bad:
        return IndicatorValue(code, requirement, title, None, f"{NO_DATA} (no task due in the period)")
    return IndicatorValue(code, requirement, title, Share(ok / (ok + bad)),
                          f"в срок {ok} из {ok + bad}; просрочено {bad}")


@register
def callbacks_on_time(session: Session, spec: ReportSpec, now: datetime) -> IndicatorValue | None:
    """QI-2 punctuality: callbacks (HL-2) made by their deadline."""
    return _tasks_on_time(session, spec, now, code="callbacks_on_time", requirement="QI-2",
                          title="Обратные звонки в срок", kinds=("callback",))


@register
def feedback_on_time(session: Session, spec: ReportSpec, now: datetime) -> IndicatorValue | None:
    """QI-3 feedback effectiveness: complaints, suggestions and reviews answered by their deadline."""
    return _tasks_on_time(session, spec, now, code="feedback_on_time", requirement="QI-3",
                          title="Обращения, отработанные в срок", kinds=("feedback", "complaint", "suggestion"))


@register
def answer_breaches(session: Session, spec: ReportSpec, now: datetime) -> IndicatorValue | None:
    """HL-5 / QI-2: callers who waited longer than the answer target (40 s) for an operator:
    connected after it, or abandoned or timed out after it."""
    period = _period(spec)
    if period is None:
        return None
    title = f"Ожидание оператора дольше {spec.answer_target_s} с"
    q = HotlineQueueEvent
    start, end = period
    ended = q.kind.in_(("connect", "abandon", "timeout"))
    breach = or_(q.kind == "timeout", q.hold_s > spec.answer_target_s)
    n, bad = session.execute(
        select(func.count(), func.sum(case((breach, 1), else_=0), type_=Integer))
        .where(ended, q.at >= start, q.at < end)).one()
    n, bad = int(n), int(bad or 0)
    if not n:
        return IndicatorValue("answer_breaches", "HL-5", title, None, f"{NO_DATA} (no queued call in the period)")
    return IndicatorValue("answer_breaches", "HL-5", title, bad, f"{bad} из {n} ожидавших в очереди")
