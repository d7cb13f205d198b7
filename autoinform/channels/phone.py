"""The phone channel: notification calls placed over AMI on one or more Asterisk servers
(issue 10 part 2; AI-1, AI-9, AI-14).

send() takes a slot on the least loaded server with free capacity (never more live calls than its
`max_channels`, never more starts per second than its `calls_per_second`), originates the call
into the notification context with DELIVERY_ID and ATTEMPT_ID as channel variables, and returns
what the OriginateResponse says: busy, no answer, congestion and rejection at once; an answered
call as "pending", its result to come from the /notify flow through `report()` (the NoticeSource
the flow is given) and on to the engine's status sink. A slot is released on the call's Hangup,
and reconciled against CoreShowChannels when a Hangup may have been lost with the AMI link. A call
whose end was never seen (its Originate unconfirmed, its response lost) is decided from the
server's CDR (phone_cdr) before anything calls that customer again; when the CDR cannot tell, it
ends `interrupted`, and the next call is recorded as its possible duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from autoinform.channels import phone_cdr
from autoinform.channels.base import Outgoing, ProviderStatus, SendResult, StatusSink
from autoinform.config import AsteriskServer, NumberFormat, PhoneSettings
from autoinform.content import PhoneContent
from autoinform.errors import ChannelError
from autoinform.logs import mask_destination
from autoinform.models import Channel, Outcome
from ivr.ami import AmiClient, AmiState, Event, OriginateReason, OriginateResult
from ivr.errors import AmiActionError, AmiError

log = logging.getLogger(__name__)

PROVIDER_PREFIX = "call-"
# How long a failed Originate's Hangup (which carries the cause) is waited for; none comes at all
# when no channel was ever created (no such context, no channel driver).
HANGUP_CAUSE_WAIT_S = 1.0
# Hangup causes (Q.850) of a number that cannot be dialled: never retried.
INVALID_NUMBER_CAUSES = frozenset({"1", "3", "22", "28"})
# The operator queue's events (AI-8): the transfer's outcome is read from them (app_queue, class
# "agent"; docs/asterisk/manager.conf lets them through). Hangup ends a transfer no one took.
QUEUE_EVENTS = ("QueueCallerJoin", "AgentConnect", "QueueCallerAbandon", "Hangup")
# Originate refusals that say the server cannot take a call now, nothing about the customer: retried,
# never a final failure of the delivery. A stopping Asterisk says "shutting down", then (its
# dialplan unloaded) that the notification context's extension does not exist; the customer's
# number is in the dial string, never that extension. The server takes no call until it is back.
TRANSIENT_REFUSALS = ("shutting down", "not fully booted", "extension does not exist")
REFUSAL_PAUSE_S = 2.0
# A call that failed with no cause (no channel made, or one hung up with cause 0): how long the
# server is watched for going down before the failure is taken as the number's. "core stop now"
# first hangs every channel up and refuses new ones, and only says Shutdown (and drops the link)
# once they are gone, seconds later on a busy machine (issue 10 item 3).
STOP_GRACE_S = 5.0
# A call's CDR row is written a moment after its Hangup: how long it is waited for there.
CDR_WAIT_S = 3.0
# A server whose AMI link is up takes calls once it says FullyBooted (on login when it is, else when
# it gets there): a restarted Asterisk lets AMI in before its dialplan and channel drivers are
# loaded, and a call placed then fails with no cause. With no FullyBooted this long after login
# (the AMI user cannot read `system` events), it is trusted anyway.
BOOT_WAIT_S = 30.0


def provider_id(attempt_id: int) -> str:
    """The stable id of one call: what the flow's report and poll() are matched by."""
    return f"{PROVIDER_PREFIX}{attempt_id}"


def attempt_of(pid: str) -> int | None:
    rest = pid.removeprefix(PROVIDER_PREFIX)
    return int(rest) if pid.startswith(PROVIDER_PREFIX) and rest.isdigit() else None


_RU_MOBILE_OR_FIXED = re.compile(r"\+7(\d{10})\Z")


