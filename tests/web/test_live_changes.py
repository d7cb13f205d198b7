"""autoinform.changes.announce: one signal per transaction, never one per delivery (issue 12 item 1)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import make_url

from autoinform import campaigns, db
from autoinform.changes import CHANNEL, DELIVERIES
from autoinform.models import Generation
from autoinform.runtime import Runtime
from tests.web.pages_fixtures import draft, finish


def counter(rt: Runtime) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(Generation.value).where(Generation.name == DELIVERIES)) or 0)


def test_fifty_deliveries_ending_in_one_batch_are_one_signal(live_rt: Runtime) -> None:
    built = draft(live_rt, 50)
    with db.transaction(live_rt.sessions) as s:
        campaigns.approve(s, built.campaign_id, "boss")
    with db.transaction(live_rt.sessions) as s:
        campaigns.start(s, built.campaign_id, "boss")
    if live_rt.engine.dialect.name == "sqlite":
        before = counter(live_rt)
        assert finish(live_rt, 50) == 50  # one claim transaction, one record transaction
        assert counter(live_rt) == before + 2
        return
    import psycopg

    url = make_url(live_rt.settings.database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        assert finish(live_rt, 50) == 50
        got = [n.payload for n in conn.notifies(timeout=2.0)]
    assert got == [str(built.campaign_id)] * 2  # the claim's and the results'
    with live_rt.sessions() as s:  # nothing written to a counter row on PostgreSQL
        assert s.scalar(select(Generation.value).where(Generation.name == DELIVERIES)) is None
