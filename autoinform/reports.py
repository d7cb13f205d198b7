"""The campaign report (AI-5) and its roll-ups by customer group and division (6.2.4).

campaign_report: counts only, no personal data, so it can be shared beyond those who may see
customers (the CLI's `campaigns report`, the demo). build_summary and result_rows: the data of the
report files (autoinform/report_files/), per campaign or per period; result_rows carries one line
per customer, with names and contacts masked unless the spec says the reader may see them (AI-19).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session, aliased

from autoinform import campaigns
from autoinform.logs import mask_destination, mask_text
from autoinform.models import Attempt, Campaign, Channel, Customer, Delivery, DeliveryState, Division, Outcome
from autoinform.reasons import describe
from autoinform.report_files.scope import ReportSpec, Share

GROUPS = {1: "население", 2: "исполнители коммунальных услуг", 3: "прочие потребители",
          4: "бюджетные организации"}


def _rate(positive: int, done: int) -> float | None:
    return round(positive / done, 4) if done else None


def campaign_report(session: Session, campaign_id: int) -> dict[str, Any]:
    report = campaigns.progress(session, campaign_id)
    done = Delivery.state == DeliveryState.DONE
    positive = func.sum(case((Delivery.outcome == Outcome.POSITIVE, 1), else_=0), type_=Integer)

    def rollup(key: Any, label: Any = None) -> list[dict[str, Any]]:
        cols = [key] if label is None else [key, label]
        q = (select(*cols, func.count(), positive)
             .select_from(Delivery).join(Customer, Customer.id == Delivery.customer_id)
             .outerjoin(Division, Division.id == Customer.division_id)
             .where(Delivery.campaign_id == campaign_id, done).group_by(*cols).order_by(key))
        out = []
        for row in session.execute(q):
            k, n, pos = row[0], int(row[-2]), int(row[-1] or 0)
            out.append({"key": k, "label": row[1] if label is not None else k, "done": n,
                        "positive": pos, "negative": n - pos, "positive_rate": _rate(pos, n)})
        return out

    by_group = rollup(Customer.group)
    for g in by_group:
        g["label"] = GROUPS.get(g["key"], str(g["key"]))
    report["by_group"] = by_group
    report["by_division"] = rollup(Division.code, Division.name)
    report["by_channel"] = [
        {"channel": ch.value if ch else None, "attempts": int(n), "positive": int(p or 0)}
        for ch, n, p in session.execute(
            select(Attempt.channel, func.count(),
                   func.sum(case((Attempt.outcome == Outcome.POSITIVE, 1), else_=0), type_=Integer))
            .join(Delivery, Delivery.id == Attempt.delivery_id)
            .where(Delivery.campaign_id == campaign_id).group_by(Attempt.channel))
    ]
    report["by_reason"] = by_reason(report["results"])
    total_done = sum(g["done"] for g in by_group)
    total_pos = sum(g["positive"] for g in by_group)
    report["positive_rate"] = _rate(total_pos, total_done)
    return report


def by_reason(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Final results by reason code, most first, each with the distinct words behind it and their
    counts ("missing_variable": "missing variable hotline_phone" 523): issue 9 item 2."""
    grouped: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    for r in results:
        g = grouped.setdefault((r["outcome"], r["reason"]), {"outcome": r["outcome"], "reason": r["reason"],
                                                             "count": 0, "texts": []})
        g["count"] += r["count"]
        g["texts"].append({"text": r["text"], "count": r["count"]})
    for g in grouped.values():
        g["texts"].sort(key=lambda t: (-t["count"], t["text"]))
    return sorted(grouped.values(), key=lambda g: (g["outcome"] != "negative", -g["count"], g["reason"] or ""))


# --- Report files' data (issue 12 item 4): summary tables and the customers' results, by scope ---
#
# Every summary is a GROUP BY in the database, so its cost in Python follows the number of groups,
# not of deliveries; the customers' results are streamed (result_rows) for the writers to consume.

@dataclass
class Table:
    """One summary table: a sheet in XLSX, a section in CSV, a table on a PDF page."""

    key: str  # stable id: charts and tests find tables by it
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class Summary:
    spec: ReportSpec
    title: str
    generated_at: datetime
    tables: list[Table]

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


CHANNEL_LABELS = {"phone": "телефон", "sms": "SMS", "email": "e-mail"}
OUTCOME_LABELS = {"positive": "положительный", "negative": "отрицательный"}
CAMPAIGN_STATE_LABELS = {"draft": "черновик", "approved": "утверждена", "scheduled": "запланирована",
                         "running": "идёт", "paused": "приостановлена", "completed": "завершена",
                         "cancelled": "отменена", "expired": "окно истекло"}
