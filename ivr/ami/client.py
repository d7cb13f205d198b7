"""An asyncio AMI client: one connection to one Asterisk, kept up by itself.

A thin driver over the sans-IO `ivr.ami.protocol`: an `asyncio.Protocol` feeds the parser, replies
resolve futures by ActionID (`ReplyTracker`), events go to subscribers' own queues so a slow
subscriber never holds up the reader. A background task connects, logs in, pings while up, and
reconnects with exponential backoff and jitter when the link drops; `state` (connecting, up, down)
is readable and listeners are told of each change. Whatever was waiting on a link that dropped
fails with AmiDisconnected: a reply that was lost is never guessed at, the caller reconciles
(CoreShowChannels / Status) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import itertools
import logging
import random
import re
import secrets
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, cast

from autoinform.config import AmiSettings
from ivr.ami.protocol import (
    Action,
    ActionFields,
    ActionResult,
    AmiParser,
    Banner,
    Event,
    ReplyTracker,
    Response,
    encode_action,
)
from ivr.errors import (
    AmiActionError,
    AmiAuthenticationFailed,
    AmiDisconnected,
    AmiError,
    AmiProtocolError,
    AmiSubscriptionOverflow,
    AmiTimeout,
    InvalidArgument,
)

logger = logging.getLogger(__name__)


class AmiState(StrEnum):
    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"


StateListener = Callable[["AmiState"], None]
EventCallback = Callable[[Event], Awaitable[None] | None]


# --- Originate ----------------------------------------------------------------------------------

class OriginateReason(IntEnum):
    """`Reason` of an OriginateResponse: the last control frame Asterisk saw on the new channel."""

    FAILED = 0  # no such extension / context, no channel driver, rejected (cause 21)
    HANGUP = 1  # the far end hung up before answering
    RING_TIMEOUT = 3  # rang until Originate's Timeout: no answer (Hangup cause 19)
    ANSWERED = 4
    BUSY = 5  # Hangup cause 17
    CONGESTION = 8  # Hangup cause 34


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """The OriginateResponse of one async Originate."""

    event: Event

    @property
    def answered(self) -> bool:
        return self.event.get("Response") == "Success"

    @property
    def reason(self) -> int:
        value = self.event.get("Reason")
        return int(value) if value.isdigit() else -1

    @property
    def reason_name(self) -> str:
        try:
            return OriginateReason(self.reason).name.lower()
        except ValueError:
            return f"reason {self.reason}"

    @property
    def channel(self) -> str:
        return self.event.get("Channel")

    @property
    def uniqueid(self) -> str | None:
        """None when no channel came up (`Uniqueid: <unknown>` on failures)."""
        value = self.event.get("Uniqueid")
        return None if value in ("", "<unknown>") else value


class OriginateCall:
    """An Originate that Asterisk queued: await `result()` for its OriginateResponse."""

    def __init__(self, action_id: str, channel_id: str | None, future: asyncio.Future[Event]) -> None:
        self.action_id = action_id
        self.channel_id = channel_id
        self._future = future

    def __repr__(self) -> str:
        return f"OriginateCall(action_id={self.action_id!r}, channel_id={self.channel_id!r})"

    @property
    def done(self) -> bool:
        return self._future.done()

    async def result(self, timeout_s: float | None = None) -> OriginateResult:
        """The OriginateResponse. AmiTimeout if none came in time (Asterisk restarted, or a
        Timeout longer than `timeout_s`); AmiDisconnected if the link dropped first: either way the
        call's fate must be reconciled from Asterisk, not assumed."""
        try:
            async with asyncio.timeout(timeout_s):
                event = await asyncio.shield(self._future)
        except TimeoutError:
            raise AmiTimeout(f"OriginateResponse {self.action_id}", timeout_s or 0.0) from None
        return OriginateResult(event)


_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_()]*\Z")


