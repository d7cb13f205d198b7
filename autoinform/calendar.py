"""The legal informing window (AI-13) as pure functions of an instant and the Russian calendar.

The standard (Section 8, item 7.1): "кроме праздничных и воскресных дней с 10:00 до 20:00". The
days come from `holidays` RU: public holidays and the days off moved there by the production
calendar (transfer days) are closed, Sundays are always closed, and every other day is open,
ordinary and working Saturdays alike. The window is half-open: 10:00 is allowed, 20:00 is not.

`calendar` chooses the days: "legal" (the default, the rule above), "working_days" (working days
only: also closes ordinary Saturdays, for a retailer that wants less than the law allows) and
"any" (no calendar at all, Sundays included: only for sandboxes whose messages go to local sinks).
Working-day arithmetic for scenario timelines (is_working_day, add_working_days) is separate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, get_args
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import holidays

SUNDAY = 6
DayRule = Literal["legal", "working_days", "any"]
DAY_RULES: tuple[str, ...] = get_args(DayRule)


@lru_cache(maxsize=64)
def _calendar(country: str, year: int) -> holidays.HolidayBase:
    # Imported here: the settings import this module, and `holidays` would cost every command
    # (and every classic AGI call) tens of milliseconds at start (issue 9 item 5).
    import holidays

    return holidays.country_holidays(country, years=year, language="ru")


def is_working_day(day: date, country: str = "RU") -> bool:
    if day.weekday() == SUNDAY:
        return False
    cal = _calendar(country, day.year)
    return bool(cal.is_working_day(day))


def is_informing_day(day: date, country: str = "RU") -> bool:
    """Open by the standard: not a Sunday, not a public holiday, not a transfer day off."""
    return day.weekday() != SUNDAY and day not in _calendar(country, day.year)


def holiday_name(day: date, country: str = "RU") -> str | None:
    name = _calendar(country, day.year).get(day)
    return str(name) if name else None


@dataclass(frozen=True)
class InformingWindow:
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Astrakhan"))
    start: time = time(10, 0)
    end: time = time(20, 0)
    calendar: DayRule = "legal"
    country: str = "RU"

    def __post_init__(self) -> None:
        if self.calendar not in DAY_RULES:
            raise ValueError(f"window calendar must be one of {', '.join(DAY_RULES)}, not {self.calendar!r}")

    def _day_allowed(self, day: date) -> bool:
        if self.calendar == "legal":
            return is_informing_day(day, self.country)
        if self.calendar == "working_days":
            return is_working_day(day, self.country)
        return True

    def allows(self, instant: datetime) -> bool:
        """May a call start or a message leave at this instant?"""
        local = _aware(instant).astimezone(self.tz)
        if not self._day_allowed(local.date()):
            return False
        return self.start <= local.time().replace(tzinfo=None) < self.end

    def next_allowed(self, instant: datetime, *, horizon_days: int = 60) -> datetime:
        """The instant itself if allowed, else the next window opening (UTC)."""
        instant = _aware(instant)
        if self.allows(instant):
            return instant.astimezone(UTC)
        local = instant.astimezone(self.tz)
        day = local.date()
        if local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)
        for _ in range(horizon_days):
            if self._day_allowed(day):
                opening = datetime.combine(day, self.start, tzinfo=self.tz)
                return opening.astimezone(UTC)
            day += timedelta(days=1)
        raise ValueError(f"no informing window within {horizon_days} days of {instant.isoformat()}")

    def closes_at(self, instant: datetime) -> datetime:
        """When the window containing `instant` closes (UTC); instant must be allowed."""
        local = _aware(instant).astimezone(self.tz)
        return datetime.combine(local.date(), self.end, tzinfo=self.tz).astimezone(UTC)


class OpenSpan:
    """InformingWindow.allows for a stream of rising instants: after one allowed instant, any
    instant up to that window's closing is allowed by a comparison, without the calendar."""

    def __init__(self, window: InformingWindow) -> None:
        self.window = window
        self._span: tuple[datetime, datetime] | None = None

    def allows(self, instant: datetime) -> bool:
        span = self._span
        if span is not None and span[0] <= instant < span[1]:
            return True
        if not self.window.allows(instant):
            return False
        self._span = (instant, self.window.closes_at(instant))
        return True


def add_working_days(day: date, n: int, country: str = "RU") -> date:
    """The date n working days after (n > 0) or before (n < 0) `day`."""
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    while remaining:
        day += timedelta(days=step)
        if is_working_day(day, country):
            remaining -= 1
    return day


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetime: pass an aware instant")
    return instant