def format_number(e164: str, fmt: NumberFormat) -> str | None:
    """The customer's E.164 number as this server's trunk wants it; None if it cannot be dialled
    there (not a +7 number, or not ten digits after it)."""
    m = _RU_MOBILE_OR_FIXED.match(e164.strip())
    if m is None:
        return None
    national = m.group(1)
    return {"8XXXXXXXXXX": "8", "+7XXXXXXXXXX": "+7", "7XXXXXXXXXX": "7"}[fmt] + national


def classify(result: OriginateResult, cause: str | None) -> tuple[Outcome | None, str, bool]:
    """(outcome, reason, retry) of an OriginateResponse and, when known, the Hangup cause."""
    if result.answered:
        return None, "pending", False
    reason = result.reason
    if reason == OriginateReason.BUSY or cause == "17":
        return Outcome.NEGATIVE, "busy", True
    if reason in (OriginateReason.RING_TIMEOUT, OriginateReason.HANGUP) or cause in ("18", "19"):
        return Outcome.NEGATIVE, "no_answer", True
    if reason == OriginateReason.CONGESTION or cause == "34":
        return Outcome.NEGATIVE, "temporary_failure", True
    if cause == "21":
        return Outcome.NEGATIVE, "rejected", False
    if cause in INVALID_NUMBER_CAUSES:
        return Outcome.NEGATIVE, "invalid_address", False
    return Outcome.NEGATIVE, "failed", False


SlotState = Literal["dialing", "live", "unknown", "foreign"]


@dataclass
class _Transfer:
    """A call in the operators' queue, from its QueueCallerJoin until an operator or the caller ends it."""

    attempt_id: int
    queue: str
    joined_at: str
    joined: float = field(default_factory=time.monotonic)
    # The caller left the queue with no operator (QueueCallerAbandon), and when: whether it hung
    # up or the queue's wait ran out is told by its Hangup (QUEUESTATUS).
    left: Event | None = None
    left_at: str = ""

    def outcome(self, result: str, event: Event | None) -> dict[str, object]:
        hold = event.get("HoldTime") if event is not None else ""
        found: dict[str, object] = {
            "queue": self.queue, "result": result, "answered": result == "answered",
            "joined_at": self.joined_at, "ended_at": self.left_at or _utc_now(),
            # Asterisk's own count of seconds in the queue; our clock when it gave none
            "wait_s": int(hold) if hold.isdigit() else round(time.monotonic() - self.joined, 1)}
        if result == "answered" and event is not None:
            found["operator"] = event.get("MemberName") or event.get("Interface")
        return found


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class _Slot:
    attempt_id: int | None
    state: SlotState
    since: float = field(default_factory=time.monotonic)  # when it took this state

    def mark(self, state: SlotState) -> None:
        self.state, self.since = state, time.monotonic()


@dataclass
class _Call:
    """A call this engine run placed and whose result is not final yet: where to look for it."""

    server: _Server
    uniqueid: str
    answered: bool = False


def first_legs(channels: tuple[Event, ...]) -> dict[str, int | None]:
    """Uniqueid -> attempt id of the calls an engine placed: channels carrying ATTEMPT_ID, first
    legs only. A Local channel's second leg (`;2`) carries the variable too but is not the call:
    it goes with the first and may linger a moment after the first's Hangup."""
    found: dict[str, int | None] = {}
    for c in channels:
        attempt = c.chan_variables.get("ATTEMPT_ID")
        uid = c.get("Uniqueid")
        if attempt is not None and uid and ";" not in uid:
            found[uid] = int(attempt) if attempt.isdigit() else None
    return found


