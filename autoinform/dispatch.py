"""The dispatcher: claims due deliveries, sends them through their channels, records results.

A pipeline of three parts on one event loop, with the database work in a thread:
claim (lease + render + record attempts) → send (per-channel concurrency and rate) → record
(results batched into one transaction). The informing window (AI-13) is checked when claiming;
at the instant each message leaves, the send gate (sendgate.py) checks it again with the
campaign's state and end, the stop list and the lease. Leases of work in flight are renewed on
their own timer, and every write to a claimed delivery is conditional on still holding its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.orm import Session

from autoinform import campaigns, deliveries
from autoinform.channels.base import ChannelSender, Outgoing, ProviderStatus, SendResult, SentFinder
from autoinform.config import ChannelLimits
from autoinform.content import SmsContent
from autoinform.db import transaction
from autoinform.deliveries import Done, Renderer, Work
from autoinform.errors import ChannelError
from autoinform.logs import mask_destination
from autoinform.models import Campaign, Channel, Delivery, Outcome, utcnow
from autoinform.policy import RetryPolicy
from autoinform.ratelimit import TokenBucket
from autoinform.runtime import Runtime
from autoinform.sendgate import Action, SendGate

log = logging.getLogger(__name__)
T = TypeVar("T")
# A provider lists a message once it has left its queue: an interrupted attempt is looked up only
# this long after it began (issue 8 item 6).
RECONCILE_AFTER = timedelta(seconds=60)
Sweep = tuple[list[int], dict[int, str], int, list[tuple[int, Channel, str]]]


def _lower_this_thread(increment: int) -> None:
    """Add `increment` to the calling thread's nice value, up to 19 (Linux: nice is per thread)."""
    if increment and sys.platform == "linux":
        tid = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment))
        except OSError as exc:  # a sandbox may forbid it: slower under contention, not wrong
            log.warning("could not lower the database thread's priority: %s", exc)


def default_worker_name() -> str:
    """Stable across restarts of the same engine, so leases of a crashed run are ours to recover."""
    return os.environ.get("AUTOINFORM_WORKER", socket.gethostname())[:64]


@dataclass
class Stats:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    released: int = 0
    held: dict[str, int] = field(default_factory=dict)  # not sent at the instant of sending: why
    unavailable: dict[str, int] = field(default_factory=dict)  # routed to a channel we cannot send on
    leases_lost: int = 0
    polls_unanswered: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    finalized: dict[str, int] = field(default_factory=dict)
    retired_reports: int = 0  # provider reports that matched no attempt in time (issue 8 item 6)


