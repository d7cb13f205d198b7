"""Log-in throttling (issue 12): per login (counted on the user's row, so every web process sees
it) and per client address (counted in this process). A throttled log-in is refused before the
password is checked, so guessing stops while it lasts; every refusal is counted for /api/metrics.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from autoinform.config import WebSettings
from autoinform.models import User


@dataclass
class LoginCounters:
    """Shown by /api/metrics as "login"."""

    succeeded: int = 0
    failed: int = 0  # unknown login, wrong password, disabled user, no password set
    throttled_login: int = 0  # refused: too many failures for that login
    throttled_address: int = 0  # refused: too many failures from that address


class Throttle:
    def __init__(self, web: WebSettings) -> None:
        self.web = web
        self.window = timedelta(minutes=web.login_lockout_minutes)
        self.counters = LoginCounters()
        self._by_address: dict[str, deque[datetime]] = {}

    def refusal(self, user: User | None, address: str, now: datetime) -> str | None:
        """Why a log-in attempt is refused now without checking its password, or None."""
        recent = self._recent(address, now)
        if len(recent) >= self.web.login_failures_per_address:
            self.counters.throttled_address += 1
            wait = recent[0] + self.window - now
            return f"too many failed log-ins from your address; try again in {_minutes(wait)}"
        if (user is not None and user.failed_logins >= self.web.login_failures_per_login
                and user.last_failed_login_at is not None and now - user.last_failed_login_at < self.window):
            self.counters.throttled_login += 1
            wait = user.last_failed_login_at + self.window - now
            return f"too many failed log-ins for this login; try again in {_minutes(wait)}"
        return None

    def failed(self, user: User | None, address: str, now: datetime) -> None:
        self.counters.failed += 1
        self._recent(address, now).append(now)
        if user is not None:
            stale = user.last_failed_login_at is None or now - user.last_failed_login_at >= self.window
            user.failed_logins = 1 if stale else user.failed_logins + 1
            user.last_failed_login_at = now

    def succeeded(self, user: User, address: str) -> None:
        self.counters.succeeded += 1
        user.failed_logins = 0
        user.last_failed_login_at = None

    def _recent(self, address: str, now: datetime) -> deque[datetime]:
        recent = self._by_address.setdefault(address, deque())
        while recent and now - recent[0] >= self.window:
            recent.popleft()
        if not recent and len(self._by_address) > 10_000:  # forget idle addresses, bounded memory
            self._by_address = {a: d for a, d in self._by_address.items() if d}
            self._by_address[address] = recent
        return recent


def _minutes(wait: timedelta) -> str:
    minutes = max(1, -(-int(wait.total_seconds()) // 60))
    return f"{minutes} min"
