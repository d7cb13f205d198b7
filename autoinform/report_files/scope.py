"""What a report covers: one campaign, or every campaign's results in a period (AI-5, 6.2.4).

Kept apart from the queries so the quality indicators (indicators.py) and the report data
(autoinform/reports.py) share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from autoinform.errors import AutoinformError


class ReportSpecError(AutoinformError):
    """A report asked for something that does not make sense (no scope, from after to)."""


class Share(float):
    """A fraction 0..1 that files show as a percentage (XLSX keeps it a number)."""


@dataclass(frozen=True)
class ReportSpec:
    """One report: a campaign (`campaign_id`) or a period (`since`..`until`, local dates, inclusive).

    `personal`: customers' names and contacts in clear, for roles that may see them (AI-19);
    masked otherwise. `actor` is who exports it: the audit log names them.
    """

    campaign_id: int | None = None
    since: date | None = None
    until: date | None = None
    actor: str = ""
    personal: bool = False
    timezone: str = "Europe/Astrakhan"
    answer_target_s: int = 40  # HL-5: a caller waits at most this long for an operator

    def __post_init__(self) -> None:
        if self.campaign_id is None and (self.since is None or self.until is None):
            raise ReportSpecError("a report needs a campaign or a period (from and to)")
        if self.campaign_id is not None and (self.since is not None or self.until is not None):
            raise ReportSpecError("a report covers a campaign or a period, not both")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ReportSpecError(f"the period starts ({self.since}) after it ends ({self.until})")
        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError) as exc:
            raise ReportSpecError(f"unknown time zone {self.timezone!r}") from exc

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_period(self) -> bool:
        return self.campaign_id is None

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as UTC instants [start, end): local midnight of `since` to that after `until`."""
        assert self.since is not None and self.until is not None
        start = datetime.combine(self.since, time(), self.tz).astimezone(UTC)
        end = datetime.combine(self.until + timedelta(days=1), time(), self.tz).astimezone(UTC)
        return start, end

    @property
    def slug(self) -> str:
        """The file name's stem."""
        if self.campaign_id is not None:
            return f"campaign-{self.campaign_id}-report"
        return f"report-{self.since}-{self.until}"
