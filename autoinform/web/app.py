"""FastAPI app: health, log-in, the JSON API (autoinform/web/api.py), pages and provider callbacks.

Every request body is capped before it is read (autoinform/web/limits.py, web.max_body_bytes);
then the access middleware (middleware.py) says who is asking. /health, /login and the provider
callbacks (signed by the provider) need no user; pages redirect to /login, /api answers 401.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from autoinform import db
from autoinform.runtime import Runtime
from autoinform.web.api import api_router, install_error_handlers
from autoinform.web.auth import LoginRequired
from autoinform.web.limits import BodyLimitCounters, BodyLimitMiddleware
from autoinform.web.login import login_router
from autoinform.web.middleware import AccessCounters, AuthMiddleware
from autoinform.web.throttle import Throttle


def create_app(rt: Runtime, *, routers: Sequence[APIRouter] = (),
               stats: Mapping[str, object] | None = None) -> FastAPI:
    """`stats` maps a name to a counters object (dataclass) shown by /api/metrics; the app adds
    "web", the requests refused for their size (also at app.state.body_limits)."""
    app = FastAPI(title="autoinform", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    web = rt.settings.web
    limits = BodyLimitCounters()
    app.state.body_limits = limits
    # Access (issue 12): added before the body limit, so the limit wraps it and runs first.
    access = AccessCounters()
    throttle = Throttle(web)
    app.add_middleware(AuthMiddleware, rt=rt, counters=access)
    app.add_middleware(BodyLimitMiddleware, max_bytes=web.max_body_bytes,
                       per_path=web.max_body_bytes_by_path, counters=limits)
    stats = {**(stats or {}), "web": limits, "access": access, "login": throttle.counters}

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "schema": db.current_revision(rt.engine)}

    # Access (issue 12): log-in pages, the JSON API, and who-is-asking errors.
    app.include_router(login_router(rt, throttle))
    app.include_router(api_router(rt, stats))
    install_error_handlers(app)
    app.add_exception_handler(LoginRequired, _login_required)

    for router in routers:
        app.include_router(router)

    # Pages and their live updates (issue 12 item 1; autoinform/web/pages, autoinform/web/live.py).
    from autoinform.web.pages import install as install_pages
    install_pages(app, rt)
    stats["live"] = app.state.live.stats
    return app


async def _login_required(request: Request, exc: Exception) -> Response:
    """No user: the API answers 401, a page sends the browser to /login and back afterwards."""
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": "log-in required: an API token (Authorization: Bearer …) "
                                       "or a session"}, status_code=401,
                            headers={"WWW-Authenticate": 'Bearer realm="autoinform"'})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
