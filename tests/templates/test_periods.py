"""Template periods as pure functions (issue 14): monthly and weekly spans in local time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from autoinform.errors import AutoinformError
from autoinform.templates.periods import (
    Schedule,
    next_moment,
    open_periods,
    parse_days,
    parse_hours,
    period_by_key,
    periods_near,
)

TZ = ZoneInfo("Europe/Astrakhan")  # UTC+4
MONTHLY = Schedule("monthly", 10, 15, 600, 1140, form_days_before=2)


def test_monthly_span_is_local_days_and_hours() -> None:
    p = period_by_key(MONTHLY, "2027-03", TZ)
    assert (p.first, p.last) == (date(2027, 3, 10), date(2027, 3, 15))
    assert p.start_at == datetime(2027, 3, 10, 6, 0, tzinfo=UTC)  # 10:00 in Astrakhan
    assert p.end_at == datetime(2027, 3, 15, 15, 0, tzinfo=UTC)  # 19:00
    assert p.form_at == datetime(2027, 3, 8, 6, 0, tzinfo=UTC)


def test_days_past_the_month_end_mean_its_last_day() -> None:
    s = Schedule("monthly", 25, 31, 600, 1200)
    feb = period_by_key(s, "2027-02", TZ)
    assert (feb.first, feb.last) == (date(2027, 2, 25), date(2027, 2, 28))
    s30 = Schedule("monthly", 30, 31, 600, 1200)
    assert period_by_key(s30, "2028-02", TZ).first == date(2028, 2, 29)


def test_weekly_uses_iso_weekdays() -> None:
    s = Schedule("weekly", 1, 3, 600, 1080, form_days_before=1)  # Monday to Wednesday
    p = period_by_key(s, "2027-W10", TZ)
    assert (p.first, p.last) == (date(2027, 3, 8), date(2027, 3, 10))
    near = periods_near(s, datetime(2027, 3, 9, 12, tzinfo=UTC), TZ)
    assert [q.key for q in near] == ["2027-W09", "2027-W10", "2027-W11", "2027-W12"]


def test_open_periods_and_next_moment() -> None:
    before = datetime(2027, 3, 8, 5, 59, tzinfo=UTC)
    assert open_periods(MONTHLY, before, TZ) == []
    assert next_moment(MONTHLY, before, TZ) == datetime(2027, 3, 8, 6, 0, tzinfo=UTC)  # form the draft
    at_form = datetime(2027, 3, 8, 6, 0, tzinfo=UTC)
    assert [p.key for p in open_periods(MONTHLY, at_form, TZ)] == ["2027-03"]
    assert next_moment(MONTHLY, at_form, TZ) == datetime(2027, 3, 10, 6, 0, tzinfo=UTC)  # the start
    after_end = datetime(2027, 3, 15, 15, 0, tzinfo=UTC)
    assert open_periods(MONTHLY, after_end, TZ) == []
    assert next_moment(MONTHLY, after_end, TZ) == datetime(2027, 4, 8, 6, 0, tzinfo=UTC)


def test_parsing_and_refusals() -> None:
    assert parse_days("10-15") == (10, 15)
    assert parse_days("7") == (7, 7)
    assert parse_hours("10:00-19:00") == (600, 1140)
    assert parse_hours("08:30 – 24:00") == (510, 1440)
    for bad in ("10..15", "x", ""):
        with pytest.raises(AutoinformError):
            parse_days(bad)
    for bad in ("10-19", "25:00-26:00", "10:00-24:30"):
        with pytest.raises(AutoinformError):
            parse_hours(bad)
    with pytest.raises(AutoinformError, match="first <= last"):
        Schedule("monthly", 15, 10, 600, 1140)
    with pytest.raises(AutoinformError, match="first <= last"):
        Schedule("weekly", 1, 8, 600, 1140)
    with pytest.raises(AutoinformError, match="start before"):
        Schedule("monthly", 10, 15, 1140, 600)
    with pytest.raises(AutoinformError, match="period"):
        Schedule("daily", 1, 1, 600, 700)  # type: ignore[arg-type]