DELIVERY_STATE_LABELS = {"pending": "ожидает", "claimed": "отправляется", "awaiting": "ждёт статуса",
                         "done": "завершено"}
RESULT_COLUMNS = ("Кампания", "Лицевой счёт", "Клиент", "Подразделение", "Группа", "Канал", "Контакт",
                  "Состояние", "Результат", "Причина", "Пояснение", "Попыток", "Завершено")


def _share(positive: int, done: int) -> Share | None:
    return Share(positive / done) if done else None


def _positive() -> Any:
    return func.sum(case((Delivery.outcome == Outcome.POSITIVE, 1), else_=0), type_=Integer)


def _negative() -> Any:
    return func.sum(case((Delivery.outcome == Outcome.NEGATIVE, 1), else_=0), type_=Integer)


def _delivery_scope(spec: ReportSpec) -> list[Any]:
    """A campaign report covers all its deliveries; a period report the results that ended in it."""
    if spec.campaign_id is not None:
        return [Delivery.campaign_id == spec.campaign_id]
    start, end = spec.bounds()
    return [Delivery.state == DeliveryState.DONE, Delivery.finished_at >= start, Delivery.finished_at < end]


def _attempt_scope(spec: ReportSpec) -> list[Any]:
    if spec.campaign_id is not None:
        return [Delivery.campaign_id == spec.campaign_id]
    start, end = spec.bounds()
    return [Attempt.started_at >= start, Attempt.started_at < end]


def _utc_hour(session: Session, column: Any) -> Any:
    """The UTC hour an instant falls in, as 'YYYY-MM-DD HH' text: grouped in the database, turned to
    local time in Python (a zone's offset is whole hours here, so an hour bucket stays whole)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


def _local(bucket: str, tz: ZoneInfo) -> datetime:
    return datetime.strptime(bucket, "%Y-%m-%d %H").replace(tzinfo=UTC).astimezone(tz)


def _rollup(session: Session, spec: ReportSpec, *keys: Any) -> list[tuple[Any, ...]]:
    """(keys…, done, positive, negative) over the scope's finished deliveries."""
    q = (select(*keys, func.count(), _positive(), _negative())
         .select_from(Delivery).join(Customer, Customer.id == Delivery.customer_id)
         .outerjoin(Division, Division.id == Customer.division_id)
         .where(*_delivery_scope(spec), Delivery.state == DeliveryState.DONE)
         .group_by(*keys).order_by(*keys))
    return [(*row[:-3], int(row[-3]), int(row[-2] or 0), int(row[-1] or 0)) for row in session.execute(q)]


