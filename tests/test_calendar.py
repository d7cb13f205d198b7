"""AI-13: the informing window at fixed instants (Astrakhan, UTC+4, no DST since 2016).

The standard (Section 8, item 7.1): "кроме праздничных и воскресных дней с 10:00 до 20:00" —
every day but Sundays, public holidays and transfer days off; Saturdays are open (issue 8 item 13).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from autoinform.calendar import InformingWindow, OpenSpan, add_working_days, is_informing_day, is_working_day
from autoinform.channels.base import SendResult
from autoinform.config import ChannelLimits
from autoinform.models import Outcome
from autoinform.policy import RetryPolicy, Verdict

AST = ZoneInfo("Europe/Astrakhan")
W = InformingWindow()


def at(y: int, m: int, d: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=AST)


@pytest.mark.parametrize(("instant", "allowed"), [
    (at(2026, 12, 4, 19, 59), True),  # Friday 19:59
    (at(2026, 12, 4, 19, 59, 59), True),
    (at(2026, 12, 4, 20, 0), False),  # Friday 20:00: the window is half-open
    (at(2026, 12, 4, 10, 0), True),  # 10:00 sharp
    (at(2026, 12, 4, 9, 59, 59), False),
    (at(2026, 12, 6, 12, 0), False),  # Sunday
    (at(2026, 12, 5, 12, 0), True),  # an ordinary Saturday: open by the standard (issue 8 item 13)
    (at(2026, 12, 5, 10, 0), True),  # ... from 10:00
    (at(2026, 12, 5, 9, 59, 59), False),
    (at(2026, 12, 5, 19, 59, 59), True),  # ... to 20:00
    (at(2026, 12, 5, 20, 0), False),
    (at(2027, 1, 2, 12, 0), False),  # a Saturday in the New Year holidays
    (at(2027, 1, 9, 12, 0), True),  # the first Saturday after them
    (at(2026, 5, 9, 12, 0), False),  # Victory Day on a Saturday
    (at(2025, 5, 9, 12, 0), False),  # Victory Day on a Friday
    (at(2025, 5, 8, 12, 0), False),  # transfer day (from 23 Feb 2025)
    (at(2025, 11, 3, 12, 0), False),  # a Monday made a day off (transfer from 1 Nov 2025)
    (at(2026, 5, 11, 12, 0), False),  # a Monday made a day off (Victory Day fell on Saturday)
    (at(2025, 11, 1, 12, 0), True),  # working Saturday
    (at(2026, 1, 9, 12, 0), False),  # transfer day in the New Year holidays
    (at(2026, 1, 12, 12, 0), True),  # first working day of 2026
])
def test_window_at_fixed_instants(instant: datetime, allowed: bool) -> None:
    assert W.allows(instant) is allowed


@pytest.mark.parametrize(("instant", "allowed"), [
    (at(2026, 12, 4, 12, 0), True),  # Friday
    (at(2026, 12, 5, 12, 0), False),  # an ordinary Saturday
    (at(2026, 12, 6, 12, 0), False),  # Sunday
    (at(2025, 11, 1, 12, 0), True),  # a working Saturday
    (at(2025, 11, 3, 12, 0), False),  # a transfer day off
])
def test_working_days_only_is_a_setting(instant: datetime, allowed: bool) -> None:
    """Issue 8 item 13: "working days only" stays available as calendar="working_days"."""
    assert InformingWindow(calendar="working_days").allows(instant) is allowed


def test_any_calendar_lifts_the_days_not_the_hours() -> None:
    """The sandbox switch opens Sundays and holidays; the hours still apply."""
    w = InformingWindow(calendar="any")
    assert w.allows(at(2026, 12, 6, 12, 0)) and w.allows(at(2027, 1, 1, 12, 0))
    assert not w.allows(at(2026, 12, 6, 20, 0))
    with pytest.raises(ValueError, match="calendar"):
        InformingWindow(calendar="weekdays")  # type: ignore[arg-type]


def test_astrakhan_saturday_edges_in_utc_winter_and_summer() -> None:
    """Astrakhan is UTC+4 all year: a Saturday opens at 06:00 UTC and closes at 16:00 UTC in
    December and in July alike (AI-13, issue 8 item 13)."""
    for y, m, d in ((2026, 12, 5), (2026, 7, 4)):
        assert date(y, m, d).weekday() == 5
        assert not W.allows(datetime(y, m, d, 5, 59, 59, tzinfo=UTC))
        assert W.allows(datetime(y, m, d, 6, 0, tzinfo=UTC))
        assert W.allows(datetime(y, m, d, 15, 59, 59, tzinfo=UTC))
        assert not W.allows(datetime(y, m, d, 16, 0, tzinfo=UTC))
        assert W.closes_at(datetime(y, m, d, 12, 0, tzinfo=UTC)) == datetime(y, m, d, 16, 0, tzinfo=UTC)


def test_informing_days_are_not_working_days() -> None:
    assert is_informing_day(date(2026, 12, 5)) and not is_working_day(date(2026, 12, 5))
    assert not is_informing_day(date(2026, 12, 6)) and not is_informing_day(date(2027, 1, 2))
    assert not is_informing_day(date(2025, 11, 3)) and is_informing_day(date(2025, 11, 1))


@pytest.mark.parametrize("window", [W, InformingWindow(calendar="working_days")], ids=["legal", "working_days"])
def test_open_span_answers_as_the_window_does(window: InformingWindow) -> None:
    """AI-13: the dispatcher's per-send check (OpenSpan) agrees with the window at every instant of
    a walk over Friday evening, the weekend and Monday morning, forwards and then backwards."""
    span = OpenSpan(window)
    start = at(2026, 12, 4, 19, 0)
    walk = [start + timedelta(minutes=7 * i) for i in range(800)]
    for instant in walk + walk[::-1]:
        assert span.allows(instant) is window.allows(instant), instant


def test_window_uses_local_time_not_utc() -> None:
    # 15:59 UTC is 19:59 in Astrakhan; 16:00 UTC is 20:00.
    assert W.allows(datetime(2026, 12, 4, 15, 59, tzinfo=UTC))
    assert not W.allows(datetime(2026, 12, 4, 16, 0, tzinfo=UTC))


def test_naive_instant_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        W.allows(datetime(2026, 12, 4, 12, 0))


@pytest.mark.parametrize(("instant", "expected"), [
    (at(2026, 12, 4, 20, 0), at(2026, 12, 5, 10, 0)),  # Friday evening → Saturday morning
    (at(2026, 12, 5, 20, 0), at(2026, 12, 7, 10, 0)),  # Saturday evening → Monday morning
    (at(2026, 12, 6, 9, 0), at(2026, 12, 7, 10, 0)),  # Sunday → Monday
    (at(2026, 12, 4, 8, 0), at(2026, 12, 4, 10, 0)),  # same morning
    (at(2026, 12, 4, 15, 0), at(2026, 12, 4, 15, 0)),  # already open
    (at(2025, 12, 30, 21, 0), at(2026, 1, 10, 10, 0)),  # 31 Dec and 1–9 Jan off; Saturday 10 Jan open
    (at(2026, 12, 30, 21, 0), at(2027, 1, 9, 10, 0)),  # 2 Jan 2027 is a holiday Saturday; 9 Jan is not
    (at(2025, 10, 31, 20, 30), at(2025, 11, 1, 10, 0)),  # working Saturday follows
    (at(2026, 5, 8, 20, 0), at(2026, 5, 12, 10, 0)),  # 9 May on Saturday, Monday 11th off
])
def test_next_allowed(instant: datetime, expected: datetime) -> None:
    got = W.next_allowed(instant)
    assert got == expected
    assert got.tzinfo is UTC


def test_window_is_configurable() -> None:
    w = InformingWindow(tz=ZoneInfo("Europe/Moscow"), start=time(9), end=time(21))
    assert w.allows(datetime(2026, 12, 4, 20, 30, tzinfo=ZoneInfo("Europe/Moscow")))
    assert not InformingWindow().allows(datetime(2026, 12, 4, 20, 30, tzinfo=AST))


def test_working_days_arithmetic() -> None:
    assert is_working_day(date(2025, 11, 1))  # working Saturday
    assert not is_working_day(date(2026, 12, 6))
    assert add_working_days(date(2026, 12, 4), 1) == date(2026, 12, 7)
    assert add_working_days(date(2026, 12, 30), 1) == date(2027, 1, 11)  # 31 Dec and 1–10 Jan off
    assert add_working_days(date(2026, 12, 7), -5) == date(2026, 11, 30)


def test_campaign_end_inside_retry_delay_ends_negative() -> None:
    """A retry that would fall after the campaign's end is not scheduled (AI-7, AI-13)."""
    policy = RetryPolicy(ChannelLimits(max_attempts=5, retry_delay_s=1800), jitter=0)
    now = at(2026, 12, 4, 19, 0)
    busy = SendResult(Outcome.NEGATIVE, "busy", retry=True)
    inside = policy.decide(busy, attempts_done=1, now=now, end_at=now + timedelta(hours=1), has_fallback=False)
    assert inside.verdict is Verdict.RETRY and inside.next_attempt_at == now + timedelta(minutes=30)
    past = policy.decide(busy, attempts_done=1, now=now, end_at=now + timedelta(minutes=20), has_fallback=False)
    assert past.verdict is Verdict.DONE_NEGATIVE


def test_permanent_failures_never_retry() -> None:
    policy = RetryPolicy(ChannelLimits(max_attempts=5, retry_delay_s=60))
    now = at(2026, 12, 4, 12)
    end = now + timedelta(days=1)
    for reason in ("invalid_address", "rejected", "bounced"):
        d = policy.decide(SendResult(Outcome.NEGATIVE, reason), attempts_done=1, now=now, end_at=end,
                          has_fallback=False)
        assert d.verdict is Verdict.DONE_NEGATIVE, reason
    exhausted = policy.decide(SendResult(Outcome.NEGATIVE, "no_answer", retry=True), attempts_done=5,
                              now=now, end_at=end, has_fallback=True)
    assert exhausted.verdict is Verdict.FALLBACK
