"""FastAPI app: health, campaign progress as JSON, and provider callback routers.

No personal data leaves through this API: progress is counts by state, outcome and reason.
Every request body is capped before it is read (autoinform/web/limits.py, web.max_body_bytes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from sqlalchemy import select

from autoinform import campaigns, db
from autoinform.errors import NotFoundError
from autoinform.models import Campaign
from autoinform.runtime import Runtime
from autoinform.web.limits import BodyLimitCounters, BodyLimitMiddleware


def create_app(rt: Runtime, *, routers: Sequence[APIRouter] = (),
               stats: Mapping[str, object] | None = None) -> FastAPI:
    """`stats` maps a name to a counters object (dataclass) shown by /api/metrics; the app adds
    "web", the requests refused for their size (also at app.state.body_limits)."""
    app = FastAPI(title="autoinform", docs_url=None, redoc_url=None)
    web = rt.settings.web
    limits = BodyLimitCounters()
    app.state.body_limits = limits
    app.add_middleware(BodyLimitMiddleware, max_bytes=web.max_body_bytes,
                       per_path=web.max_body_bytes_by_path, counters=limits)
    stats = {**(stats or {}), "web": limits}

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "schema": db.current_revision(rt.engine)}

    @app.get("/api/campaigns")
    def list_campaigns() -> list[dict[str, Any]]:
        with rt.sessions() as s:
            return [campaigns.progress(s, cid) for cid in
                    s.scalars(select(Campaign.id).order_by(Campaign.id.desc()))]

    @app.get("/api/campaigns/{campaign_id}")
    def campaign(campaign_id: int) -> dict[str, Any]:
        with rt.sessions() as s:
            try:
                return campaigns.progress(s, campaign_id)
            except NotFoundError:
                raise HTTPException(404, f"campaign {campaign_id} not found") from None

    @app.get("/api/metrics")
    def metrics() -> dict[str, Any]:
        return {name: dict(vars(counters)) for name, counters in stats.items()}

    for router in routers:
        app.include_router(router)

    # Pages and their live updates (issue 12 item 1; autoinform/web/pages, autoinform/web/live.py).
    from autoinform.web.pages import install as install_pages
    install_pages(app, rt)
    stats["live"] = app.state.live.stats
    return app
