"""Tell open monitoring pages that something they show moved (AI-6, issue 12 item 1).

Called once per transaction that moves deliveries (a claim, a batch of results, provider reports)
or a campaign's state, never once per delivery. On PostgreSQL it is a `NOTIFY` (sent at commit,
no row to lock, so engines never queue behind each other); on SQLite, whose single writer
serialises transactions anyway, it is one counter row in `generations` that the web process polls
by primary key. autoinform/web/live.py is the receiving end.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from autoinform.models import Generation

CHANNEL = "autoinform_live"  # the NOTIFY channel
DELIVERIES = "deliveries"  # the generations row counting delivery progress (SQLite)
_PAYLOAD_MAX = 7000  # NOTIFY payloads stop at 8000 bytes; beyond this the ids are left out


def announce(session: Session | Connection, campaign_ids: Iterable[int] = (), *, counted: bool = False) -> None:
    """Record that the campaigns `campaign_ids` (none: unknown which) changed in this transaction.

    `counted`: the transaction already bumped a generations counter (campaign states do), which
    SQLite pages watch; only PostgreSQL needs telling then. A Core connection (the hotline's fast
    path) serves as well as a session."""
    dialect = (session.get_bind() if isinstance(session, Session) else session).dialect.name
    if dialect == "postgresql":
        payload = ",".join(str(i) for i in sorted(set(campaign_ids)))
        session.execute(select(func.pg_notify(CHANNEL, payload if len(payload) <= _PAYLOAD_MAX else "")))
    elif dialect == "sqlite" and not counted:
        # An upsert: the row needs no migration, and exists from the first change on.
        stmt = sqlite_insert(Generation).values(name=DELIVERIES, value=1)
        session.execute(stmt.on_conflict_do_update(index_elements=[Generation.name],
                                                   set_={"value": Generation.value + 1}))