def build_summary(session: Session, spec: ReportSpec, *, now: datetime | None = None) -> Summary:
    """Every summary table of a report, computed in the database (no per-delivery objects)."""
    from autoinform.report_files.indicators import compute_all

    tz = spec.tz
    now = now or datetime.now(UTC)
    scope = _delivery_scope(spec)
    if spec.campaign_id is not None:
        c = campaigns.get(session, spec.campaign_id)
        title = f"Отчёт по кампании №{c.id} «{c.name}»"
        heading: list[tuple[str, Any]] = [
            ("Кампания", f"№{c.id} «{c.name}»"), ("Состояние", CAMPAIGN_STATE_LABELS.get(c.state.value, c.state.value)),
            ("Каналы", ", ".join(CHANNEL_LABELS.get(ch, ch) for ch in c.channels)),
            ("Окно", f"{c.start_at.astimezone(tz):%Y-%m-%d %H:%M} — {c.end_at.astimezone(tz):%Y-%m-%d %H:%M}"),
            ("Сформировал", c.created_by), ("Утвердил", c.approved_by or "—")]
    else:
        title = f"Отчёт за период {spec.since} — {spec.until}"
        heading = [("Период", f"{spec.since} — {spec.until} (все кампании)")]

    states = dict(session.execute(select(Delivery.state, func.count()).where(*scope).group_by(Delivery.state)).all())
    total = int(sum(states.values()))
    done_n = int(states.get(DeliveryState.DONE, 0))
    pos_n, neg_n = (int(x or 0) for x in session.execute(
        select(_positive(), _negative()).where(*scope, Delivery.state == DeliveryState.DONE)).one())
    attempts_n = int(session.scalar(select(func.count()).select_from(Attempt)
                                    .join(Delivery, Delivery.id == Attempt.delivery_id)
                                    .where(*_attempt_scope(spec))) or 0)
    overview = Table("overview", "Сводка", ("Показатель", "Значение"), [
        *heading, ("Клиентов", total), ("Завершено", done_n), ("В работе", total - done_n),
        ("Положительных", pos_n), ("Отрицательных", neg_n), ("Доля положительных", _share(pos_n, done_n)),
        ("Попыток", attempts_n), ("Часовой пояс", spec.timezone),
        ("Сформирован", f"{now.astimezone(tz):%Y-%m-%d %H:%M}")])

    # Outcomes by channel: final results by the channel that ended them, attempts by channel tried.
    tried = {ch: (int(n), int(p or 0)) for ch, n, p in session.execute(
        select(Attempt.channel, func.count(),
               func.sum(case((Attempt.outcome == Outcome.POSITIVE, 1), else_=0), type_=Integer))
        .join(Delivery, Delivery.id == Attempt.delivery_id).where(*_attempt_scope(spec))
        .group_by(Attempt.channel))}
    final = {ch: (d, p, n) for ch, d, p, n in _rollup(session, spec, Delivery.channel)}
    by_channel = Table("by_channel", "Результаты по каналам",
                       ("Канал", "Попыток", "Попыток положительных", "Завершено", "Положительных",
                        "Отрицательных", "Доля положительных"))
    for ch in [*Channel, None]:
        if ch not in tried and ch not in final:
            continue
        d, p, n = final.get(ch, (0, 0, 0))
        a, ap = tried.get(ch, (0, 0))
        by_channel.rows.append((CHANNEL_LABELS.get(ch.value, ch.value) if ch else "без канала", a, ap, d, p, n,
                                _share(p, d)))

    by_division = Table("by_division", "По подразделениям (6.2.4)",
                        ("Подразделение", "Код", "Завершено", "Положительных", "Отрицательных",
                         "Доля положительных"),
                        [(name or "не указано", code or "", d, p, n, _share(p, d))
                         for code, name, d, p, n in _rollup(session, spec, Division.code, Division.name)])
    by_group = Table("by_group", "По группам потребителей",
                     ("Группа", "Название", "Завершено", "Положительных", "Отрицательных", "Доля положительных"),
                     [(g, GROUPS.get(g, str(g)), d, p, n, _share(p, d))
                      for g, d, p, n in _rollup(session, spec, Customer.group)])
    by_division_group = Table("by_division_group", "По подразделениям и группам",
                              ("Подразделение", "Группа", "Завершено", "Положительных", "Отрицательных",
                               "Доля положительных"),
                              [(name or "не указано", g, d, p, n, _share(p, d))
                               for _code, name, g, d, p, n in _rollup(session, spec, Division.code, Division.name,
                                                                      Customer.group)])

    # Attempts by local hour of day: when customers answer (the hours to call in).
    hour_key = _utc_hour(session, Attempt.started_at)
    hours: dict[int, list[int]] = {}
    for bucket, outcome, n in session.execute(
            select(hour_key, Attempt.outcome, func.count()).join(Delivery, Delivery.id == Attempt.delivery_id)
            .where(*_attempt_scope(spec)).group_by(hour_key, Attempt.outcome)):
        h = hours.setdefault(_local(bucket, tz).hour, [0, 0, 0])
        h[0 if outcome is Outcome.POSITIVE else 1 if outcome is Outcome.NEGATIVE else 2] += int(n)
    by_hour = Table("by_hour", "Попытки по часам суток",
                    ("Час", "Попыток", "Положительных", "Отрицательных", "Без итога", "Доля положительных"),
                    [(h, sum(v), v[0], v[1], v[2], _share(v[0], v[0] + v[1])) for h, v in sorted(hours.items())])

    # Final results by local day: the positive share over time.
    day_key = _utc_hour(session, Delivery.finished_at)
    days: dict[date, list[int]] = {}
    for bucket, p, n in session.execute(
            select(day_key, _positive(), _negative()).where(*scope, Delivery.state == DeliveryState.DONE)
            .group_by(day_key)):
        if bucket is None:
            continue
        v = days.setdefault(_local(bucket, tz).date(), [0, 0])
        v[0] += int(p or 0)
        v[1] += int(n or 0)
    by_day = Table("by_day", "Доля положительных по дням",
                   ("Дата", "Завершено", "Положительных", "Отрицательных", "Доля положительных"),
                   [(d.isoformat(), p + n, p, n, _share(p, p + n)) for d, (p, n) in sorted(days.items())])

    reasons = Table("by_reason", "Итоги по причинам", ("Итог", "Причина", "Пояснение", "Клиентов"))
    for outcome, reason, text, n in session.execute(
            select(Delivery.outcome, Delivery.reason, Delivery.reason_text, func.count())
            .where(*scope, Delivery.state == DeliveryState.DONE)
            .group_by(Delivery.outcome, Delivery.reason, Delivery.reason_text)
            .order_by(Delivery.outcome, func.count().desc())):
        reasons.rows.append((OUTCOME_LABELS.get(outcome.value, outcome.value) if outcome else "—", reason or "",
                             describe(reason, text), int(n)))

    tables = [overview, by_channel, by_division, by_group, by_division_group, by_hour, by_day, reasons]
    if spec.is_period:
        by_campaign = Table("by_campaign", "По кампаниям",
                            ("Кампания", "Название", "Состояние", "Завершено", "Положительных", "Отрицательных",
                             "Доля положительных"))
        for cid, name, state, d, p, n in _campaign_rollup(session, spec):
            by_campaign.rows.append((cid, name, CAMPAIGN_STATE_LABELS.get(state.value, state.value), d, p, n,
                                     _share(p, d)))
        tables.insert(1, by_campaign)
    indicators = compute_all(session, spec, now=now)
    tables.append(Table("indicators", "Показатели качества (6.1.6)",
                        ("Код", "Требование", "Показатель", "Значение", "Пояснение"),
                        [(i.code, i.requirement, i.title, i.value, i.note) for i in indicators]))
    return Summary(spec, title, now, tables)


