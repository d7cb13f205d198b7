"""The Asterisk Manager Interface: a sans-IO protocol (`protocol`) under an asyncio client (`client`)."""

from ivr.ami.client import (
    AmiClient,
    AmiState,
    OriginateCall,
    OriginateReason,
    OriginateResult,
    Subscription,
)
from ivr.ami.protocol import ActionResult, AmiParser, Banner, Event, Message, ReplyTracker, Response, encode_action

__all__ = [
    "ActionResult", "AmiClient", "AmiParser", "AmiState", "Banner", "Event", "Message", "OriginateCall",
    "OriginateReason", "OriginateResult", "ReplyTracker", "Response", "Subscription", "encode_action",
]
