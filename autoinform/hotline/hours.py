"""The hotline's reception hours (HL-2, clause 6.3.4) as pure functions of an instant.

Hours are set per weekday ("mon": "08:00-17:00"); a day not named is closed. Russian public
holidays and the days off moved by the production calendar are closed unless `holidays_open`
(the calendar is autoinform.calendar's). At least five days a week must be open (6.3.4), checked
when the settings load. Deadlines counted in reception hours ("callback within 8 reception hours")
walk the open spans forward from the request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from autoinform.calendar import _calendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIN_OPEN_DAYS = 5  # clause 6.3.4: "не менее чем 5 дней в неделю"
HORIZON_DAYS = 60  # the longest closure (New Year holidays) is well inside this
_SPAN = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


def parse_span(text: str) -> tuple[time, time]:
    """'08:00-17:00' → (08:00, 17:00); ValueError with the reason otherwise."""
    m = _SPAN.fullmatch(text)
    if m is None:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError:
        raise ValueError(f"{text!r}: no such time of day") from None
    if start >= end:
        raise ValueError(f"{text!r}: the start must be before the end")
    return start, end


def parse_hours(hours: dict[str, str]) -> dict[int, tuple[time, time]]:
    """The setting as {weekday number: (start, end)}; ValueError naming the bad entry."""
    spans: dict[int, tuple[time, time]] = {}
    for name, text in hours.items():
        key = name.strip().lower()[:3]
        if key not in WEEKDAYS or name.strip().lower() not in (key, _full(key)):
            raise ValueError(f"hotline.hours: unknown weekday {name!r} (use {', '.join(WEEKDAYS)})")
        day = WEEKDAYS.index(key)
        if day in spans:
            raise ValueError(f"hotline.hours: {WEEKDAYS[day]} is given twice")
        try:
            spans[day] = parse_span(text)
        except ValueError as exc:
            raise ValueError(f"hotline.hours.{name}: {exc}") from None
    if len(spans) < MIN_OPEN_DAYS:
        raise ValueError(f"hotline.hours: calls must be taken at least {MIN_OPEN_DAYS} days a week "
                         f"(clause 6.3.4), only {len(spans)} given")
    return spans


def _full(key: str) -> str:
    return {"mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday", "fri": "friday",
            "sat": "saturday", "sun": "sunday"}[key]


@dataclass(frozen=True)
class ReceptionHours:
    spans: dict[int, tuple[time, time]]
    tz: ZoneInfo
    holidays_open: bool = False
    country: str = "RU"

    @classmethod
    def from_setting(cls, hours: dict[str, str], tz: ZoneInfo, *, holidays_open: bool = False,
                     country: str = "RU") -> ReceptionHours:
        return cls(parse_hours(hours), tz, holidays_open, country)

    def span_on(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's reception hours as aware UTC instants, or None when closed all day."""
        span = self.spans.get(day.weekday())
        if span is None:
            return None
        if not self.holidays_open and day in _calendar(self.country, day.year):
            return None  # a public holiday or a day off moved there
        start = datetime.combine(day, span[0], tzinfo=self.tz).astimezone(UTC)
        end = datetime.combine(day, span[1], tzinfo=self.tz).astimezone(UTC)
        return start, end

    def is_open(self, at: datetime) -> bool:
        span = self.span_on(_local(at, self.tz).date())
        return span is not None and span[0] <= at < span[1]

    def next_span(self, at: datetime) -> tuple[datetime, datetime]:
        """The span containing `at`, or else the next one to start."""
        day = _local(at, self.tz).date()
        for _ in range(HORIZON_DAYS):
            span = self.span_on(day)
            if span is not None and at < span[1]:
                return span
            day += timedelta(days=1)
        raise ValueError(f"no reception hours within {HORIZON_DAYS} days of {at.isoformat()}")

    def reception(self, at: datetime) -> tuple[bool, datetime | None, datetime | None]:
        """(open, closes_at when open, opens_at when closed), half-open: the closing minute is shut."""
        start, end = self.next_span(at)
        if start <= at:
            return True, end, None
        return False, None, start

    def add_hours(self, at: datetime, hours: float) -> datetime:
        """The instant `hours` reception hours after `at` (time outside the hours does not count)."""
        remaining = timedelta(hours=hours)
        cur = at
        while True:
            start, end = self.next_span(cur)
            cur = max(cur, start)
            if cur + remaining <= end:
                return cur + remaining
            remaining -= end - cur
            cur = end

    def end_of_next_day(self, at: datetime) -> datetime:
        """The close of the first reception day after `at`'s local date (a visit request's term)."""
        day = _local(at, self.tz).date() + timedelta(days=1)
        midnight = datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)
        return self.next_span(midnight)[1]


def _local(at: datetime, tz: ZoneInfo) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime: pass an aware instant")
    return at.astimezone(tz)
