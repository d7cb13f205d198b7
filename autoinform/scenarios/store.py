"""Versioned snapshots of scenarios as they ran (AI-3).

A campaign points at a ScenarioVersion, never at a file that may change under it. The same text
is one version (idempotent); a changed text of the same name is the next version number.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from autoinform.models import ScenarioVersion
from autoinform.scenarios.scenario import Scenario

log = logging.getLogger(__name__)


def _existing(session: Session, scenario: Scenario) -> ScenarioVersion | None:
    return session.scalars(select(ScenarioVersion).where(
        ScenarioVersion.name == scenario.name, ScenarioVersion.sha256 == scenario.sha256)).one_or_none()


def snapshot(session: Session, scenario: Scenario) -> ScenarioVersion:
    """The stored version of exactly this scenario text, created if new (flushed, not committed)."""
    found = _existing(session, scenario)
    if found is not None:
        return found
    latest = session.scalar(select(func.max(ScenarioVersion.version))
                            .where(ScenarioVersion.name == scenario.name))
    row = ScenarioVersion(name=scenario.name, version=(latest or 0) + 1, sha256=scenario.sha256,
                          source=scenario.source)
    try:
        with session.begin_nested():  # a concurrent snapshot of the same text wins the unique key
            session.add(row)
    except IntegrityError:
        found = _existing(session, scenario)
        if found is None:
            raise
        return found
    log.info("stored scenario %s version %d", row.name, row.version)
    return row


def versions(session: Session, name: str) -> list[ScenarioVersion]:
    return list(session.scalars(select(ScenarioVersion).where(ScenarioVersion.name == name)
                                .order_by(ScenarioVersion.version)))
