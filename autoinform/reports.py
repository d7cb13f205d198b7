"""The campaign report (AI-5) and its roll-ups by customer group and division (6.2.4).

Counts only: no personal data, so a report can be shared beyond those who may see customers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session

from autoinform import campaigns
from autoinform.models import Attempt, Customer, Delivery, DeliveryState, Division, Outcome

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