class Dispatcher:
    def __init__(self, rt: Runtime, senders: Mapping[Channel, ChannelSender], renderer: Renderer, *,
                 worker: str | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.rt = rt
        self.senders = dict(senders)
        self.renderer = renderer
        self.worker = worker or default_worker_name()
        self.clock = clock
        self.window = rt.window
        phone = rt.settings.phone
        self.call_limits = deliveries.CallLimits(phone.max_calls_per_day,
                                                 timedelta(seconds=phone.min_call_interval_s))
        cfg = rt.settings.dispatch
        self.limits: dict[Channel, ChannelLimits] = {Channel.EMAIL: cfg.email, Channel.SMS: cfg.sms,
                                                     Channel.PHONE: cfg.phone}
        self.policies = {ch: RetryPolicy(lim) for ch, lim in self.limits.items()}
        self._buckets = {ch: TokenBucket(lim.rate_per_s) for ch, lim in self.limits.items()}
        self._capacity = max(cfg.batch_size, 2 * sum(lim.concurrency for ch, lim in self.limits.items()
                                                      if ch in self.senders))
        # Per channel, `concurrency` long-lived workers take claimed work from a queue: a task
        # per message cost more than the dispatcher's whole database share (bench/email_engine).
        self._queues: dict[Channel, asyncio.Queue[Work | None]] = {ch: asyncio.Queue() for ch in self.limits}
        self._inflight = 0  # claimed and not yet done: queued or being sent
        self.gate = SendGate(rt.engine, rt.window, lease_margin=timedelta(seconds=cfg.lease_margin_s))
        weakref.finalize(self, self.gate.close)
        # The event loop answers sockets; the database thread fills the loop's idle time. At the same
        # priority the kernel lets a running database thread keep the core while replies wait, and
        # the GIL then makes the loop wait a whole switch interval more: both are lowered here and
        # in run() (bench/email_engine: 70 % -> 85 % of the ceiling on one core).
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="dispatch-db", initializer=_lower_this_thread,
                                             initargs=(cfg.db_thread_nice,))
        weakref.finalize(self, self._db_thread.shutdown, wait=False)
        self._done: list[Done] = []
        self._deferred: list[tuple[Work, datetime, str]] = []  # not sent: back to pending at, why
        self._finished: list[tuple[Work, str]] = []  # not sent: the delivery ends negative, why
        self._lost: list[Work] = []  # not sent: another engine holds it now
        self._flush_now = asyncio.Event()
        self._wake = asyncio.Event()
        self._stopping = False
        self.stats = Stats()
        self._logged: set[tuple[int, str, str]] = set()  # (campaign, reason, words) already logged

    # --- public -------------------------------------------------------------------------------

    def wake(self) -> None:
        """Claim now instead of at the next poll (a campaign began, a retry fell due)."""
        self._wake.set()

    async def recover(self) -> int:
        """At start-up: take the worker name (refused while another engine lives under it), then
        deliveries our previous life held when it died go back to pending."""
        lease = timedelta(seconds=self.rt.settings.dispatch.lease_s)

        def start(s: Session) -> int:
            now = self.clock()
            deliveries.register_worker(s, worker=self.worker, now=now, stale_after=lease)
            return deliveries.recover(s, now=now, worker=self.worker)
        return await self.in_db(start)

    async def run(self, stop: asyncio.Event) -> None:
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(self.rt.settings.dispatch.switch_interval_ms / 1000)
        try:
            await self._run(stop)
        finally:
            sys.setswitchinterval(switch_interval)

    async def _run(self, stop: asyncio.Event) -> None:
        self._stopping = False
        recorder = asyncio.create_task(self._recorder(), name="dispatch-recorder")
        keeper = asyncio.create_task(self._lease_keeper(), name="dispatch-leases")
        workers = [asyncio.create_task(self._worker(ch, q), name=f"send-{ch.value}-{i}")
                   for ch, q in self._queues.items() for i in range(self.limits[ch].concurrency)]
        try:
            await self._claim_loop(stop)
        finally:
            self._stopping = True  # work still queued is released, not sent
            for ch, q in self._queues.items():
                for _ in range(self.limits[ch].concurrency):
                    q.put_nowait(None)
            await asyncio.gather(*workers, return_exceptions=True)
            self._flush_now.set()
            await recorder
            await self._flush()
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def on_status(self, status: ProviderStatus) -> None:
        """StatusSink for providers' delivery reports: stored first, then applied."""
        def work(s: Session) -> int:
            now = self.clock()
            deliveries.store_status(s, status, now=now)
            s.flush()
            return deliveries.apply_statuses(s, now=now, policies=self.policies)
        await self.in_db(work)

    async def housekeeping(self) -> None:
        """Dead leases, provider reports, overdue statuses and campaign ends; run periodically.
        Leases of our own work are not renewed here but by their own timer (_lease_keeper)."""
        now = self.clock()

        def sweep(s: Session) -> Sweep:
            begun = campaigns.begin_due(s, now)
            recovered = deliveries.recover(s, now=now, alive=self.worker)
            deliveries.apply_statuses(s, now=now, policies=self.policies)
            self.stats.retired_reports += deliveries.retire_unmatched(
                s, now=now, after_s=self.rt.settings.dispatch.unmatched_status_s)
            overdue = deliveries.overdue_awaiting(s, now)
            closed = campaigns.close_due(s, now)
            return begun, closed, recovered, overdue
        begun, closed, _recovered, overdue = await self.in_db(sweep)
        if begun:
            self.wake()
        for cid, state in closed.items():
            log.info("campaign %s %s", cid, state, extra={"campaign_id": cid})
        if overdue:
            await self._poll_all(overdue, now)

    async def renew_leases(self) -> list[int]:
        """Extend the leases of every piece of work in flight (queued, being sent, or sent and not
        yet written back); returns those found taken by another engine, which the gate drops. The
        worker name's heartbeat goes with it."""
        ids = self.gate.in_flight()
        now = self.clock()
        until = now + timedelta(seconds=self.rt.settings.dispatch.lease_s)

        def renew(s: Session) -> list[int]:
            deliveries.heartbeat(s, worker=self.worker, now=now)
            return deliveries.renew_leases(s, worker=self.worker, ids=ids, until=until)
        kept = await self.in_db(renew)
        if not ids:
            return []
        lost = self.gate.renewed(kept, ids, until)
        if lost:
            self.stats.leases_lost += len(lost)
            log.warning("%d leases were taken by another engine; that work will not be sent here", len(lost))
        return lost

    async def _lease_keeper(self) -> None:
        every = self.rt.settings.dispatch.renew_every_s
        while True:
            await asyncio.sleep(every)
            try:
                await self.renew_leases()
            except Exception:  # the database may be back next time; the gate holds lapsing work
                log.exception("lease renewal failed")

    # --- claim --------------------------------------------------------------------------------

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        cfg = self.rt.settings.dispatch
        while not stop.is_set():
            now = self.clock()
            delay = cfg.poll_interval_s
            if not self.window.allows(now):
                # Nothing may leave now (AI-13); sleep to the next opening or the next poll.
                delay = min(delay, max(0.05, (self.window.next_allowed(now) - now).total_seconds()))
            elif self._inflight <= self._capacity // 2:
                # Refill in large batches at a low-water mark: a claim costs a transaction, so many
                # small ones as single sends finish would cost more than the sends.
                report = await self.in_db(self._claimer(now, min(cfg.batch_size,
                                                               self._capacity - self._inflight)))
                self._account(report)
                if report.work and report.lease_until is not None:
                    self.gate.track(report.work, lease_until=report.lease_until, stops_seen=report.stops_seen)
                self._inflight += len(report.work)
                for w in report.work:
                    self._queues[w.channel].put_nowait(w)
                if report.work:
                    continue  # more may be due right away
            else:
                delay = 0.01  # pipeline full: wait for sends to drain
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            for f in waiters:
                f.cancel()

    def _claimer(self, now: datetime, limit: int) -> Callable[[Session], deliveries.ClaimReport]:
        def claim(s: Session) -> deliveries.ClaimReport:
            return deliveries.claim(s, now=now, limit=limit, worker=self.worker,
                                    lease_s=self.rt.settings.dispatch.lease_s, window=self.window,
                                    renderer=self.renderer, sendable=self.senders.keys(),
                                    call_limits=self.call_limits)
        return claim

    def _account(self, report: deliveries.ClaimReport) -> None:
        self.stats.claimed += len(report.work)
        self.stats.deferred += report.deferred
        for reason, n in report.finalized.items():
            self.stats.finalized[reason] = self.stats.finalized.get(reason, 0) + n
        for (cid, code, text), n in report.failures.items():
            self._once(logging.WARNING, cid, code, text, n, "deliveries end negative: %s (%s)")
        for channel, n in report.unavailable.items():
            if not self.stats.unavailable.get(channel.value):
                log.warning("deliveries routed to %s wait: this engine has no %s settings", channel.value,
                            channel.value)
            self.stats.unavailable[channel.value] = self.stats.unavailable.get(channel.value, 0) + n

    # --- send ---------------------------------------------------------------------------------

    async def _worker(self, channel: Channel, queue: asyncio.Queue[Work | None]) -> None:
        sender = self.senders.get(channel)
        bucket = self._buckets[channel]
        while (w := await queue.get()) is not None:
            try:
                if not self._stopping:
                    await bucket.acquire()  # may sleep: a stop can come meanwhile
                if not await self._may_leave(w):
                    continue
                now = self.clock()
                if w.interrupted is not None and isinstance(sender, SentFinder):
                    found = await self._reconcile(sender, w, now)
                    if found is None:
                        continue  # held: asked again later
                    if found.outcome is not None or found.provider_id:
                        self._done.append(Done(w, found, self.clock(), started_at=now))
                        continue
                    if not await self._may_leave(w):  # the provider took its time: ask again
                        continue
                    now = self.clock()
                result = await self._send(sender, w)
                self.stats.sent += 1
                self._done.append(Done(w, result, self.clock(), started_at=now))
                if len(self._done) >= 200:
                    self._flush_now.set()
            except Exception:  # the worker must outlive one bad item; the item goes back to pending
                log.exception("dispatch worker failed on an item", extra=self._extra(w))
                self._deferred.append((w, self.clock(), "dispatch_error"))
            finally:
                self._inflight -= 1

    async def _may_leave(self, w: Work) -> bool:
        """The send gate's word at this instant; work held back is queued for writing with why."""
        if not self._stopping:
            hold = await self.gate.check(w, self.clock)
            if hold is not None:
                self._hold(w, hold.action, hold.reason, hold.at or self.clock())
                return False
        if self._stopping:  # also when the stop came while the gate was reading
            self._deferred.append((w, self.clock(), "engine_stopping"))
            return False
        return True

    async def _reconcile(self, finder: SentFinder, w: Work, now: datetime) -> SendResult | None:
        """Before sending again what a crash interrupted, ask the provider whether it left then.
        Returns what it says (a result with the provider's id: nothing is sent), an empty result
        (not sent: send now), or None after holding the work (too early to tell, or the provider
        cannot be asked: "cannot tell" is never taken for "not sent")."""
        prev = w.interrupted
        assert prev is not None
        if now < prev.started_at + RECONCILE_AFTER:
            self._hold(w, Action.RELEASE, "reconcile_wait", prev.started_at + RECONCILE_AFTER)
            return None
        body = w.content.text if isinstance(w.content, SmsContent) else None
        try:
            # The provider's send times are whole seconds: widen the start by one.
            status = await finder.find_sent(prev.destination, prev.started_at - timedelta(seconds=1), now, body)
        except ChannelError as exc:
            log.warning("cannot ask the provider what the interrupted attempt %s sent: %s", prev.attempt_id, exc,
                        extra=self._extra(w))
            self._hold(w, Action.RELEASE, "reconcile_unavailable", now + RECONCILE_AFTER)
            return None
        if status is None:
            return SendResult(None, "")
        log.info("interrupted attempt %s was sent (%s): adopted, not sent again", prev.attempt_id, status.status,
                 extra=self._extra(w))
        return SendResult(status.outcome, status.reason if status.outcome else "pending",
                          retry=status.retry, provider_id=status.provider_id,
                          disposition=f"reconciled:{status.status}"[:64],
                          detail={**status.detail, "reconciled_from_attempt": prev.attempt_id})

    def _hold(self, w: Work, action: Action, reason: str, at: datetime) -> None:
        self.stats.held[reason] = self.stats.held.get(reason, 0) + 1
        if action is Action.RELEASE:
            self._deferred.append((w, at, reason))
        elif action is Action.FINISH:
            self._finished.append((w, reason))
        else:
            self._lost.append(w)
        self._once(logging.INFO, w.campaign_id, action.value, reason, 1, "not sent: %s (%s)", extra=self._extra(w))

    def _once(self, level: int, campaign_id: int, reason: str, text: str, n: int, message: str,
              extra: Mapping[str, object] | None = None) -> None:
        """One line per campaign per distinct reason, not per message (issue 9 item 2): the first
        at `level`, the rest at DEBUG; the counts are the campaign report's (campaigns show)."""
        key = (campaign_id, reason, text)
        seen = key in self._logged
        if seen and not log.isEnabledFor(logging.DEBUG):
            return
        self._logged.add(key)
        more = "" if seen else "; further ones are counted in `campaigns report`, not logged"
        log.log(logging.DEBUG if seen else level, f"campaign %s: {message} x%d{more}", campaign_id, text, reason, n,
                extra={"campaign_id": campaign_id, **(extra or {})})

    async def _send(self, sender: ChannelSender | None, w: Work) -> SendResult:
        if sender is None:
            return SendResult(Outcome.NEGATIVE, "failed", detail={"error": "channel not configured"})
        item = Outgoing(w.delivery_id, w.attempt_id, w.channel, w.destination, w.content, w.recipient_name)
        try:
            result = await sender.send(item)
        except Exception as exc:  # a channel bug must not lose the record of the attempt
            log.exception("channel %s raised", w.channel.value, extra=self._extra(w))
            return SendResult(Outcome.NEGATIVE, "failed", retry=True,
                              detail={"error": f"{type(exc).__name__}: {exc}"})
        if log.isEnabledFor(logging.DEBUG):
            log.debug("sent to %s: %s %s", mask_destination(w.destination),
                      result.outcome.value if result.outcome else "pending", result.reason, extra=self._extra(w))
        return result

    @staticmethod
    def _extra(w: Work) -> dict[str, object]:
        return {"delivery_id": w.delivery_id, "attempt_id": w.attempt_id, "channel": w.channel.value}

    # --- record -------------------------------------------------------------------------------

    async def _recorder(self) -> None:
        while not (self._stopping and not self._inflight):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), timeout=0.05)
            self._flush_now.clear()
            await self._flush()

    async def _flush(self) -> None:
        done, self._done = self._done, []
        deferred, self._deferred = self._deferred, []
        finished, self._finished = self._finished, []
        lost, self._lost = self._lost, []
        if not done and not deferred and not finished and not lost:
            return
        timeout = self._status_timeouts()

        def write(s: Session) -> dict[str, int]:
            now = self.clock()
            deliveries.release(s, deferred, now, worker=self.worker, finished=finished)
            deliveries.close_lost(s, lost, now)
            return deliveries.record(s, done, policies=self.policies, status_timeout_s=timeout,
                                     worker=self.worker)
        try:
            counts = await self.in_db(write)
        finally:
            for w in (*(d.work for d in done), *(w for w, *_ in deferred), *(w for w, _ in finished), *lost):
                self.gate.untrack(w)
        self.stats.released += len(deferred)
        for k, v in counts.items():
            self.stats.verdicts[k] = self.stats.verdicts.get(k, 0) + v
        if counts.get("retry") or counts.get("fallback") or deferred:
            self.wake()

    # --- provider status ----------------------------------------------------------------------

    def _status_timeouts(self) -> dict[Channel, float]:
        """How long each channel's handed-over messages wait for a final status before a poll: the
        channel's own `status_timeout_s` (e-mail: the bounce quiet period), else Twilio's setting."""
        default = self.rt.settings.twilio.status_timeout_s
        return {ch: float(getattr(self.senders.get(ch), "status_timeout_s", default)) for ch in self.limits}

    async def _poll_all(self, overdue: list[tuple[int, Channel, str]], now: datetime) -> None:
        """Ask providers side by side, all within one budget: a provider that hangs costs this run
        its budget, not a request timeout per message (issue 8 item 2)."""
        cfg = self.rt.settings.dispatch
        slots = asyncio.Semaphore(cfg.status_poll_concurrency)

        async def one(delivery_id: int, channel: Channel, provider_id: str) -> None:
            async with slots:
                await self._poll(delivery_id, channel, provider_id, now)
        tasks = [asyncio.create_task(one(*item)) for item in overdue]
        _done, pending = await asyncio.wait(tasks, timeout=cfg.status_poll_budget_s)
        for t in pending:
            t.cancel()
        if pending:
            self.stats.polls_unanswered += len(pending)
            log.warning("%d status polls unanswered within %.0f s; asked again later", len(pending),
                        cfg.status_poll_budget_s)
        for t in _done:
            if not t.cancelled() and t.exception() is not None:
                log.error("status poll failed", exc_info=t.exception())

    async def _poll(self, delivery_id: int, channel: Channel, provider_id: str, now: datetime) -> None:
        sender = self.senders.get(channel)
        status = await sender.poll(provider_id) if sender else None
        if status is not None and status.outcome is not None:
            await self.on_status(status)
            return

        def later(s: Session) -> None:
            d = s.get(Delivery, delivery_id)
            c = s.get(Campaign, d.campaign_id) if d else None
            timeout = timedelta(seconds=self._status_timeouts()[channel])
            if c is None or now > c.end_at + timeout:
                deliveries.expire_awaiting(s, delivery_id, now)
            else:
                deliveries.extend_await(s, delivery_id, now + timeout)
        await self.in_db(later)

    # --- plumbing -----------------------------------------------------------------------------

    async def in_db(self, fn: Callable[[Session], T]) -> T:
        """Run fn in a transaction on the dispatcher's one database thread.

        One thread, so claims, results and housekeeping queue in order here instead of meeting
        at SQLite's write lock, whose busy handler sleeps in steps of up to 100 ms."""
        def run() -> T:
            with transaction(self.rt.sessions) as s:
                return fn(s)
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, run)
