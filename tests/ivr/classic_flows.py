"""Routes for the classic-AGI subprocess tests (AUTOINFORM_IVR__ROUTER points here)."""

from __future__ import annotations

import os
from pathlib import Path

from ivr.errors import AgiError, CallerHangup
from ivr.flows import default_router
from ivr.router import Router
from ivr.session import AgiSession
from tests.ivr import transcripts

TRANSCRIPT_ENV = "IVR_TEST_TRANSCRIPT"


async def hangup_probe(session: AgiSession) -> None:
    """Plays a long prompt; in `finally`, variables still work and channel commands do not go."""
    try:
        await session.answer()
        await session.stream_file("demo-instruct", "#")
    finally:
        await session.set_variable("FINALLY", "ran")
        try:
            await session.stream_file("beep")
        except CallerHangup:
            await session.verbose("channel command refused after hang-up")


async def replay_transcript(session: AgiSession) -> None:
    """Sends exactly the commands of the recording named by $IVR_TEST_TRANSCRIPT (raw path)."""
    records = transcripts.load(Path(os.environ[TRANSCRIPT_ENV]))
    for record in records:
        if record.direction == "S>A":
            try:
                await session.transport.execute(transcripts.rebuild(record.data), 5)
            except AgiError:
                return


def router() -> Router:
    r = default_router()
    r.add("hangup_probe", hangup_probe)
    r.add("replay", replay_transcript)
    return r
