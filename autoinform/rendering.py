"""Render a stored scenario version for one recipient: the dispatcher's Renderer.

Campaigns point at ScenarioVersion rows, so what is rendered is the text that was approved,
never a file edited since. Parsed versions are cached by id (they are immutable).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from autoinform.content import Content, Recipient
from autoinform.errors import NotFoundError
from autoinform.models import Channel, ScenarioVersion, utcnow
from autoinform.scenarios import Scenario, parse_scenario, render


class StoredScenarioRenderer:
    def __init__(self, sessions: sessionmaker[Session], tz: ZoneInfo, *,
                 constants: Mapping[str, object] | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._tz = tz
        self._constants = dict(constants or {})
        self._clock = clock
        self._cache: dict[int, Scenario] = {}
        self._lock = threading.Lock()

    def scenario(self, scenario_id: int) -> Scenario:
        with self._lock:
            found = self._cache.get(scenario_id)
        if found is not None:
            return found
        with self._sessions() as s:
            row = s.get(ScenarioVersion, scenario_id)
            if row is None:
                raise NotFoundError("scenario version", scenario_id)
            parsed = parse_scenario(row.source, f"{row.name} v{row.version}", expected_name=row.name)
        with self._lock:
            self._cache[scenario_id] = parsed
        return parsed

    def render(self, scenario_id: int, channel: Channel, recipient: Recipient) -> Content:
        send_date = self._clock().astimezone(self._tz).date()
        return render(self.scenario(scenario_id), channel, recipient, send_date=send_date,
                      constants=self._constants)
