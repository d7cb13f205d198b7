"""Warning timelines before a restriction or cut-off of supply for non-payment (AI-18).

Our reading of the standard, Section 8 (requirements table), items 3 and 4:

- Group 3 (businesses and sole traders), item 3:
  3.1 notice of a *possible* restriction (debt for one payment period): no lead time is given, so
      the engine computes no date for it;
  3.2 notice of the restriction "через сутки", delivered "за сутки до ограничения": at least one
      calendar day before the restriction date;
  3.3 notice of a possible cut-off, delivered "за 5 рабочих дней до возможного отключения": at least
      five working days (Russian calendar) after the day of delivery, up to and including the
      cut-off date (sent on Thursday 3 Dec 2026: cut-off on Thursday 10 Dec at the earliest).
- Groups 1 and 2 (households, utility companies), item 4:
  4.1 notice of a possible restriction and/or cut-off, delivered "за 1 месяц": at least one calendar
      month before (same day number, clamped to the month's end: 31 March -> 28/29 February);
  4.2 notice of the restriction "через трое суток", delivered "за трое суток": at least three
      calendar days before the restriction date.
- Group 4 (budget-funded organisations): the standard has no item for them. We apply the most
  protective timeline, that of groups 1 and 2: a month and three days. The law gives budget-funded
  consumers extra protection rather than less, so the longer notice can never be the unlawful one.

Dates are local calendar dates. A notice sent on day D counts as delivered on D, so "a day before"
a restriction on R allows a notice on R - 1 at the latest. A warning may only go out on a day the
informing window allows (AI-13: working days), so a due date falling on a day off moves *earlier*,
never later: moving it later would shorten the notice the customer is owed.
"""

from __future__ import annotations

import calendar as _calendar
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType
from typing import Final

from autoinform.calendar import add_working_days, is_working_day
from autoinform.errors import AutoinformError


class Stage(enum.StrEnum):
    """What a warning announces."""

    NOTICE = "notice"  # a possible restriction and/or cut-off, well ahead (4.1)
    RESTRICTION = "restriction"  # the restriction itself, shortly before (3.2, 4.2)
    CUTOFF = "cutoff"  # a possible cut-off after a restriction (3.3)


class TimelineError(AutoinformError):
    """No lawful timeline for this group and stage."""

    def __init__(self, message: str, *, group: int, stage: Stage | None = None) -> None:
        super().__init__(message)
        self.group = group
        self.stage = stage


@dataclass(frozen=True)
class Lead:
    """How long before the event a warning must be delivered."""

    clause: str  # item of the standard's Section 8 table
    days: int = 0
    months: int = 0
    working_days: int = 0

    def after(self, sent_on: date, country: str = "RU") -> date:
        """The earliest event date for a warning delivered on `sent_on`."""
        day = _add_months(sent_on, self.months) + timedelta(days=self.days)
        return add_working_days(day, self.working_days, country) if self.working_days else day

    def before(self, event: date, country: str = "RU") -> date:
        """The latest calendar date a warning for `event` may be delivered: the inverse of after()."""
        day = _add_months(event, -self.months) - timedelta(days=self.days)
        if not self.working_days:
            return day
        # after() counts working days following the delivery day up to the event; an event on a
        # day off is reached only from its last working day, so count back from there.
        while not is_working_day(day, country):
            day -= timedelta(days=1)
        return add_working_days(day, -self.working_days, country)

    def describe(self) -> str:
        parts = [f"{n} {unit}" for n, unit in ((self.months, "month"), (self.days, "day"),
                                                (self.working_days, "working day")) if n]
        return " + ".join(parts) + f" (Section 8, item {self.clause})"


_GROUPS_1_2: Final[Mapping[Stage, Lead]] = MappingProxyType({
    Stage.NOTICE: Lead("4.1", months=1),
    Stage.RESTRICTION: Lead("4.2", days=3),
})
TIMELINES: Final[Mapping[int, Mapping[Stage, Lead]]] = MappingProxyType({
    1: _GROUPS_1_2,
    2: _GROUPS_1_2,
    3: MappingProxyType({
        Stage.RESTRICTION: Lead("3.2", days=1),
        Stage.CUTOFF: Lead("3.3", working_days=5),
    }),
    4: _GROUPS_1_2,  # not in the standard: the most protective timeline (see module docstring)
})


@dataclass(frozen=True)
class DueWarning:
    stage: Stage
    event: date  # the restriction or cut-off the warning announces
    due: date  # the last informing day the warning can be sent on
    lead: Lead


def _stages(group: int) -> Mapping[Stage, Lead]:
    try:
        return TIMELINES[group]
    except KeyError:
        raise TimelineError(f"unknown customer group {group}; groups are 1-4", group=group) from None


def lead_for(group: int, stage: Stage) -> Lead:
    stages = _stages(group)
    try:
        return stages[stage]
    except KeyError:
        known = ", ".join(stages)
        raise TimelineError(f"group {group} has no {stage} warning in the standard (it has: {known})",
                            group=group, stage=stage) from None


def earliest_event(group: int, stage: Stage, sent_on: date, country: str = "RU") -> date:
    """The earliest lawful restriction (or cut-off) date for a warning delivered on `sent_on`."""
    return lead_for(group, stage).after(sent_on, country)


def warning_due(group: int, stage: Stage, event: date, country: str = "RU") -> date:
    """The last working day on which the warning for `event` can go out."""
    day = lead_for(group, stage).before(event, country)
    while not is_working_day(day, country):
        day -= timedelta(days=1)
    return day


def warnings_due(group: int, restriction: date, cutoff: date | None = None,
                 country: str = "RU") -> list[DueWarning]:
    """Every warning the group is owed before a planned restriction (and cut-off), earliest first."""
    events = {Stage.NOTICE: restriction, Stage.RESTRICTION: restriction}
    if cutoff is not None:
        events[Stage.CUTOFF] = cutoff
    stages = _stages(group)
    due = [DueWarning(stage, event, warning_due(group, stage, event, country), stages[stage])
           for stage, event in events.items() if stage in stages]
    return sorted(due, key=lambda w: w.due)


def _add_months(day: date, months: int) -> date:
    if not months:
        return day
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = _calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))
