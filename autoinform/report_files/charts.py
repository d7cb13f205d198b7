"""The report's charts as PNG images, drawn by matplotlib off-screen (AI-5, issue 12 item 4).

Object-oriented matplotlib only (Figure + the Agg canvas, never pyplot, so no GUI backend and no
figure registry to leak). DejaVu Sans ships with matplotlib and has Cyrillic; it is set for the
drawing only (rc_context). matplotlib is not thread-safe and rc_context changes its global settings,
so drawing and PDF writing take DRAWING, one at a time (the web app serves downloads in threads).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

from autoinform.reports import Summary, Table

# text.parse_math off: a "$" in a campaign's name or a reason is text, not TeX to typeset (or fail on).
FONT: dict[Any, Any] = {"font.family": "DejaVu Sans", "font.size": 9, "text.parse_math": False}
POSITIVE, NEGATIVE = "#2e7d32", "#c62828"
DRAWING = threading.Lock()


@dataclass(frozen=True)
class Chart:
    key: str  # the table it draws
    title: str
    png: bytes


def _figure(width: float = 8.0, height: float = 4.0) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=120, layout="constrained")


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _empty(ax: Any) -> None:
    ax.text(0.5, 0.5, "нет данных", ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def _stacked(ax: Any, labels: list[str], pos: list[int], neg: list[int], *, horizontal: bool = False) -> None:
    if not labels:
        _empty(ax)
        return
    bar = ax.barh if horizontal else ax.bar
    bar(labels, pos, color=POSITIVE, label="положительные")
    if horizontal:
        ax.barh(labels, neg, left=pos, color=NEGATIVE, label="отрицательные")
        ax.invert_yaxis()
    else:
        ax.bar(labels, neg, bottom=pos, color=NEGATIVE, label="отрицательные")
    ax.legend(loc="best", fontsize=8)
    from matplotlib.ticker import MaxNLocator

    (ax.xaxis if horizontal else ax.yaxis).set_major_locator(MaxNLocator(integer=True))  # people, not fractions


def channel_chart(t: Table) -> Any:
    fig = _figure()
    ax = fig.add_subplot()
    _stacked(ax, [str(r[0]) for r in t.rows], [r[4] for r in t.rows], [r[5] for r in t.rows])
    ax.set_title("Итоги по каналам (завершённые оповещения)")
    return fig


def division_chart(t: Table) -> Any:
    fig = _figure(8.0, max(3.0, 0.35 * len(t.rows) + 1.2))
    ax = fig.add_subplot()
    _stacked(ax, [str(r[0]) for r in t.rows], [r[3] for r in t.rows], [r[4] for r in t.rows], horizontal=True)
    ax.set_title("Итоги по подразделениям")
    return fig


def hour_chart(t: Table) -> Any:
    fig = _figure()
    ax = fig.add_subplot()
    by_hour = {r[0]: r for r in t.rows}
    if by_hour:
        hours = list(range(24))
        _stacked(ax, [f"{h:02d}" for h in hours], [by_hour[h][2] if h in by_hour else 0 for h in hours],
                 [by_hour[h][3] if h in by_hour else 0 for h in hours])
        ax.set_xlabel("час (местное время)")
    else:
        _empty(ax)
    ax.set_title("Попытки по часам суток")
    return fig


def share_chart(t: Table) -> Any:
    fig = _figure()
    ax = fig.add_subplot()
    points = [(date.fromisoformat(r[0]), r[4]) for r in t.rows if r[4] is not None]
    if points:
        from matplotlib.dates import AutoDateLocator, DateFormatter

        # A date axis, so a day without results is a gap, not a neighbour.
        ax.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o", color=POSITIVE)
        ax.set_ylim(0, 100)
        ax.set_ylabel("% положительных")
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=12))
        ax.xaxis.set_major_formatter(DateFormatter("%d.%m.%Y"))
        ax.tick_params(axis="x", labelrotation=45)
    else:
        _empty(ax)
    ax.set_title("Доля положительных по дням")
    return fig


DRAWERS = (("by_channel", channel_chart), ("by_division", division_chart), ("by_hour", hour_chart),
           ("by_day", share_chart))


def draw(summary: Summary) -> list[Chart]:
    """The four charts, always all four (an empty one says "нет данных")."""
    from matplotlib import rc_context

    charts = []
    with DRAWING, rc_context(FONT):
        for key, drawer in DRAWERS:
            t = summary.table(key)
            charts.append(Chart(key, t.title, _png(drawer(t))))
    return charts


def draw_one(summary: Summary, key: str) -> Chart:
    """One of the four charts, for a page that shows them one image at a time (issue 12);
    KeyError for a key that is not one of DRAWERS'."""
    from matplotlib import rc_context

    drawer = dict(DRAWERS)[key]
    t = summary.table(key)
    with DRAWING, rc_context(FONT):
        return Chart(key, t.title, _png(drawer(t)))
