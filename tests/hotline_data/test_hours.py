"""Reception hours (HL-2, clause 6.3.4): per weekday, holidays closed, at least five days, and
deadlines counted in reception hours."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from autoinform.config import load_settings
from autoinform.errors import ConfigError
from autoinform.hotline.hours import ReceptionHours, parse_hours

TZ = ZoneInfo("Europe/Astrakhan")
DEFAULT = {"mon": "08:00-17:00", "tue": "08:00-17:00", "wed": "08:00-17:00", "thu": "08:00-17:00",
           "fri": "08:00-16:00"}


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


@pytest.fixture
def hours() -> ReceptionHours:
    return ReceptionHours.from_setting(DEFAULT, TZ)


@pytest.mark.parametrize(("at", "is_open"), [
    (local(2026, 12, 2, 7, 59), False), (local(2026, 12, 2, 8, 0), True), (local(2026, 12, 2, 16, 59), True),
    (local(2026, 12, 2, 17, 0), False),  # the closing minute is shut
    (local(2026, 12, 4, 15, 59), True), (local(2026, 12, 4, 16, 0), False),  # Friday closes at 16:00
    (local(2026, 12, 5, 12, 0), False), (local(2026, 12, 6, 12, 0), False),  # Saturday, Sunday
    (local(2026, 11, 4, 12, 0), False),  # Wednesday 4 November: Day of National Unity
])
def test_open_by_weekday_and_calendar(hours: ReceptionHours, at: datetime, is_open: bool) -> None:
    assert hours.is_open(at) is is_open
    opened, closes_at, opens_at = hours.reception(at)
    assert opened is is_open
    assert (closes_at is not None) is is_open and (opens_at is None) is is_open


def test_closed_says_when_it_opens_next(hours: ReceptionHours) -> None:
    # Friday 16:30 → Monday 08:00 local
    _, _, opens = hours.reception(local(2026, 12, 4, 16, 30))
    assert opens == local(2026, 12, 7, 8, 0)
    # the New Year holidays: 31 December after hours → the first working day of 2027
    _, _, opens = hours.reception(local(2026, 12, 31, 18, 0))
    assert opens is not None and opens.astimezone(TZ).date() > local(2027, 1, 8, 0).date()


def test_holidays_open_when_set() -> None:
    hours = ReceptionHours.from_setting(DEFAULT, TZ, holidays_open=True)
    assert hours.is_open(local(2026, 11, 4, 12, 0))


def test_add_hours_skips_closed_time(hours: ReceptionHours) -> None:
    # Friday 15:00 + 8 reception hours: 1 h on Friday, 7 h on Monday → Monday 15:00
    assert hours.add_hours(local(2026, 12, 4, 15, 0), 8) == local(2026, 12, 7, 15, 0)
    # after hours on Wednesday → Thursday 08:00 + 8 h
    assert hours.add_hours(local(2026, 12, 2, 20, 1), 8) == local(2026, 12, 3, 16, 0)
    # exactly the rest of the day ends at the closing instant
    assert hours.add_hours(local(2026, 12, 2, 9, 0), 8) == local(2026, 12, 2, 17, 0)


def test_end_of_next_day(hours: ReceptionHours) -> None:
    assert hours.end_of_next_day(local(2026, 12, 4, 10, 0)) == local(2026, 12, 7, 17, 0)
    assert hours.end_of_next_day(local(2026, 12, 2, 23, 0)) == local(2026, 12, 3, 17, 0)


@pytest.mark.parametrize(("setting", "message"), [
    ({**DEFAULT, "fri": "8-16"}, "not HH:MM-HH:MM"),
    ({**DEFAULT, "fri": "17:00-08:00"}, "start must be before the end"),
    ({**DEFAULT, "fri": "08:00-25:00"}, "no such time"),
    ({k: v for k, v in DEFAULT.items() if k != "fri"}, "at least 5 days"),
    ({**DEFAULT, "funday": "08:00-12:00"}, "unknown weekday"),
])
def test_bad_hours_are_refused_with_the_reason(setting: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hours(setting)


def test_bad_hours_stop_the_settings_from_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOINFORM_HOTLINE__HOURS", '{"mon": "08:00-17:00", "tue": "09:00-08:00"}')
    with pytest.raises(ConfigError, match=r"hotline\.hours"):
        load_settings()


def test_a_weekend_day_can_be_open() -> None:
    hours = ReceptionHours.from_setting({**DEFAULT, "Saturday": "09:00-13:00"}, TZ)
    assert hours.is_open(local(2026, 12, 5, 10, 0)) and not hours.is_open(local(2026, 12, 5, 13, 0))
    assert hours.add_hours(datetime(2026, 12, 4, 11, 30, tzinfo=UTC), 2) == local(2026, 12, 5, 10, 30)