def _variables(variables: Mapping[str, str | int]) -> list[str]:
    out = []
    for name, value in variables.items():
        text = str(value)
        if not _VAR_NAME.match(name):
            raise InvalidArgument(name, "a channel variable name is letters, digits and '_'")
        if "," in text:  # Asterisk splits a Variable header on commas
            raise InvalidArgument(text, "a channel variable value set by Originate cannot hold ','")
        out.append(f"{name}={text}")
    return out


# --- subscriptions ------------------------------------------------------------------------------

class _Gap:
    __slots__ = ("dropped",)

    def __init__(self) -> None:
        self.dropped = 1


class Subscription:
    """Events by name (all events if no names), queued for one consumer.

    Iterate it (`async for event in sub`) or give `subscribe` a callback. If the consumer falls
    `limit` events behind, newer events are dropped and the consumer gets AmiSubscriptionOverflow
    where the gap is, then the events after it: it is never left believing it saw everything.
    """

    def __init__(self, client: AmiClient, names: frozenset[str] | None, limit: int) -> None:
        self._client = client
        self.names = names
        self._limit = limit
        self._queue: deque[Event | _Gap] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.task: asyncio.Task[None] | None = None

    def offer(self, event: Event) -> None:
        if self._closed:
            return
        queue = self._queue
        if len(queue) >= self._limit:
            last = queue[-1] if queue else None
            if isinstance(last, _Gap):
                last.dropped += 1
            else:
                queue.append(_Gap())
            return
        queue.append(event)
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._client._unsubscribe(self)
        self._wake()
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        item = self._queue.popleft()
        if isinstance(item, _Gap):
            raise AmiSubscriptionOverflow(item.dropped)
        return item

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class _Watch:
    __slots__ = ("chan_vars", "fields", "future")

    def __init__(self, fields: Mapping[str, str], chan_vars: Mapping[str, str],
                 future: asyncio.Future[Event]) -> None:
        self.fields = fields
        self.chan_vars = chan_vars
        self.future = future

    def matches(self, event: Event) -> bool:
        if any(event.get(k) != v for k, v in self.fields.items()):
            return False
        if self.chan_vars:
            have = event.chan_variables
            return all(have.get(k) == v for k, v in self.chan_vars.items())
        return True


# --- one TCP connection ---------------------------------------------------------------------------

