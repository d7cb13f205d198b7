"""When a template's campaign runs: pure functions of the template's schedule and an instant.

A period is a calendar month ("monthly": days are days of the month; a day past the month's end
means its last day, so "25-31" works in February) or an ISO week ("weekly": days are ISO weekdays,
1 = Monday). The campaign of a period runs from `first_day` at the start time to `last_day` at the
end time, local time; its draft is formed `form_days_before` days before it starts. Sundays and
holidays inside the period are not skipped here: the informing window (calendar.py) closes them at
the instant of each attempt, as for every campaign.
"""

from __future__ import annotations

import calendar as _cal
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from autoinform.errors import AutoinformError

PeriodKind = Literal["monthly", "weekly"]
PERIODS: tuple[str, ...] = get_args(PeriodKind)
MAX_FORM_DAYS = 27  # a draft formed earlier than this could belong to the period before


@dataclass(frozen=True)
class Schedule:
    period: PeriodKind
    first_day: int
    last_day: int
    start_minute: int
    end_minute: int
    form_days_before: int = 2

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise AutoinformError(f"period must be one of {', '.join(PERIODS)}, not {self.period!r}")
        top = 31 if self.period == "monthly" else 7
        if not (1 <= self.first_day <= self.last_day <= top):
            raise AutoinformError(f"{self.period} days must be 1 <= first <= last <= {top}: "
                                  f"{self.first_day}-{self.last_day}")
        if not (0 <= self.start_minute < self.end_minute <= 24 * 60):
            raise AutoinformError("the daily hours must start before they end")
        limit = MAX_FORM_DAYS if self.period == "monthly" else 6
        if not (0 <= self.form_days_before <= limit):
            raise AutoinformError(f"drafts are formed 0 to {limit} days before a {self.period} start")


@dataclass(frozen=True)
class Period:
    key: str  # 2027-03 | 2027-W10
    first: date
    last: date
    form_at: datetime  # UTC
    start_at: datetime
    end_at: datetime


def parse_days(text: str) -> tuple[int, int]:
    """"10-15" or "10" → (10, 15) / (10, 10)."""
    m = re.fullmatch(r"\s*(\d{1,2})\s*(?:[-–]\s*(\d{1,2})\s*)?", text)
    if not m:
        raise AutoinformError(f"days must look like 10-15 or 10, not {text!r}")
    first = int(m.group(1))
    return first, int(m.group(2) or first)


def parse_hours(text: str) -> tuple[int, int]:
    """"10:00-19:00" → minutes after midnight (600, 1140); 24:00 ends at midnight."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*", text)
    if not m:
        raise AutoinformError(f"hours must look like 10:00-19:00, not {text!r}")
    h1, m1, h2, m2 = map(int, m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise AutoinformError(f"not a time of day in {text!r}")
    return h1 * 60 + m1, h2 * 60 + m2


def schedule_from_text(period: str, days: str, hours: str, form_days_before: int = 2) -> Schedule:
    """The schedule as a person types it ("monthly", "10-15", "10:00-19:00"); AutoinformError with
    the reason otherwise. The command line and the web form both take it this way."""
    first, last = parse_days(days)
    start, end = parse_hours(hours)
    return Schedule(period=period, first_day=first, last_day=last,  # type: ignore[arg-type]
                    start_minute=start, end_minute=end, form_days_before=form_days_before)


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _local(day: date, minute: int, tz: ZoneInfo) -> datetime:
    at = datetime.combine(day, time(0), tzinfo=tz) + timedelta(minutes=minute)
    # Re-anchor in the zone (a DST change inside the day; Russia has none since 2014).
    return at.replace(tzinfo=None).replace(tzinfo=tz).astimezone(UTC)


def _span(s: Schedule, key: str, first: date, last: date, tz: ZoneInfo) -> Period:
    start = _local(first, s.start_minute, tz)
    return Period(key=key, first=first, last=last, start_at=start,
                  form_at=start - timedelta(days=s.form_days_before), end_at=_local(last, s.end_minute, tz))


def _month(s: Schedule, year: int, month: int, tz: ZoneInfo) -> Period:
    days = _cal.monthrange(year, month)[1]
    return _span(s, f"{year:04d}-{month:02d}", date(year, month, min(s.first_day, days)),
                 date(year, month, min(s.last_day, days)), tz)


def _week(s: Schedule, monday: date, tz: ZoneInfo) -> Period:
    iso = monday.isocalendar()
    return _span(s, f"{iso.year:04d}-W{iso.week:02d}", monday + timedelta(days=s.first_day - 1),
                 monday + timedelta(days=s.last_day - 1), tz)


def periods_near(s: Schedule, instant: datetime, tz: ZoneInfo) -> list[Period]:
    """The period containing `instant` (local), the one before and the two after, in order."""
    local = instant.astimezone(tz).date()
    if s.period == "monthly":
        index = local.year * 12 + local.month - 1
        return [_month(s, i // 12, i % 12 + 1, tz) for i in range(index - 1, index + 3)]
    monday = local - timedelta(days=local.weekday())
    return [_week(s, monday + timedelta(weeks=k), tz) for k in range(-1, 3)]


def period_by_key(s: Schedule, key: str, tz: ZoneInfo) -> Period:
    if s.period == "monthly":
        year, month = map(int, key.split("-"))
        return _month(s, year, month, tz)
    iso_year, iso_week = key.split("-W")
    return _week(s, date.fromisocalendar(int(iso_year), int(iso_week), 1), tz)


def previous(s: Schedule, p: Period, tz: ZoneInfo) -> Period:
    return periods_near(s, p.start_at, tz)[0]


def open_periods(s: Schedule, now: datetime, tz: ZoneInfo) -> list[Period]:
    """Periods whose draft may be formed or whose campaign may run now: form_at <= now < end_at."""
    return [p for p in periods_near(s, now, tz) if p.form_at <= now < p.end_at]


def next_moment(s: Schedule, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The next instant after `now` at which something is due: a draft to form or a start."""
    moments = [m for p in periods_near(s, now, tz) for m in (p.form_at, p.start_at) if m > now]
    return min(moments) if moments else None