def _campaign_rollup(session: Session, spec: ReportSpec) -> list[tuple[Any, ...]]:
    q = (select(Campaign.id, Campaign.name, Campaign.state, func.count(), _positive(), _negative())
         .select_from(Delivery).join(Campaign, Campaign.id == Delivery.campaign_id)
         .where(*_delivery_scope(spec)).group_by(Campaign.id, Campaign.name, Campaign.state).order_by(Campaign.id))
    return [(*row[:3], int(row[3]), int(row[4] or 0), int(row[5] or 0)) for row in session.execute(q)]


def count_results(session: Session, spec: ReportSpec) -> int:
    return int(session.scalar(select(func.count()).select_from(Delivery).where(*_delivery_scope(spec))) or 0)


def result_rows(session: Session, spec: ReportSpec, *, batch: int = 2000) -> Iterator[tuple[Any, ...]]:
    """Every customer's final result with its reason and attempts (RESULT_COLUMNS), streamed in
    batches of `batch` rows (a server-side cursor on PostgreSQL): a 100k-customer campaign never
    sits in memory. Names and contacts masked unless spec.personal (AI-19)."""
    tz = spec.tz
    tried = (select(Attempt.delivery_id, func.count().label("n"), func.max(Attempt.id).label("last_id"))
             .join(Delivery, Delivery.id == Attempt.delivery_id).where(*_delivery_scope(spec))
             .group_by(Attempt.delivery_id).subquery())
    last = aliased(Attempt)
    q = (select(Delivery.campaign_id, Customer.account, Customer.name, Division.name, Customer.group,
                Delivery.channel, last.destination, Delivery.state, Delivery.outcome, Delivery.reason,
                Delivery.reason_text, tried.c.n, Delivery.finished_at)
         .select_from(Delivery).join(Customer, Customer.id == Delivery.customer_id)
         .outerjoin(Division, Division.id == Customer.division_id)
         .outerjoin(tried, tried.c.delivery_id == Delivery.id)
         .outerjoin(last, last.id == tried.c.last_id)
         .where(*_delivery_scope(spec)).order_by(Delivery.campaign_id, Delivery.id)
         .execution_options(yield_per=batch))
    for (cid, account, name, division, group, channel, contact, state, outcome, reason, text, n,
         finished) in session.execute(q):
        if not spec.personal:
            name = mask_text(name or "")
            contact = mask_destination(contact) if contact else contact
        yield (cid, account, name, division or "", group,
               CHANNEL_LABELS.get(channel.value, channel.value) if channel else "",
               contact or "",
               DELIVERY_STATE_LABELS.get(state.value, state.value),
               OUTCOME_LABELS.get(outcome.value, "") if outcome else "",
               reason or "",
               describe(reason, text) if outcome else "",
               int(n or 0),
               f"{finished.astimezone(tz):%Y-%m-%d %H:%M}" if finished else "")