class _Link(asyncio.Protocol):
    """One connection: parser, replies awaited by ActionID, and its end as a future."""

    def __init__(self, client: AmiClient) -> None:
        self.client = client
        loop = asyncio.get_running_loop()
        self.parser = AmiParser()
        self.tracker = ReplyTracker()
        self.waiters: dict[str, asyncio.Future[ActionResult]] = {}
        self.banner: asyncio.Future[Banner] = loop.create_future()
        self.closed: asyncio.Future[str] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.why: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.parser.feed(data)
        except AmiProtocolError as exc:
            logger.warning("AMI protocol error: %s", exc, extra=self.client.log_extra)
            self.abort(f"protocol error: {exc.reason}")
            return
        for message in messages:
            if isinstance(message, Banner):
                if not self.banner.done():
                    self.banner.set_result(message)
                continue
            finished, event = self.tracker.feed(message)
            for action_id, result in finished:
                waiter = self.waiters.pop(action_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(result)
            if event is not None:
                self.client._dispatch(event)
            elif isinstance(message, Response) and logger.isEnabledFor(logging.DEBUG):
                logger.debug("AMI < %s", message.masked(), extra=self.client.log_extra)

    def eof_received(self) -> bool:
        with contextlib.suppress(AmiProtocolError):
            self.parser.feed_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        why = self.why or ("connection lost" if exc is None else f"connection lost: {exc}")
        self.why = why
        for action_id, name in self.tracker.clear():
            waiter = self.waiters.pop(action_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_exception(AmiDisconnected(name, why))
        if not self.banner.done():
            self.banner.set_exception(AmiDisconnected("banner", why))
        if not self.closed.done():
            self.closed.set_result(why)
        self.client._link_lost(self, why)

    def abort(self, why: str) -> None:
        if self.why is None:
            self.why = why
        if self.transport is not None:
            self.transport.abort()

    async def request(self, action: Action, timeout_s: float) -> ActionResult:
        if self.closed.done() or self.transport is None or self.transport.is_closing():
            raise AmiDisconnected(action.name, self.why or "not connected")
        waiter: asyncio.Future[ActionResult] = asyncio.get_running_loop().create_future()
        self.tracker.expect(action.action_id, action.name)
        self.waiters[action.action_id] = waiter
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("AMI > %s", action.masked(), extra=self.client.log_extra)
        self.transport.write(action.wire)
        try:
            async with asyncio.timeout(timeout_s):
                return await waiter
        except TimeoutError:
            raise AmiTimeout(action.name, timeout_s) from None
        finally:
            self.tracker.forget(action.action_id)
            self.waiters.pop(action.action_id, None)


# --- the client -----------------------------------------------------------------------------------

class AmiClient:
    """One Asterisk's manager interface: `async with AmiClient(settings) as ami: ...`.

    `start()` runs the connect/reconnect loop in the background; `wait_up()` waits for the link.
    Actions sent while the link is not up fail at once with AmiDisconnected (nothing is queued:
    a dialler must not place a call later than it decided to).
    """

    def __init__(self, settings: AmiSettings, *, name: str = "ami", rng: random.Random | None = None) -> None:
        self.settings = settings
        self.name = name
        self.log_extra = {"peer": f"{name}@{settings.host}:{settings.port}"}
        self.state = AmiState.DOWN
        self.last_error: BaseException | None = None
        self.connects = 0
        """Successful logins so far (a reconnect makes it 2, 3, ...)."""
        self._rng = rng or random.Random()
        self._ids = itertools.count(1)
        self._prefix = f"{name}-{secrets.token_hex(3)}"
        self._link: _Link | None = None
        self._listeners: list[StateListener] = []
        self._state_changed: asyncio.Event | None = None
        self._subs: set[Subscription] = set()
        self._by_name: dict[str, set[Subscription]] = {}
        self._all: set[Subscription] = set()
        self._watches: dict[str, list[_Watch]] = {}
        self._originates: dict[str, asyncio.Future[Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._wakeup: asyncio.Event | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._state_changed = asyncio.Event()
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"ami:{self.name}")

    async def wait_up(self, timeout_s: float | None = None) -> None:
        """Until the link is up. A refused login raises AmiAuthenticationFailed at once; otherwise
        AmiTimeout after `timeout_s` (settings.connect_timeout_s by default)."""
        self.start()
        timeout = self.settings.connect_timeout_s if timeout_s is None else timeout_s
        try:
            async with asyncio.timeout(timeout):
                while self.state is not AmiState.UP:
                    if isinstance(self.last_error, AmiAuthenticationFailed):
                        raise self.last_error
                    await self._changed()
        except TimeoutError:
            raise AmiTimeout("connect", timeout) from None

    async def wait_state(self, state: AmiState, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                while self.state is not state:
                    await self._changed()
        except TimeoutError:
            raise AmiTimeout(f"state {state}", timeout_s) from None

    async def _changed(self) -> None:
        assert self._state_changed is not None
        self._state_changed.clear()
        await self._state_changed.wait()

    async def close(self) -> None:
        """Log off (politely, if up), stop reconnecting, end every subscription."""
        self._closing = True
        link = self._link
        if link is not None and self.state is AmiState.UP:
            with contextlib.suppress(AmiError):
                await link.request(self._action("Logoff"), 1.0)
        if link is not None:
            link.abort("closed")
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._set_state(AmiState.DOWN)
        for sub in list(self._subs):
            sub.close()
        self._fail_waiters("closed")

    async def __aenter__(self) -> AmiClient:
        try:
            await self.wait_up()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def add_listener(self, listener: StateListener) -> Callable[[], None]:
        """`listener(state)` on every change of state; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _set_state(self, state: AmiState) -> None:
        if state is self.state:
            return
        self.state = state
        logger.info("AMI %s", state, extra=self.log_extra)
        if self._state_changed is not None:
            self._state_changed.set()
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # a listener's bug must not stop the connection loop
                logger.exception("AMI state listener failed", extra=self.log_extra)

    def backoff(self, failures: int) -> float:
        """Seconds before reconnect attempt `failures + 1`: exponential, capped, with jitter."""
        s = self.settings
        return min(s.reconnect_max_s, s.reconnect_base_s * 2 ** min(failures, 30)) * self._rng.uniform(0.5, 1.0)

    async def _run(self) -> None:
        failures = 0
        while not self._closing:
            self._set_state(AmiState.CONNECTING)
            link: _Link | None = None
            try:
                link = await self._open()
            except (OSError, AmiError) as exc:
                self.last_error = exc
                level = logging.ERROR if isinstance(exc, AmiAuthenticationFailed) else logging.WARNING
                logger.log(level, "AMI connect failed: %s", exc, extra=self.log_extra)
                if link is not None:
                    link.abort("connect failed")
            else:
                failures = 0
                self.last_error = None
                self.connects += 1
                self._link = link
                self._set_state(AmiState.UP)
                pinger = asyncio.get_running_loop().create_task(self._keepalive(link))
                try:
                    why = await link.closed
                finally:
                    pinger.cancel()
                logger.warning("AMI link down: %s", why, extra=self.log_extra)
            self._set_state(AmiState.DOWN)
            if self._closing:
                break
            delay = self.backoff(failures)
            failures += 1
            assert self._wakeup is not None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wakeup.wait()

    async def _open(self) -> _Link:
        s = self.settings
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(s.connect_timeout_s):
            _, link = await loop.create_connection(lambda: _Link(self), s.host, s.port)
            try:
                await link.banner
                await self._login(link)
            except BaseException:
                link.abort("login failed")
                raise
        return link

    async def _login(self, link: _Link) -> None:
        s = self.settings
        secret = s.secret.get_secret_value()
        fields: dict[str, str] = {"Username": s.username}
        if s.auth == "md5":
            challenge = await link.request(self._action("Challenge", {"AuthType": "MD5"}), s.action_timeout_s)
            if not challenge.ok:
                raise AmiAuthenticationFailed(s.username, challenge.response.message)
            # AMI's own scheme; md5 is what Asterisk computes, not our choice.
            digest = hashlib.md5((challenge.response.get("Challenge") + secret).encode(), usedforsecurity=False)
            key = digest.hexdigest()
            fields |= {"AuthType": "MD5", "Key": key}
        else:
            fields["Secret"] = secret
        fields["Events"] = "on"
        reply = await link.request(self._action("Login", fields), s.action_timeout_s)
        if not reply.ok:
            raise AmiAuthenticationFailed(s.username, reply.response.message)

    async def _keepalive(self, link: _Link) -> None:
        s = self.settings
        while True:
            await asyncio.sleep(s.ping_interval_s)
            try:
                await link.request(self._action("Ping"), s.ping_timeout_s)
            except AmiTimeout:
                logger.warning("AMI ping unanswered in %gs", s.ping_timeout_s, extra=self.log_extra)
                link.abort("ping timeout")
                return
            except AmiDisconnected:
                return

    def _link_lost(self, link: _Link, why: str) -> None:
        """At once, not when the loop task next runs: nobody may see `up` on a dead link."""
        if self._link is link:
            self._link = None
            self._fail_waiters(why)
            self._set_state(AmiState.DOWN)

    def _fail_waiters(self, why: str) -> None:
        originates, self._originates = self._originates, {}
        for action_id, future in originates.items():
            if not future.done():
                future.set_exception(AmiDisconnected(f"OriginateResponse {action_id}", why))
                future.exception()  # retrieved: nobody may be awaiting it yet
        watches, self._watches = self._watches, {}
        for name, items in watches.items():
            for watch in items:
                if not watch.future.done():
                    watch.future.set_exception(AmiDisconnected(name, why))
                    watch.future.exception()

    # --- actions --------------------------------------------------------------------------------

    def new_action_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    def _action(self, name: str, fields: ActionFields | None = None, action_id: str | None = None) -> Action:
        return encode_action(name, action_id or self.new_action_id(), fields)

    async def send(self, name: str, fields: ActionFields | None = None, *, timeout_s: float | None = None,
                   action_id: str | None = None) -> ActionResult:
        """Any action; its reply (all of it, for an EventList) whatever its status."""
        action = self._action(name, fields, action_id)
        link = self._link
        if link is None or self.state is not AmiState.UP:
            raise AmiDisconnected(name, f"not connected ({self.state})")
        return await link.request(action, self.settings.action_timeout_s if timeout_s is None else timeout_s)

    async def action(self, name: str, fields: ActionFields | None = None, *, timeout_s: float | None = None,
                     action_id: str | None = None) -> ActionResult:
        """An action that must succeed: `Response: Error` raises AmiActionError with the reply."""
        result = await self.send(name, fields, timeout_s=timeout_s, action_id=action_id)
        if not result.ok:
            raise AmiActionError(name, result.response.message, result.response)
        return result

    async def ping(self, timeout_s: float | None = None) -> Response:
        return (await self.action("Ping", timeout_s=timeout_s)).response

    async def core_show_channels(self, timeout_s: float | None = None) -> tuple[Event, ...]:
        """Every live channel, once (one CoreShowChannel event each, with `ChanVariable`s). A busy
        Asterisk can list a channel twice in one reply (seen on 22 under load): the first is kept."""
        seen: set[str] = set()
        unique: list[Event] = []
        for event in (await self.action("CoreShowChannels", timeout_s=timeout_s)).events:
            uid = event.get("Uniqueid")
            if uid and uid in seen:
                continue
            if uid:
                seen.add(uid)
            unique.append(event)
        return tuple(unique)

    async def status(self, channel: str | None = None, *, variables: tuple[str, ...] = (),
                     timeout_s: float | None = None) -> tuple[Event, ...]:
        """`Status` of one channel or all; `variables` adds those channel variables to each."""
        fields: dict[str, str] = {}
        if channel:
            fields["Channel"] = channel
        if variables:
            fields["Variables"] = ",".join(variables)
        try:
            return (await self.action("Status", fields, timeout_s=timeout_s)).events
        except AmiActionError as exc:
            if channel and "no such channel" in exc.message.lower():
                return ()
            raise

    async def originate(self, channel: str, *, context: str | None = None, exten: str | None = None,
                        priority: int | str = 1, application: str | None = None, data: str | None = None,
                        timeout_ms: int | None = 30000, caller_id: str | None = None,
                        variables: Mapping[str, str | int] | None = None, channel_id: str | None = None,
                        other_channel_id: str | None = None, account: str | None = None,
                        action_id: str | None = None, timeout_s: float | None = None) -> OriginateCall:
        """An async Originate: returns once Asterisk queued it; await `.result()` for the outcome.

        `channel_id` becomes the new channel's Uniqueid (the dialler's handle for Hangup events
        and for CoreShowChannels after a restart of the engine); `variables` are set on it.
        Raises AmiActionError if Asterisk refuses it outright (`Invalid channel`, permissions).
        """
        fields: dict[str, Any] = {"Channel": channel}
        if application is not None:
            fields["Application"] = application
            if data is not None:
                fields["Data"] = data
        else:
            if context is None or exten is None:
                raise InvalidArgument(channel, "Originate needs context and exten, or an application")
            fields |= {"Context": context, "Exten": exten, "Priority": str(priority)}
        # The field order of the recorded probes (transcripts), so the bytes compare exactly.
        fields["Async"] = "true"
        if timeout_ms is not None:
            fields["Timeout"] = str(timeout_ms)
        if caller_id is not None:
            fields["CallerID"] = caller_id
        if variables:
            fields["Variable"] = _variables(variables)
        optional = {"ChannelId": channel_id, "OtherChannelId": other_channel_id, "Account": account}
        fields |= {k: v for k, v in optional.items() if v is not None}
        action = self._action("Originate", fields, action_id)
        # The OriginateResponse can beat the "queued" reply (a fast failure): wait for it first.
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        link = self._link
        if link is None or self.state is not AmiState.UP:
            raise AmiDisconnected("Originate", f"not connected ({self.state})")
        if action.action_id in self._originates:
            raise InvalidArgument(action.action_id, "ActionID already in use by an Originate")
        self._originates[action.action_id] = future
        try:
            result = await link.request(action, self.settings.action_timeout_s if timeout_s is None else timeout_s)
        except BaseException:
            # Whether Asterisk queued it is unknown: the caller reconciles by its channel_id.
            self._originates.pop(action.action_id, None)
            raise
        if not result.ok:
            self._originates.pop(action.action_id, None)
            raise AmiActionError("Originate", result.response.message, result.response)
        return OriginateCall(action.action_id, channel_id, future)

    # --- events ---------------------------------------------------------------------------------

    def subscribe(self, *names: str, callback: EventCallback | None = None,
                  limit: int | None = None) -> Subscription:
        """Events named `names` (every event if none). With `callback`, a task of its own calls it
        for each event in order (awaiting it if it is a coroutine function); otherwise iterate the
        returned Subscription. `close()` it when done."""
        sub = Subscription(self, frozenset(n.lower() for n in names) or None,
                           self.settings.subscriber_queue if limit is None else limit)
        self._subs.add(sub)
        if sub.names is None:
            self._all.add(sub)
        else:
            for n in sub.names:
                self._by_name.setdefault(n, set()).add(sub)
        if callback is not None:
            sub.task = asyncio.get_running_loop().create_task(self._deliver(sub, callback))
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)
        self._all.discard(sub)
        for n in sub.names or ():
            subs = self._by_name.get(n)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_name[n]

    async def _deliver(self, sub: Subscription, callback: EventCallback) -> None:
        is_async = inspect.iscoroutinefunction(callback)
        while True:
            try:
                event = await anext(sub)
            except StopAsyncIteration:
                return
            except AmiSubscriptionOverflow as exc:
                logger.error("AMI subscriber %r lost %d events", callback, exc.dropped, extra=self.log_extra)
                continue
            try:
                result = callback(event)
                if is_async or inspect.isawaitable(result):
                    await cast(Awaitable[None], result)
            except Exception:  # one bad event must not end the subscription
                logger.exception("AMI subscriber %r failed on %s", callback, event.name, extra=self.log_extra)

    def expect(self, name: str, fields: Mapping[str, str] | None = None, *,
               chan_vars: Mapping[str, str] | None = None) -> asyncio.Future[Event]:
        """A future for the next event `name` whose fields (and `ChanVariable`s) match, registered
        now, so an event that arrives before the caller awaits it is not missed. Fails with
        AmiDisconnected if the link drops first (the event may have been lost)."""
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._watches.setdefault(name.lower(), []).append(_Watch(dict(fields or {}), dict(chan_vars or {}), future))
        return future

    def _dispatch(self, event: Event) -> None:
        key = event.name.lower()
        if key == "originateresponse":
            future = self._originates.pop(event.action_id, None)
            if future is not None and not future.done():
                future.set_result(event)
        watches = self._watches.get(key)
        if watches:
            keep = []
            for watch in watches:
                if watch.future.done():
                    continue
                if watch.matches(event):
                    watch.future.set_result(event)
                else:
                    keep.append(watch)
            if keep:
                self._watches[key] = keep
            else:
                del self._watches[key]
        for sub in self._by_name.get(key, ()):
            sub.offer(event)
        for sub in self._all:
            sub.offer(event)