@dataclass
class _Server:
    settings: AsteriskServer
    client: AmiClient
    slots: dict[str, _Slot] = field(default_factory=dict)  # by channel Uniqueid
    starts: deque[float] = field(default_factory=deque)  # monotonic times of recent Originates
    peak: int = 0
    # The AMI connection count when this server said it is shutting down (Shutdown event): it takes
    # no call until it has come back (a new connection), and a failure it gives meanwhile is its
    # own, not the number's (issue 10 item 2b). A refusal that says so pauses it for a moment only
    # (a server just started may refuse until its dialplan is loaded).
    stopping_at: int | None = None
    paused_until: float = 0.0
    # The AMI connection count when this server said FullyBooted, and when that connection came up.
    booted_at: int | None = None
    up_since: float = 0.0

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def up(self) -> bool:
        return self.client.state is AmiState.UP

    @property
    def stopping(self) -> bool:
        return ((self.stopping_at is not None and self.stopping_at == self.client.connects)
                or time.monotonic() < self.paused_until)

    @property
    def booted(self) -> bool:
        return (self.booted_at is not None and self.booted_at == self.client.connects) or (
            time.monotonic() - self.up_since >= BOOT_WAIT_S)

    @property
    def accepting(self) -> bool:
        return self.up and self.booted and not self.stopping

    @property
    def free(self) -> int:
        return self.settings.max_channels - len(self.slots)

    @property
    def load(self) -> float:
        return len(self.slots) / self.settings.max_channels

    def _window(self) -> tuple[float, int]:
        cps = self.settings.calls_per_second
        return (1.0, int(cps)) if cps >= 1 else (1.0 / cps, 1)

    def next_start(self, now: float) -> float:
        """The earliest time another call may start here: at most calls_per_second starts in any
        second (one per 1/cps seconds below one a second), counting starts already booked."""
        window, allowed = self._window()
        while self.starts and self.starts[0] <= now - window:
            self.starts.popleft()
        at = max(now, self.starts[-1]) if self.starts else now
        if len(self.starts) >= allowed:
            at = max(at, self.starts[-allowed] + window)
        return at

    def book_start(self, now: float) -> float:
        at = self.next_start(now)
        self.starts.append(at)
        return at


