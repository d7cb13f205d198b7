"""Restriction and cut-off warning timelines (AI-18), on fixed dates around weekends and holidays."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autoinform.calendar import is_working_day
from autoinform.scenarios.timeline import (
    Stage,
    TimelineError,
    earliest_event,
    lead_for,
    warning_due,
    warnings_due,
)


def test_ai18_group3_restriction_a_day_after_the_warning() -> None:
    assert earliest_event(3, Stage.RESTRICTION, date(2026, 12, 1)) == date(2026, 12, 2)
    assert warning_due(3, Stage.RESTRICTION, date(2026, 12, 2)) == date(2026, 12, 1)


def test_ai18_group3_cutoff_five_working_days_over_a_weekend() -> None:
    # Thursday 3 Dec 2026 + 5 working days: Fri 4, Mon 7, Tue 8, Wed 9, Thu 10.
    assert earliest_event(3, Stage.CUTOFF, date(2026, 12, 3)) == date(2026, 12, 10)
    assert warning_due(3, Stage.CUTOFF, date(2026, 12, 10)) == date(2026, 12, 3)


def test_ai18_group3_cutoff_skips_new_year_holidays() -> None:
    # Sent Tue 29 Dec 2026: Wed 30 Dec counts; 31 Dec (transferred day off) and 1-10 Jan do not;
    # then Mon 11, Tue 12, Wed 13, Thu 14 Jan.
    assert earliest_event(3, Stage.CUTOFF, date(2026, 12, 29)) == date(2027, 1, 14)
    assert warning_due(3, Stage.CUTOFF, date(2027, 1, 14)) == date(2026, 12, 29)


def test_ai18_restriction_warning_before_new_year_moves_to_the_last_working_day() -> None:
    # Group 3 restriction on Mon 11 Jan 2027: "a day before" is Sun 10 Jan; the last informing day
    # is Wed 30 Dec 2026.
    assert warning_due(3, Stage.RESTRICTION, date(2027, 1, 11)) == date(2026, 12, 30)


@pytest.mark.parametrize("group", [1, 2, 4])
def test_ai18_groups_1_2_and_4_restriction_three_days_and_notice_a_month(group: int) -> None:
    assert earliest_event(group, Stage.RESTRICTION, date(2026, 12, 1)) == date(2026, 12, 4)
    assert earliest_event(group, Stage.NOTICE, date(2026, 11, 16)) == date(2026, 12, 16)


def test_ai18_month_lead_clamps_to_month_end() -> None:
    assert earliest_event(1, Stage.NOTICE, date(2027, 1, 31)) == date(2027, 2, 28)
    assert lead_for(1, Stage.NOTICE).before(date(2027, 3, 31)) == date(2027, 2, 28)
    assert earliest_event(1, Stage.NOTICE, date(2027, 12, 15)) == date(2028, 1, 15)


def test_ai18_due_date_on_a_day_off_moves_earlier_never_later() -> None:
    # Restriction on Tuesday 8 Dec 2026 for group 1: three days before is Saturday 5 Dec;
    # the warning must go out on Friday 4 Dec.
    assert warning_due(1, Stage.RESTRICTION, date(2026, 12, 8)) == date(2026, 12, 4)
    # Restriction on Tue 12 Jan 2027: three days before is Sat 9 Jan, within the holidays; the
    # warning must go out on Wed 30 Dec 2026.
    assert warning_due(1, Stage.RESTRICTION, date(2027, 1, 12)) == date(2026, 12, 30)


def test_ai18_all_warnings_due_for_a_planned_restriction() -> None:
    # Group 1, restriction on Monday 15 Feb 2027: notice a month before (15 Jan, Friday),
    # restriction warning three days before (12 Feb, Friday).
    due = warnings_due(1, date(2027, 2, 15))
    assert [(w.stage, w.due) for w in due] == [(Stage.NOTICE, date(2027, 1, 15)),
                                               (Stage.RESTRICTION, date(2027, 2, 12))]
    assert due[0].lead.clause == "4.1"
    # Group 3 with a cut-off: the restriction warning the day before, the cut-off warning 5 working
    # days before (Fri 26 Mar 2027: Thu 25, Wed 24, Tue 23, Mon 22 and Fri 19 lie between).
    due3 = warnings_due(3, date(2027, 3, 16), cutoff=date(2027, 3, 26))
    assert [(w.stage, w.due) for w in due3] == [(Stage.RESTRICTION, date(2027, 3, 15)),
                                                (Stage.CUTOFF, date(2027, 3, 19))]


def test_ai18_cutoff_warning_counts_only_working_days_around_a_holiday() -> None:
    # 23 Feb 2027 (Tuesday) is a public holiday: it does not count as one of the five days.
    due = warning_due(3, Stage.CUTOFF, date(2027, 2, 26))
    between = [d for d in (date(2027, 2, day) for day in range(due.day + 1, 27)) if is_working_day(d)]
    assert len(between) == 5
    assert date(2027, 2, 23) not in between


def test_ai18_cutoff_on_a_day_off_is_reached_from_its_last_working_day() -> None:
    # Cut-off on New Year's Day 2026: the warning is due five working days before 30 Dec 2025
    # (31 Dec 2025 is a day off), and a warning on that day allows 1 Jan.
    due = warning_due(3, Stage.CUTOFF, date(2026, 1, 1))
    assert earliest_event(3, Stage.CUTOFF, due) <= date(2026, 1, 1)
    assert earliest_event(3, Stage.CUTOFF, due + timedelta(days=1)) > date(2026, 1, 1)


def test_ai18_unknown_group_and_stage_are_errors() -> None:
    with pytest.raises(TimelineError) as exc:
        earliest_event(5, Stage.RESTRICTION, date(2026, 12, 1))
    assert exc.value.group == 5
    with pytest.raises(TimelineError, match="no cutoff warning"):
        earliest_event(1, Stage.CUTOFF, date(2026, 12, 1))
    with pytest.raises(TimelineError):
        warnings_due(0, date(2026, 12, 1))


@given(group=st.sampled_from([1, 2, 3, 4]), stage=st.sampled_from(list(Stage)),
       event=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)))
def test_ai18_a_warning_sent_when_due_allows_the_planned_event(group: int, stage: Stage,
                                                               event: date) -> None:
    try:
        due = warning_due(group, stage, event)
    except TimelineError:
        return  # the stage does not exist for this group
    assert is_working_day(due)
    assert earliest_event(group, stage, due) <= event
