"""What the desk reads from AMI, free of I/O: AgentConnect (a caller connected to an operator's
interface), Hangup, and the QueueStatus reply (members, callers waiting)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ivr.ami.protocol import Event

# The hotline flow hands the account typed in the IVR across the queue in this channel variable
# (ivr/hotline/flow.py VAR_ACCOUNT); a notification call carries its ATTEMPT_ID (manager.conf
# channelvars), so the desk can show the notice the customer just heard.
ACCOUNT_VAR = "AUTOINFORM_HL_ACCOUNT"
ATTEMPT_VAR = "ATTEMPT_ID"


@dataclass(frozen=True)
class Connect:
    """AgentConnect: the queue bridged the caller (`call_id`, the caller channel's Uniqueid) to the
    member `interface`."""

    call_id: str
    linked_id: str
    queue: str
    interface: str
    member: str
    caller: str
    hold_s: float | None
    attempt_id: int | None
    account: str | None


def connect_from(event: Event) -> Connect | None:
    """The Connect an AgentConnect stands for; None for any other event or one without the caller's
    uniqueid or the member's interface."""
    if event.name.lower() != "agentconnect":
        return None
    call_id = event.get("Uniqueid")
    interface = event.get("Interface") or event.get("MemberName")
    if not call_id or not interface:
        return None
    chan_vars = event.chan_variables
    try:
        hold_s: float | None = float(event.get("HoldTime"))
    except ValueError:
        hold_s = None
    attempt = chan_vars.get(ATTEMPT_VAR, "")
    return Connect(call_id=call_id[:64], linked_id=event.get("Linkedid")[:64], queue=event.get("Queue")[:64],
                   interface=interface[:128], member=event.get("MemberName")[:128],
                   caller=event.get("CallerIDNum")[:32], hold_s=hold_s,
                   attempt_id=int(attempt) if attempt.isdigit() else None,
                   account=chan_vars.get(ACCOUNT_VAR) or None)


# QueueMember Status (ast_devstate): 1 not in use, 2 in use, 3 busy, 6 ringing, 7 ring+in use, 8 on hold
_BUSY_STATES = frozenset({"2", "3", "6", "7", "8"})


@dataclass(frozen=True)
class Member:
    interface: str
    name: str
    paused: bool
    pause_reason: str
    in_call: bool
    calls_taken: int


@dataclass(frozen=True)
class QueueSnapshot:
    """One queue as QueueStatus reports it."""

    queue: str
    waiting: int  # QueueParams Calls
    longest_wait_s: int  # the largest QueueEntry Wait
    completed: int
    abandoned: int
    members: tuple[Member, ...] = field(default_factory=tuple)


def queue_snapshot(queue: str, events: Iterable[Event]) -> QueueSnapshot:
    """The QueueStatus reply's QueueParams, QueueMember and QueueEntry events for `queue`."""
    waiting = completed = abandoned = longest = 0
    members: list[Member] = []
    for e in events:
        if e.get("Queue") != queue:
            continue
        name = e.name.lower()
        if name == "queueparams":
            waiting, completed, abandoned = _int(e.get("Calls")), _int(e.get("Completed")), _int(e.get("Abandoned"))
        elif name == "queuemember":
            members.append(Member(interface=e.get("Location") or e.get("StateInterface"), name=e.get("Name"),
                                  paused=e.get("Paused") == "1", pause_reason=e.get("PausedReason"),
                                  in_call=e.get("InCall") == "1" or e.get("Status") in _BUSY_STATES,
                                  calls_taken=_int(e.get("CallsTaken"))))
        elif name == "queueentry":
            longest = max(longest, _int(e.get("Wait")))
    return QueueSnapshot(queue, waiting, longest, completed, abandoned, tuple(members))


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