class PhoneChannel:
    """ChannelSender for Channel.PHONE, and the NoticeSource the /notify flow reads and reports to."""

    channel = Channel.PHONE

    def __init__(self, settings: PhoneSettings, *, status_sink: StatusSink | None = None) -> None:
        if not settings.servers:
            raise ChannelError("phone: no Asterisk servers in settings (phone.servers)", permanent=True)
        self.settings = settings
        self.servers = [_Server(s, AmiClient(s, name=s.name)) for s in settings.servers]
        self._sink = status_sink
        self._capacity = asyncio.Condition()
        self._token = secrets.token_hex(3)  # this engine life's channel ids never meet an old one's
        self._notices: dict[int, Outgoing] = {}
        self._reported: dict[int, ProviderStatus] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._reconciler: asyncio.Task[None] | None = None
        self._closing = False
        self._transfers: dict[tuple[str, str], _Transfer] = {}  # (server, caller Uniqueid)
        self._calls: dict[int, _Call] = {}  # by attempt id, until its result is final

    # --- settings the dispatcher reads ------------------------------------------------------------

    @property
    def status_timeout_s(self) -> float:
        """An answered call reports when it ends: ring, the longest call, and a minute to spare."""
        return self.settings.ring_timeout_s + self.settings.max_call_s + 60.0

    def bind_status_sink(self, sink: StatusSink) -> None:
        self._sink = sink

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to every server; at least one must come up. Calls this engine's previous life
        left live are counted against the slots before any new call starts."""
        for server in self.servers:
            server.client.subscribe("Hangup", callback=self._hangup_handler(server))
            # One subscription, so a transfer's events and its Hangup are seen in Asterisk's order.
            server.client.subscribe(*QUEUE_EVENTS, callback=self._queue_handler(server))
            server.client.subscribe("Shutdown", callback=self._shutdown_handler(server))
            server.client.subscribe("FullyBooted", callback=self._booted_handler(server))
            server.client.add_listener(self._state_listener(server))
            server.client.start()
        results = await asyncio.gather(*(s.client.wait_up() for s in self.servers), return_exceptions=True)
        up = [s for s, r in zip(self.servers, results, strict=True) if not isinstance(r, BaseException)]
        for server, r in zip(self.servers, results, strict=True):
            if isinstance(r, BaseException):
                log.warning("phone: Asterisk %s not reachable at start: %s", server.name, r)
        if not up:
            raise ChannelError("phone: no Asterisk server reachable: "
                               + "; ".join(f"{s.name}: {r}" for s, r in zip(self.servers, results, strict=True)),
                               permanent=False)
        await asyncio.gather(*(self.reconcile(s) for s in up), return_exceptions=True)
        self._reconciler = asyncio.create_task(self._reconcile_loop(), name="phone-reconcile")

    async def close(self) -> None:
        self._closing = True
        if self._reconciler is not None:
            self._reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciler
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self.servers:
            await server.client.close()

    # --- NoticeSource (the /notify flow) -----------------------------------------------------------

    def notice_for(self, attempt_id: int) -> PhoneContent | None:
        """The content of a call this engine placed and whose result has not come yet."""
        item = self._notices.get(attempt_id)
        return item.content if item is not None and isinstance(item.content, PhoneContent) else None

    async def report(self, status: ProviderStatus) -> None:
        """The flow's result of an answered call: to the engine's sink (stored, then applied)."""
        attempt_id = attempt_of(status.provider_id) if status.outcome is not None else None
        if attempt_id is not None:
            self._notices.pop(attempt_id, None)
            self._reported[attempt_id] = status  # poll() answers with it if the sink failed
        if self._sink is None:
            log.error("phone: a call result with no status sink bound: %s", status.provider_id)
            return
        await self._sink(status)
        if attempt_id is not None:  # stored: nothing about this call is asked any more
            self._reported.pop(attempt_id, None)
            self._calls.pop(attempt_id, None)

    # --- sending ----------------------------------------------------------------------------------

    async def send(self, item: Outgoing) -> SendResult:
        extra = {"delivery_id": item.delivery_id, "attempt_id": item.attempt_id, "channel": "phone"}
        pid = provider_id(item.attempt_id)
        try:
            server, channel_id = await self._acquire(item.attempt_id)
        except ChannelError as exc:
            return SendResult(Outcome.NEGATIVE, "temporary_failure", retry=True,
                              detail={"error": str(exc), "placed": False})
        number = format_number(item.destination, server.settings.number_format)
        if number is None:
            self._release(server, channel_id)
            return SendResult(Outcome.NEGATIVE, "invalid_address",
                              detail={"error": f"not a dialable number for {server.settings.number_format}"})
        s = self.settings
        dial = server.settings.dial_template.format(number=number)
        dial_local = dial.lower().startswith("local/")
        variables: dict[str, str | int] = {**server.settings.variables, "DELIVERY_ID": item.delivery_id,
                                           "ATTEMPT_ID": item.attempt_id,
                                           "TIMEOUT(absolute)": int(s.ring_timeout_s + s.max_call_s)}
        evidence: dict[str, object] = {"server": server.name, "uniqueid": channel_id}
        hangup = server.client.expect("Hangup", {"Uniqueid": channel_id})
        # A Local channel's cause is on its second leg (the first hangs up with 0).
        hangup2 = server.client.expect("Hangup", {"Uniqueid": f"{channel_id};2"})
        self._notices[item.attempt_id] = item
        self._calls[item.attempt_id] = _Call(server, channel_id)
        try:
            call = await server.client.originate(
                dial, context=server.settings.context,
                exten=server.settings.exten, timeout_ms=int(s.ring_timeout_s * 1000), channel_id=channel_id,
                variables=variables)
        except AmiActionError as exc:  # refused outright: nothing was placed
            hangup2.cancel()
            self._forget(server, channel_id, item.attempt_id, hangup)
            log.warning("phone: Originate refused on %s: %s", server.name, exc.message, extra=extra)
            if any(words in exc.message.lower() for words in TRANSIENT_REFUSALS):
                # The server's state, not the number: called again later (issue 10 item 2b).
                server.paused_until = time.monotonic() + REFUSAL_PAUSE_S
                return SendResult(Outcome.NEGATIVE, "temporary_failure", retry=True,
                                  disposition=exc.message[:64],
                                  detail={**evidence, "error": exc.message, "placed": False})
            return SendResult(Outcome.NEGATIVE, "failed", disposition=exc.message[:64],
                              detail={**evidence, "error": exc.message})
        except AmiError as exc:  # whether Asterisk queued it is not known
            return self._unconfirmed(server, channel_id, pid, hangup2, "originate_unconfirmed", exc, evidence, extra)
        try:
            result = await call.result(timeout_s=s.ring_timeout_s + 30)
        except AmiError as exc:  # queued; how it went is not known
            return self._unconfirmed(server, channel_id, pid, hangup2, "response_lost", exc, evidence, extra)
        evidence |= {"originate_reason": result.reason, "originate": result.reason_name}
        if result.answered:
            slot = server.slots.get(channel_id)
            if slot is not None:  # (its Hangup may already have released it)
                slot.mark("live")
            self._calls[item.attempt_id].answered = True
            hangup.cancel()
            hangup2.cancel()
            log.info("phone: answered on %s", server.name, extra=extra)
            return SendResult(None, "pending", provider_id=pid, disposition="answered",
                              detail={**evidence, "channel_name": result.channel})
        cause = await self._cause(hangup)
        if cause in (None, "0") and hangup.done() and dial_local:
            cause = await self._cause(hangup2) or cause
        hangup2.cancel()
        self._forget(server, channel_id, item.attempt_id, hangup)
        outcome, reason, retry = classify(result, cause)
        if reason == "failed" and cause in (None, "0") and not await self._accepting_calls(server):
            # No channel made, or one hung up with no cause: Asterisk was stopping, not a bad number.
            outcome, reason, retry = Outcome.NEGATIVE, "temporary_failure", True
            evidence["placed"] = False
        if cause is not None:
            evidence["hangup_cause"] = cause
        log.info("phone: %s to %s on %s (reason %s, cause %s)", reason, mask_destination(item.destination),
                 server.name, result.reason, cause, extra=extra)
        disposition = f"reason {result.reason}" + (f" cause {cause}" if cause else "")
        return SendResult(outcome, reason, retry=retry, disposition=disposition, detail=evidence)

    def _unconfirmed(self, server: _Server, channel_id: str, pid: str, hangup2: asyncio.Future[Event],
                     disposition: str, exc: AmiError, evidence: dict[str, object],
                     extra: dict[str, object]) -> SendResult:
        """The Originate's reply or its response lost with the link: the call may be ringing. Never
        guessed: pending under its id, its slot kept as `unknown`; its end (a Hangup, or its absence
        from CoreShowChannels) sends it to the CDR, and poll() asks Asterisk if nothing else tells."""
        hangup2.cancel()
        if (slot := server.slots.get(channel_id)) is not None:
            slot.mark("unknown")
        log.warning("phone: %s on %s (%s): reconciled later", disposition.replace("_", " "), server.name, exc,
                    extra=extra)
        return SendResult(None, "pending", provider_id=pid, disposition=disposition,
                          detail={**evidence, "error": str(exc)})

    async def _accepting_calls(self, server: _Server) -> bool:
        """After a call failed with no cause: is that the server's state? Its notification extension
        gone, an AMI action refused ("shutting down"), its link down or its Shutdown event within
        STOP_GRACE_S mean a stopping Asterisk, not a bad number (issue 10 item 3)."""
        deadline = time.monotonic() + STOP_GRACE_S
        while True:
            if server.stopping or not server.up:
                return False
            try:
                await server.client.action("ShowDialPlan", {"Context": server.settings.context,
                                                            "Extension": server.settings.exten},
                                           timeout_s=HANGUP_CAUSE_WAIT_S)
            except AmiError:  # (AmiActionError: no such extension now, or shutting down)
                server.paused_until = time.monotonic() + REFUSAL_PAUSE_S
                return False
            if time.monotonic() >= deadline:
                return True
            await asyncio.sleep(0.25)

    @staticmethod
    async def _cause(hangup: asyncio.Future[Event]) -> str | None:
        if not hangup.done():
            await asyncio.wait({hangup}, timeout=HANGUP_CAUSE_WAIT_S)
        if hangup.done() and not hangup.cancelled() and hangup.exception() is None:
            return hangup.result().get("Cause") or None
        return None

    def _forget(self, server: _Server, channel_id: str, attempt_id: int, hangup: asyncio.Future[Event]) -> None:
        if not hangup.done():
            hangup.cancel()
        self._notices.pop(attempt_id, None)
        self._calls.pop(attempt_id, None)
        self._release(server, channel_id)

    async def _acquire(self, attempt_id: int) -> tuple[_Server, str]:
        """A slot on the least loaded server that is up and has room, paced to its rate. Waits for
        room; ChannelError if no server is up for a connect timeout."""
        channel_id = f"ai-{attempt_id}-{self._token}"
        down_since: float | None = None
        async with self._capacity:
            while True:
                now = time.monotonic()
                up = [s for s in self.servers if s.accepting]
                ready = [s for s in up if s.free > 0]
                if ready:
                    server = min(ready, key=lambda s: (s.load, s.next_start(now), s.name))
                    server.slots[channel_id] = _Slot(attempt_id, "dialing")
                    server.peak = max(server.peak, len(server.slots))
                    start_at = server.book_start(now)
                    break
                if not up:
                    down_since = down_since or now
                    limit = max(s.settings.connect_timeout_s for s in self.servers)
                    if now - down_since >= limit:
                        raise ChannelError("no Asterisk server is up", permanent=False)
                else:
                    down_since = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):  # also wakes on a server coming up
                        await self._capacity.wait()
        # The start was booked under the lock; its pacing wait is outside it (others go meanwhile).
        delay = start_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return server, channel_id

    def _release(self, server: _Server, channel_id: str) -> None:
        if server.slots.pop(channel_id, None) is not None:
            self._notify_capacity()

    def _notify_capacity(self) -> None:
        async def notify() -> None:
            async with self._capacity:
                self._capacity.notify_all()
        if not self._closing:
            self._spawn(notify())

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- call ends and reconciliation ---------------------------------------------------------------

    def _hangup_handler(self, server: _Server) -> Callable[[Event], None]:
        def on_hangup(event: Event) -> None:
            uid = event.get("Uniqueid")
            if (slot := server.slots.get(uid)) is not None:
                self._ended(server, uid, slot)
        return on_hangup

    def _ended(self, server: _Server, uid: str, slot: _Slot) -> None:
        """A call seen to end (its Hangup, or gone from CoreShowChannels): its slot freed; one whose
        Originate was never confirmed goes to the CDR for its result."""
        self._release(server, uid)
        if slot.state == "unknown" and slot.attempt_id is not None and not self._closing:
            self._spawn(self._settle_unconfirmed(server, uid, slot.attempt_id))

    def _queue_handler(self, server: _Server) -> Callable[[Event], None]:
        """The operator transfer's outcome (AI-8): answered by an operator (after how long, by
        whom), abandoned by the caller, `timeout` (the queue's wait ran out with no operator: a
        QueueCallerAbandon too, told apart by the caller's Hangup carrying QUEUESTATUS=TIMEOUT,
        manager.conf's channelvars), or `unanswered` (the call ended in the queue with neither
        event). Reported as an intermediate status: the attempt's result (`transferred`) is the
        flow's; this adds detail["transfer"] to it."""
        def on_event(event: Event) -> None:
            name, uid = event.get("Event").lower(), event.get("Uniqueid")
            key = (server.name, uid)
            if name == "queuecallerjoin":
                attempt = event.chan_variables.get("ATTEMPT_ID", "")
                slot = server.slots.get(uid)
                attempt_id = int(attempt) if attempt.isdigit() else (slot.attempt_id if slot else None)
                if attempt_id is not None:
                    self._transfers[key] = _Transfer(attempt_id, event.get("Queue"), _utc_now())
                return
            transfer = self._transfers.get(key)
            if transfer is None:
                return
            if name == "queuecallerabandon":  # decided on the caller's Hangup
                transfer.left, transfer.left_at = event, _utc_now()
                return
            del self._transfers[key]
            if name == "agentconnect":
                result, source = "answered", event
            elif transfer.left is not None:
                timed_out = event.chan_variables.get("QUEUESTATUS", "").upper() == "TIMEOUT"
                result, source = ("timeout" if timed_out else "abandoned"), transfer.left
            else:
                result, source = "unanswered", None
            found = transfer.outcome(result, source)
            log.info("phone: operator transfer %s after %s s on %s", result, found["wait_s"], server.name,
                     extra={"attempt_id": transfer.attempt_id, "channel": "phone"})
            status = ProviderStatus(Channel.PHONE, provider_id(transfer.attempt_id), f"transfer_{result}", None,
                                    "transferred", detail={"transfer": found})
            if self._sink is not None and not self._closing:
                self._spawn(self._report_transfer(status))
        return on_event

    async def _report_transfer(self, status: ProviderStatus) -> None:
        assert self._sink is not None
        try:
            await self._sink(status)
        except Exception:  # the call's result is already stored; this is its detail, logged if lost
            log.exception("phone: the operator transfer's outcome could not be stored: %s", status.detail)

    def _shutdown_handler(self, server: _Server) -> Callable[[Event], None]:
        def on_shutdown(event: Event) -> None:
            log.warning("phone: Asterisk %s is shutting down: no calls there until it is back", server.name)
            server.stopping_at = server.client.connects
            self._notify_capacity()
        return on_shutdown

    def _booted_handler(self, server: _Server) -> Callable[[Event], None]:
        def on_booted(event: Event) -> None:
            # Sent right after the login's reply, but a subscriber may see it before the client
            # has counted the connection (still `connecting`): then it is the next one's. Down:
            # an event of a link already gone.
            state = server.client.state
            if state is AmiState.DOWN:
                return
            server.booted_at = server.client.connects + (0 if state is AmiState.UP else 1)
            self._notify_capacity()
        return on_booted

    def _state_listener(self, server: _Server) -> Callable[[AmiState], None]:
        def on_state(state: AmiState) -> None:
            if state is AmiState.UP:
                server.up_since = time.monotonic()
            if state is AmiState.UP and not self._closing and server.client.connects > 1:
                self._spawn(self._safe_reconcile(server))  # Hangups may have been lost while down
            self._notify_capacity()
        return on_state

    async def _safe_reconcile(self, server: _Server) -> None:
        try:
            await self.reconcile(server)
        except AmiError as exc:
            log.warning("phone: reconcile on %s failed: %s", server.name, exc)

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reconcile_s)
            for server in self.servers:
                if server.up:
                    await self._safe_reconcile(server)

    async def reconcile(self, server: _Server) -> None:
        """Slots against the calls Asterisk has: a live/unknown call it no longer has is ended; a
        call it has that we hold no slot for (an earlier life of the engine) takes one. Only slots
        whose state is older than the snapshot are judged by it: a call answered while the reply
        was on its way is not in it, and is not ended for that."""
        asked = time.monotonic()
        ours = first_legs(await server.client.core_show_channels())
        for uid, slot in list(server.slots.items()):
            if slot.state != "dialing" and slot.since < asked and uid not in ours:
                self._ended(server, uid, slot)
        for uid, attempt_id in ours.items():
            # This run's own calls hold their slot from the start; one not held has ended since.
            if uid not in server.slots and not uid.endswith(f"-{self._token}"):
                server.slots[uid] = _Slot(attempt_id, "foreign")

    async def live_attempts(self) -> dict[int, str] | None:
        """Attempt id -> server of every call Asterisk has up; None when a server cannot be asked."""
        found: dict[int, str] = {}
        for server in self.servers:
            if not server.up:
                return None
            try:
                channels = await server.client.core_show_channels()
            except AmiError:
                return None
            for attempt_id in first_legs(channels).values():
                if attempt_id is not None:
                    found[attempt_id] = server.name
        return found

    # --- the CDR: calls whose end was never seen (issue 10 item 2) -----------------------------------

    async def _cdr(self, attempt_id: int, wait_s: float = 0.0) -> phone_cdr.CdrRecord | None:
        """The CDR record of this attempt's call: by its exact Uniqueid when this run placed it,
        else (an earlier run's) by the `ai-<attempt>-` prefix on every server with a CDR. Waits
        up to `wait_s` for the row (written a moment after the Hangup)."""
        call = self._calls.get(attempt_id)
        targets: list[tuple[_Server, str | None, str | None]] = (
            [(call.server, call.uniqueid, None)] if call is not None
            else [(srv, None, f"ai-{attempt_id}-") for srv in self.servers])
        targets = [t for t in targets if t[0].settings.cdr_csv is not None]
        if not targets:
            return None
        deadline = time.monotonic() + wait_s
        while True:
            for server, uid, prefix in targets:
                path = server.settings.cdr_csv
                assert path is not None
                try:
                    record = await asyncio.to_thread(phone_cdr.lookup, path, uniqueid=uid, prefix=prefix)
                except OSError as exc:
                    log.warning("phone: the CDR of %s cannot be read: %s", server.name, exc)
                    continue
                if record is not None:
                    return record
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.2)

    async def _settle_unconfirmed(self, server: _Server, uid: str, attempt_id: int) -> None:
        """An unconfirmed call has ended: if the CDR says it was never answered, that is its result
        now (busy, no answer … retried as the send would have been). Answered, or no CDR row: the
        flow's report, or poll() past the status timeout, decides."""
        record = await self._cdr(attempt_id, wait_s=CDR_WAIT_S)
        found = record.outcome() if record is not None else None
        if record is None or found is None:
            return
        outcome, reason, retry = found
        self._notices.pop(attempt_id, None)
        self._calls.pop(attempt_id, None)
        log.info("phone: unconfirmed call %s on %s: %s by the CDR", uid, server.name, reason,
                 extra={"attempt_id": attempt_id, "channel": "phone"})
        await self._deliver(ProviderStatus(Channel.PHONE, provider_id(attempt_id), f"cdr {record.disposition}",
                                           outcome, reason, retry=retry, detail={"cdr": record.evidence()}))

    async def _deliver(self, status: ProviderStatus) -> None:
        """A result found by the channel itself: to the sink, or kept for poll() if it cannot take it."""
        attempt_id = attempt_of(status.provider_id)
        if attempt_id is not None:
            self._reported[attempt_id] = status
        if self._sink is None or self._closing:
            return
        try:
            await self._sink(status)
        except Exception:
            log.exception("phone: a call result could not be stored; poll() answers with it")
            return
        if attempt_id is not None:
            self._reported.pop(attempt_id, None)

    async def poll(self, provider_id: str) -> ProviderStatus | None:
        """A call whose result never came: still up on Asterisk → ask later; a server that cannot
        be asked → None (never taken for "gone"). Gone: a result the sink could not take; else
        what the CDR says of a call never answered; an answered call with no result → negative
        `no_report`; nothing known (no CDR row, no CDR) → `interrupted`, retried, and the next
        call is recorded as its possible duplicate (never a silent second call)."""
        attempt_id = attempt_of(provider_id)
        if attempt_id is None:
            return None
        if (reported := self._reported.pop(attempt_id, None)) is not None:
            return reported
        live = await self.live_attempts()
        if live is None or attempt_id in live:
            return None
        record = await self._cdr(attempt_id)
        call = self._calls.pop(attempt_id, None)
        self._notices.pop(attempt_id, None)
        cdr = {"cdr": record.evidence()} if record is not None else {}
        if record is not None and (found := record.outcome()) is not None:
            outcome, reason, retry = found
            return ProviderStatus(Channel.PHONE, provider_id, f"cdr {record.disposition}", outcome, reason,
                                  retry=retry, detail=cdr)
        if (call is not None and call.answered) or record is not None:
            return ProviderStatus(Channel.PHONE, provider_id, "gone", Outcome.NEGATIVE, "no_report",
                                  detail={**cdr, "note": "the call ended on Asterisk with no result from the flow"})
        return ProviderStatus(Channel.PHONE, provider_id, "unknown", Outcome.NEGATIVE, "interrupted", retry=True,
                              detail={"note": "gone from Asterisk; no CDR says whether it was answered"})

    async def wait_idle(self, timeout_s: float) -> None:
        """Until no server holds a slot (every call this engine placed has ended)."""
        async with asyncio.timeout(timeout_s), self._capacity:
            await self._capacity.wait_for(lambda: not any(s.slots for s in self.servers))

    def stats(self) -> dict[str, dict[str, object]]:
        return {s.name: {"state": s.client.state.value, "live": len(s.slots), "peak": s.peak,
                         "max_channels": s.settings.max_channels} for s in self.servers}
