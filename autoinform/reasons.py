"""What a delivery's or attempt's short reason code means, in words (issue 9 item 2, AI-5, AI-14).

Reports group by the code; people read the text beside it. A delivery that carries its own text
(`Delivery.reason_text`, e.g. "missing variable hotline_phone") shows that; an attempt shows what
its channel said (detail["error"], the SMTP or provider code); otherwise the code's meaning below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MEANINGS: Mapping[str, str] = {
    "no_consent": "no consented contact on any channel of the chain",
    "window_closed": "the campaign ended before it could be sent",
    "cancelled": "the campaign was cancelled",
    "paid": "on the stop list (paid)",
    "missing_variable": "a value the scenario needs is missing",
    "render_error": "the scenario could not be rendered for this customer",
    "interrupted": "the engine stopped during the send; it may have left",
    "lease_lost": "another engine took this work over",
    "no_report": "the provider never reported a final status",
    "invalid_address": "the address or number is not valid",
    "undelivered": "the carrier could not deliver it",
    "bounced": "the mail server returned it",
    "temporary_failure": "a temporary failure; retries ran out",
    "failed": "the channel failed to send it",
    "engine_stopping": "the engine stopped before sending it",
    "accepted": "accepted by the recipient's server",
    "delivered": "delivered",
    "delivered_no_bounce": "handed to the relay, no bounce within the quiet period",
}


def describe(reason: str | None, text: str | None = None) -> str:
    """The words for a reason: its own text if it has one, else what the code means."""
    if text:
        return text
    if not reason:
        return ""
    return MEANINGS.get(reason, reason.replace("_", " "))


def attempt_text(reason: str | None, detail: Mapping[str, Any] | None, disposition: str | None = None) -> str:
    """Why one attempt ended as it did: what its channel or the renderer said, else the code's words."""
    detail = detail or {}
    said = detail.get("reason_text") or detail.get("error")
    if said:
        return str(said)
    if detail.get("smtp_code") and disposition:
        return f"SMTP {disposition}"
    if detail.get("error_code"):
        return f"{describe(reason)} (provider code {detail['error_code']})"
    return describe(reason)
