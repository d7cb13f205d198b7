"""Call flows and the default routes.

A flow is `async def flow(session: AgiSession) -> None`, registered on a Router under a path.
`default_router()` is what `autoinform ivr serve` and the classic `ivr-agi` entry point serve
(IvrSettings.router names it); the engine adds its hotline and notification flows to it.
"""

from __future__ import annotations

from ivr.router import Router


def default_router() -> Router:
    from ivr.flows.selftest import selftest

    router = Router()
    router.add("selftest", selftest)
    return router
