"""Delivery channels: e-mail, SMS and phone behind one interface (channels.base)."""

from __future__ import annotations

from autoinform.config import Settings
from autoinform.models import Channel


def unavailable_channels(settings: Settings) -> dict[Channel, str]:
    """The channels these settings cannot send on, each with what is missing. One rule for the
    engine (which senders it builds) and for `campaigns start` (which chains it refuses)."""
    missing: dict[Channel, str] = {}
    if not settings.smtp.enabled:
        missing[Channel.EMAIL] = "e-mail is disabled (smtp.enabled = false)"
    if not settings.twilio.configured:
        missing[Channel.SMS] = ("SMS has no Twilio settings (twilio.account_sid, twilio.auth_token and "
                                "twilio.from_number or twilio.messaging_service_sid)")
    if not settings.phone.servers:
        missing[Channel.PHONE] = ("phone calls have no Asterisk servers (phone.servers: name, host, port, "
                                  "username, secret, dial_template, max_channels, calls_per_second)")
    return missing
