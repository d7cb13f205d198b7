"""The operators' queue as AMI reports it (HL-4, HL-5: a caller answered within 40 s).

Asterisk's app_queue sends QueueCallerJoin when a caller enters the queue, AgentConnect (with
HoldTime, the seconds waited) when an operator answers and QueueCallerAbandon (with HoldTime) when
the caller hangs up first; docs/asterisk/manager.conf lets exactly these through to the engine's
AMI user. Each becomes a QueueEvent for the backend, keyed by the caller's uniqueid (the hotline
call's id); a wait over `operator_wait_limit_s` is counted as a breach. A caller the queue gives up
on (Queue's timeout) comes back to the flow, which reports that one itself (kind `timeout`); Asterisk
22 sends QueueCallerAbandon for that caller too, just before, so an abandon followed by the flow's
timeout for the same call id is a timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ivr.ami.client import AmiClient, Subscription
from ivr.ami.protocol import Event
from ivr.hotline.backend import HotlineBackend, QueueEvent

logger = logging.getLogger(__name__)

KINDS = {"queuecallerjoin": "join", "agentconnect": "connect", "queuecallerabandon": "abandon"}


@dataclass
class QueueStats:
    joined: int = 0
    connected: int = 0
    abandoned: int = 0
    breaches: int = 0  # connected or abandoned after waiting longer than the limit
    unreadable: int = 0  # events without the caller's uniqueid or with a bad HoldTime


def queue_event(event: Event, at: datetime) -> QueueEvent | None:
    """The QueueEvent an AMI event stands for, or None if it is not one of the three (or lacks the
    caller's uniqueid). Raises ValueError for a HoldTime that is not a number."""
    kind = KINDS.get(event.name.lower())
    call_id = event.get("Uniqueid")
    if kind is None or not call_id:
        return None
    hold = event.get("HoldTime")
    hold_s = float(hold) if hold and kind != "join" else None
    member = event.get("MemberName") or event.get("Interface") or None
    return QueueEvent(call_id=call_id, queue=event.get("Queue"), kind=kind, at=at, hold_s=hold_s,
                      member=member if kind == "connect" else None)


class QueueWatch:
    def __init__(self, backend: HotlineBackend, limit_s: float, *, queues: frozenset[str] | None = None,
                 on_breach: Callable[[QueueEvent], None] | None = None) -> None:
        self.backend = backend
        self.limit_s = limit_s
        self.queues = queues  # only these queues (None: all)
        self.on_breach = on_breach
        self.stats = QueueStats()

    def attach(self, client: AmiClient) -> Subscription:
        """Subscribe to the client's queue events; close the returned subscription to stop."""
        return client.subscribe("QueueCallerJoin", "AgentConnect", "QueueCallerAbandon", callback=self.on_event)

    async def on_event(self, event: Event) -> None:
        try:
            found = queue_event(event, self.backend.now())
        except ValueError:
            found = None
        if found is None:
            if event.name.lower() in KINDS:
                self.stats.unreadable += 1
                logger.warning("queue event without a caller or with a bad HoldTime: %s", event.masked())
            return
        if self.queues is not None and found.queue not in self.queues:
            return
        if found.kind == "join":
            self.stats.joined += 1
        elif found.kind == "connect":
            self.stats.connected += 1
        else:
            self.stats.abandoned += 1
        if found.hold_s is not None and found.hold_s > self.limit_s:
            self.stats.breaches += 1
            logger.warning("queue %s: caller waited %.0f s (limit %s s), %s", found.queue, found.hold_s,
                           self.limit_s, found.kind, extra={"call_id": found.call_id})
            if self.on_breach is not None:
                self.on_breach(found)
        await self.backend.queue_event(found)
