"""Retry policy: which outcomes retry, after how long, and what exhausts a channel.

Pure functions over a SendResult and the delivery's history, so the dispatcher only applies
the verdict. Backoff has jitter so a busy hour does not turn into synchronised redials.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from autoinform.channels.base import SendResult
from autoinform.config import ChannelLimits
from autoinform.models import Outcome

# Outcomes that may succeed later on the same channel. Anything else negative is final for it.
TRANSIENT_REASONS = frozenset({"busy", "no_answer", "temporary_failure"})


class Verdict(StrEnum):
    DONE_POSITIVE = "done_positive"
    AWAIT = "await"  # provider will report the final status
    RETRY = "retry"  # same channel, later
    FALLBACK = "fallback"  # next consented channel in the chain
    DONE_NEGATIVE = "done_negative"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class RetryPolicy:
    limits: ChannelLimits
    jitter: float = 0.1  # ±10 % of the delay

    def delay(self, attempts_done: int, rng: random.Random | None = None) -> timedelta:
        base = self.limits.retry_delay_s
        spread = base * self.jitter
        r = (rng or random).uniform(-spread, spread) if spread else 0.0
        return timedelta(seconds=max(0.0, base + r))

    def decide(self, result: SendResult, *, attempts_done: int, now: datetime, end_at: datetime,
               has_fallback: bool, rng: random.Random | None = None) -> Decision:
        """attempts_done counts the attempt that produced `result`."""
        if result.outcome is Outcome.POSITIVE:
            return Decision(Verdict.DONE_POSITIVE)
        if result.outcome is None:
            return Decision(Verdict.AWAIT)
        transient = result.retry or result.reason in TRANSIENT_REASONS
        if transient and attempts_done < self.limits.max_attempts:
            at = now + self.delay(attempts_done, rng)
            if at < end_at:
                return Decision(Verdict.RETRY, at)
        if has_fallback:
            return Decision(Verdict.FALLBACK, now)
        return Decision(Verdict.DONE_NEGATIVE)
