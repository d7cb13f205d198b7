"""What Twilio's message statuses and error codes mean for an attempt (AI-14). No I/O.

Statuses (Message resource): queued, accepted, scheduled, sending, sent are on the way;
delivered (and read, for channels that report it) is positive; undelivered, failed and canceled
are negative. A status we do not know is treated as still on the way, so polling resolves it.
"""

from __future__ import annotations

from typing import Any

from autoinform.channels.base import ProviderStatus
from autoinform.models import Channel, Outcome

INTERMEDIATE = frozenset({"queued", "accepted", "scheduled", "sending", "sent", "receiving", "received"})
_FINAL: dict[str, tuple[Outcome, str]] = {
    "delivered": (Outcome.POSITIVE, "delivered"),
    "read": (Outcome.POSITIVE, "delivered"),
    "undelivered": (Outcome.NEGATIVE, "undelivered"),
    "partially_delivered": (Outcome.NEGATIVE, "undelivered"),
    "failed": (Outcome.NEGATIVE, "failed"),
    "canceled": (Outcome.NEGATIVE, "cancelled"),
}

# Carrier-side delivery errors reported with undelivered/failed; "retryable" says another attempt
# later may succeed (phone off or out of coverage). This table is the one place that decides it:
# provider_status() carries it as ProviderStatus.retry to the stored report and the retry policy.
DELIVERY_ERRORS: dict[str, tuple[str, bool]] = {
    "30001": ("queue overflow", True),
    "30002": ("account suspended", False),
    "30003": ("unreachable destination handset", True),
    "30004": ("message blocked", False),
    "30005": ("unknown destination handset", False),
    "30006": ("landline or unreachable carrier", False),
    "30007": ("carrier filtered as spam", False),
    "30008": ("unknown error", True),
    "30010": ("message price exceeds max price", False),
}

# Errors Twilio answers a create request with: (reason, retry).
_REQUEST_ERRORS: dict[int, tuple[str, bool]] = {
    21211: ("invalid_address", False),  # invalid 'To' number
    21614: ("invalid_address", False),  # 'To' is not a mobile number
    21217: ("invalid_address", False),  # phone number does not appear to be valid
    21610: ("rejected", False),  # recipient replied STOP: opted out (AI-11)
    21408: ("failed", False),  # permission to send to this region is not enabled
    21612: ("failed", False),  # cannot route to this number
    21602: ("failed", False),  # message body required
    21617: ("failed", False),  # body exceeds 1600 characters
    21606: ("failed", False),  # 'From' is not a valid message-capable number for this account
    21659: ("failed", False),  # 'From' is not a Twilio number
    21212: ("failed", False),  # invalid 'From' number
    20003: ("temporary_failure", True),  # authentication: our configuration, fixable without data loss
    20429: ("temporary_failure", True),  # too many requests
    30001: ("temporary_failure", True),  # queue overflow
}


def classify_request_error(http_status: int | None, code: int | None) -> tuple[str, bool]:
    """(reason, retry) for a refused API request; unknown 4xx are permanent, 5xx retry."""
    if code is not None and code in _REQUEST_ERRORS:
        return _REQUEST_ERRORS[code]
    if http_status is None or http_status in (401, 429) or http_status >= 500:
        return "temporary_failure", True  # no answer, our credentials, overload, their fault
    return "failed", False


def status_outcome(status: str) -> tuple[Outcome | None, str]:
    """(outcome, reason) for a Twilio message status; None while it is still on the way."""
    return _FINAL.get(status.lower(), (None, "pending"))


def provider_status(sid: str, status: str, error_code: str | int | None,
                    extra: dict[str, Any] | None = None) -> ProviderStatus:
    """A ProviderStatus from what a callback or a fetched Message resource says."""
    outcome, reason = status_outcome(status)
    code = str(error_code) if error_code not in (None, "", 0, "0") else None
    detail: dict[str, Any] = dict(extra or {})
    if status.lower() not in INTERMEDIATE and status.lower() not in _FINAL:
        detail["unknown_status"] = True
    retry = False
    if code is not None and code in DELIVERY_ERRORS:
        meaning, retryable = DELIVERY_ERRORS[code]
        detail.update(error_meaning=meaning, retryable=retryable)
        retry = retryable and outcome is Outcome.NEGATIVE
    return ProviderStatus(channel=Channel.SMS, provider_id=sid, status=status, outcome=outcome,
                          reason=reason, error_code=code, detail=detail, retry=retry)
