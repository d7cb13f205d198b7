"""Running one call: find its flow, run it, and turn how it ended into one EndReason."""

from __future__ import annotations

import logging
from enum import StrEnum

from ivr import commands
from ivr.errors import AgiError, CallerHangup, CommandTimeout, ProtocolError, SessionClosed
from ivr.router import Router
from ivr.session import AgiSession

logger = logging.getLogger(__name__)

CLEANUP_TIMEOUT_S = 5.0
"""How long the HANGUP sent after a failed or unrouted call may take."""


class EndReason(StrEnum):
    COMPLETED = "completed"  # the flow returned
    CALLER_HANGUP = "caller_hangup"  # the flow ended on CallerHangup
    NO_ROUTE = "no_route"  # no flow for the path: hung up
    FLOW_ERROR = "flow_error"  # the flow raised something else: logged, hung up
    COMMAND_TIMEOUT = "command_timeout"
    PROTOCOL_ERROR = "protocol_error"
    ENV_TIMEOUT = "env_timeout"  # the environment never completed
    DISCONNECTED = "disconnected"  # the peer left before the environment was complete
    SHUTDOWN = "shutdown"  # cancelled by a server shutdown after the grace period


async def run_call(session: AgiSession, router: Router) -> EndReason:
    """Never raises for what a call can do wrong; only cancellation passes through."""
    extra = session.log_extra
    flow = router.resolve(session.request.path)
    if flow is None:
        logger.warning("no route for %r: hanging up", session.request.path, extra=extra)
        await _hang_up_quietly(session)
        return EndReason.NO_ROUTE
    logger.info("call started on route %r", session.request.path, extra=extra)
    try:
        await flow(session)
    except CallerHangup as exc:
        logger.info("caller hung up (%s)", exc.reason, extra=extra)
        return EndReason.CALLER_HANGUP
    except CommandTimeout as exc:
        logger.warning("%s", exc, extra=extra)
        return EndReason.COMMAND_TIMEOUT
    except (ProtocolError, SessionClosed) as exc:
        logger.warning("call broken: %s", exc, extra=extra)
        return EndReason.PROTOCOL_ERROR
    except Exception:
        # The server's boundary: one crashing flow must end its own call only, never the server.
        logger.exception("flow for route %r crashed", session.request.path, extra=extra)
        await _hang_up_quietly(session)
        return EndReason.FLOW_ERROR
    return EndReason.COMPLETED


async def _hang_up_quietly(session: AgiSession) -> None:
    try:
        if not session.hung_up:
            await session.command(commands.hangup(), timeout_s=CLEANUP_TIMEOUT_S)
    except AgiError as exc:
        logger.debug("hang-up after the call failed: %s", exc, extra=session.log_extra)

