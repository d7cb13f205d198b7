"""What every entry point needs: validated settings and a migrated, seeded database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from autoinform import db
from autoinform.calendar import InformingWindow
from autoinform.config import Settings, load_settings
from autoinform.divisions import seed_divisions


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def window(self) -> InformingWindow:
        w = self.settings.window
        return InformingWindow(tz=self.settings.tz, start=w.start, end=w.end,
                               calendar=w.calendar, country=w.country)

    def close(self) -> None:
        self.engine.dispose()


def open_runtime(settings: Settings | None = None, *, migrate: bool = True) -> Runtime:
    """Load settings, migrate the schema and seed reference data: the engine's start-up."""
    settings = settings or load_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(settings.database_url)
    if migrate:
        db.upgrade(engine)
    sessions = db.session_factory(engine)
    if migrate:
        with db.transaction(sessions) as s:
            seed_divisions(s)
    return Runtime(settings, engine, sessions)
