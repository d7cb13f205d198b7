"""Quality indicators (6.1.6, QI-1..QI-3) the engine can compute from its own records.

One function per indicator, each given the session and the report's spec, each returning an
IndicatorValue (or None when it does not apply to that kind of report). Indicators read tables
other parts of the engine own; when a table is not there yet (the hotline's calls and tasks arrive
with issue 11), the indicator says "no data yet" instead of failing, and when the table is there
without the columns it reads, it says which are missing. Add one with `register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, MetaData, Table, and_, case, func, inspect, or_, select
from sqlalchemy.orm import Session

from autoinform.models import Delivery, DeliveryState, Outcome
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


def reflect(session: Session, names: tuple[str, ...], columns: set[str]) -> Table | str:
    """The first of `names` that exists, reflected; else why not (the note the report shows)."""
    insp = inspect(session.connection())
    for name in names:
        if insp.has_table(name):
            table = Table(name, MetaData(), autoload_with=session.connection())
            missing = sorted(columns - set(table.c.keys()))
            if missing:
                return f"table {name} has no column(s) {', '.join(missing)}: indicator not computed"
            return table
    return f"{NO_DATA} (table {' / '.join(names)} does not exist)"


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


# Hotline tables (issue 11). The names and columns below are those the hotline brief describes
# (tasks: kind, deadline, done_at; queue events: kind, hold_s, at); the first name found is used.
TASK_TABLES = ("hotline_tasks", "tasks")
TASK_COLUMNS = {"kind", "deadline", "done_at"}
QUEUE_TABLES = ("hotline_queue_events", "queue_events")
QUEUE_COLUMNS = {"kind", "hold_s", "at"}


def _period(spec: ReportSpec) -> tuple[datetime, datetime] | None:
    return spec.bounds() if spec.is_period else None


def _tasks_on_time(session: Session, spec: ReportSpec, now: datetime, *, code: str, requirement: str,
                   title: str, kinds: tuple[str, ...]) -> IndicatorValue | None:
    """Tasks of `kinds` due in the period: done by their deadline, against all due (done late, or
    still open past it). Tasks not yet due are left out."""
    period = _period(spec)
    if period is None:
        return None  # hotline work belongs to periods, not to a notice campaign
    t = reflect(session, TASK_TABLES, TASK_COLUMNS)
    if isinstance(t, str):
        return IndicatorValue(code, requirement, title, None, t)
    start, end = period
    naive = {k: v.astimezone(UTC).replace(tzinfo=None) for k, v in (("s", start), ("e", end), ("n", now))}
    on_time = and_(t.c.done_at.is_not(None), t.c.done_at <= t.c.deadline)
    late = or_(and_(t.c.done_at.is_not(None), t.c.done_at > t.c.deadline),
               and_(t.c.done_at.is_(None), t.c.deadline < naive["n"]))
    ok, bad = session.execute(
        select(func.sum(case((on_time, 1), else_=0), type_=Integer), func.sum(case((late, 1), else_=0), type_=Integer))
        .where(t.c.kind.in_(kinds), t.c.deadline >= naive["s"], t.c.deadline < naive["e"])).one()
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
    q = reflect(session, QUEUE_TABLES, QUEUE_COLUMNS)
    if isinstance(q, str):
        return IndicatorValue("answer_breaches", "HL-5", title, None, q)
    start, end = (x.astimezone(UTC).replace(tzinfo=None) for x in period)
    ended = q.c.kind.in_(("connect", "abandon", "timeout"))
    breach = or_(q.c.kind == "timeout", q.c.hold_s > spec.answer_target_s)
    n, bad = session.execute(
        select(func.count(), func.sum(case((breach, 1), else_=0), type_=Integer))
        .where(ended, q.c.at >= start, q.c.at < end)).one()
    n, bad = int(n), int(bad or 0)
    if not n:
        return IndicatorValue("answer_breaches", "HL-5", title, None, f"{NO_DATA} (no queued call in the period)")
    return IndicatorValue("answer_breaches", "HL-5", title, bad, f"{bad} из {n} ожидавших в очереди")
