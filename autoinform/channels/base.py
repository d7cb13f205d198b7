"""The interface every channel implements; the dispatcher knows nothing else about a channel.

A channel turns one Outgoing into one SendResult. It never touches the database: the dispatcher
records the attempt before send() and the result after. Channels with asynchronous final status
(SMS delivery reports, phone call outcomes) return outcome=None with a provider_id and later report
a ProviderStatus through the StatusSink they were given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from autoinform.content import Content
from autoinform.models import Channel, Outcome


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    attempt_id: int
    channel: Channel
    destination: str  # E.164 phone or e-mail address
    content: Content
    recipient_name: str = ""


@dataclass(frozen=True)
class SendResult:
    """What one attempt came to.

    outcome None means "handed over, final status to come" (SMS queued/sent, call originated).
    retry says a negative outcome is transient and may be tried again later (4xx, busy, no answer).
    reason is one of REASONS.
    """

    outcome: Outcome | None
    reason: str
    retry: bool = False
    provider_id: str | None = None
    disposition: str = ""  # the provider's own status or code, verbatim
    detail: dict[str, Any] = field(default_factory=dict)


# Reasons an attempt ends with (AI-14); positive ones first.
REASONS = (
    "delivered",  # SMS delivery report, e-mail accepted by the receiving server
    "accepted",  # e-mail 2xx from the recipient's MX (smtp.delivery_mode direct)
    "delivered_no_bounce",  # e-mail handed to the relay, no bounce within the quiet period
    "heard",  # phone: required part played
    "confirmed",  # phone: confirm key pressed
    "transferred",  # phone: put through to an operator
    "pending",  # handed to provider, final status to come
    "busy",
    "no_answer",
    "hung_up_early",
    "answering_machine",
    "failed",
    "rejected",
    "bounced",
    "invalid_address",
    "temporary_failure",
    "undelivered",
    "window_closed",
    "paid",
    "no_consent",
    "expired",
    "cancelled",
)


@dataclass(frozen=True)
class ProviderStatus:
    """A final (or intermediate) status a provider reports later, matched by provider_id."""

    channel: Channel
    provider_id: str
    status: str  # provider's verbatim status, e.g. "delivered", "undelivered"
    outcome: Outcome | None  # None while still intermediate (queued, sent)
    reason: str
    error_code: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    # A negative outcome another attempt later may turn (handset off, carrier queue full); the
    # provider's own classification (twilio_status.DELIVERY_ERRORS), carried to the retry policy.
    retry: bool = False


StatusSink = Callable[[ProviderStatus], Awaitable[None]]


class ChannelSender(Protocol):
    channel: Channel

    async def start(self) -> None:
        """Open connections, check credentials; raise ChannelError if unusable."""

    async def send(self, item: Outgoing) -> SendResult:
        """Deliver one item. Must not raise for a delivery failure: return a negative result."""

    async def poll(self, provider_id: str) -> ProviderStatus | None:
        """Ask the provider for the status of an item whose final status never arrived."""

    async def close(self) -> None:
        """Finish or release in-flight work and close connections."""


@runtime_checkable
class SentFinder(Protocol):
    """Optional for channels whose provider can list what it sent: used to settle an interrupted
    attempt (the engine died between the provider's API call and recording its id) before sending
    it again."""

    async def find_sent(self, destination: str, since: datetime, until: datetime,
                        body: str | None = None) -> ProviderStatus | None:
        """The newest message to `destination` sent within [since, until] (and with exactly this
        `body`, when given), or None when there is none. Raises ChannelError when the provider
        cannot be asked: that must never be taken for "not sent"."""
