"""The desk's AMI side, run by the engine next to the hotline's queue watch (issue 13):

- listens for AgentConnect (a caller connected to an operator's interface) and the caller's Hangup,
  and writes them (store.py), which the operator's open desk page picks up through the live hub;
- pauses and unpauses an operator's queue member with a reason (QueuePause);
- places a callback from the desk: the operator's phone first, then, once they answer, the
  customer (Originate of the operator's interface into desk.callback_context, which dials
  AUTOINFORM_DESK_DIAL: a Local channel bridge in Asterisk's terms);
- reads the queue's own QueueStatus for the supervisor's view.

The AMI user needs `read = agent` (AgentConnect) and `write = agent` (QueuePause) besides the
dialler's rights; QueueStatus needs none (docs/asterisk/manager.conf).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from autoinform import db
from autoinform.config import DeskSettings
from autoinform.desk import store
from autoinform.desk.events import QueueSnapshot, connect_from, queue_snapshot
from autoinform.hotline import tasks
from autoinform.hotline.states import TaskState
from autoinform.logs import mask_phone
from autoinform.models import DeskCallback
from autoinform.runtime import Runtime
from autoinform.users import audit
from ivr.ami.client import AmiClient, Subscription
from ivr.ami.protocol import Event
from ivr.errors import AmiError

log = logging.getLogger(__name__)
T = TypeVar("T")


class DeskControl:
    def __init__(self, rt: Runtime, ami: AmiClient, queue: str, *, settings: DeskSettings | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.rt = rt
        self.ami = ami
        self.queue = queue
        self.settings = settings or rt.settings.desk
        self._clock = clock or (lambda: datetime.now(UTC))
        self._open: set[str] = set()  # callers connected to an operator: their Hangup ends the call
        self._callbacks: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[int]] = set()
        self.connects = 0
        self.unknown_interfaces = 0  # connects to an interface no operator has as their phone

    def now(self) -> datetime:
        return self._clock()

    async def _db(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with db.transaction(self.rt.sessions) as s:
                return work(s)
        return await asyncio.to_thread(run)

    async def start(self) -> Subscription:
        """Subscribe (before anything can be missed), then read which calls are still open; each
        time the link comes up, calls whose Hangup was missed meanwhile are ended (reconcile)."""
        sub = self.ami.subscribe("AgentConnect", "Hangup", callback=self.on_event)
        self._open |= await self._db(store.open_call_ids)

        def changed(state: object) -> None:
            if str(state) == "up" and self._open:
                task = asyncio.get_running_loop().create_task(self.reconcile(), name="desk-reconcile")
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        self.ami.add_listener(changed)
        return sub

    async def reconcile(self) -> int:
        """End the open calls Asterisk no longer has (their Hangup came while the link was down)."""
        try:
            live = {e.get("Uniqueid") for e in await self.ami.core_show_channels()}
        except AmiError as exc:
            log.warning("desk: cannot reconcile open calls now: %s", exc)
            return 0
        gone = [c for c in self._open if c not in live]
        at = self.now()

        def end(s: Session) -> None:
            for call_id in gone:
                store.record_end(s, call_id, at)
        self._open.difference_update(gone)
        await self._db(end)
        if gone:
            log.info("desk: %d calls ended while the AMI link was down", len(gone))
        return len(gone)

    async def on_event(self, event: Event) -> None:
        connect = connect_from(event)
        if connect is not None:
            if connect.queue != self.queue:
                return
            at = self.now()
            row = await self._db(lambda s: (r := store.record_connect(s, connect, at)).operator_id)
            self._open.add(connect.call_id)
            self.connects += 1
            if row is None:
                self.unknown_interfaces += 1
                log.warning("desk: %s connected to %s, which is no operator's phone (autoinform users phone)",
                            mask_phone(connect.caller), connect.interface, extra={"call_id": connect.call_id})
            return
        if event.name.lower() == "hangup":
            uid = event.get("Uniqueid")
            if uid in self._open:
                self._open.discard(uid)
                at = self.now()
                await self._db(lambda s: store.record_end(s, uid, at))

    # --- actions --------------------------------------------------------------------------------------

    async def pause(self, interface: str, paused: bool, reason: str = "") -> None:
        """QueuePause for the operator's member of the desk's queue (raises AmiError if refused)."""
        fields = {"Interface": interface, "Paused": "true" if paused else "false", "Queue": self.queue}
        if reason:
            fields["Reason"] = reason[:80]
        await self.ami.action("QueuePause", fields)

    async def queue_status(self) -> QueueSnapshot:
        result = await self.ami.action("QueueStatus", {"Queue": self.queue})
        return queue_snapshot(self.queue, result.events)

    async def call_back(self, task_id: int, user_id: int, login: str) -> DeskCallback:
        """Ring the operator's phone; once answered, the dialplan dials the customer (the task's
        caller). The task is taken by the operator and the callback recorded on it."""
        now = self.now()
        channel_id = f"desk-cb-{uuid.uuid4().hex[:16]}"

        def prepare(s: Session) -> tuple[str, str, int]:
            interface = store.phone_of(s, user_id)
            if interface is None:
                raise store.DeskError(f"{login} has no phone: autoinform users phone {login} INTERFACE")
            task = tasks.get(s, task_id)
            if task.state == TaskState.DONE.value:
                raise tasks.TaskError(f"task {task_id} is already done ({task.outcome})")
            if not task.caller:
                raise store.DeskError(f"task {task_id} has no number to call back")
            tasks.take(s, task_id, login, now)
            row = store.record_callback(s, task, user_id, interface, task.caller, channel_id, now)
            audit(s, login, "desk.callback", "hotline_task", task_id, channel_id=channel_id)
            return interface, task.caller, row.id

        interface, number, row_id = await self._db(prepare)
        dial = self.settings.callback_dial.format(number=number)
        try:
            call = await self.ami.originate(
                interface, context=self.settings.callback_context, exten="s", channel_id=channel_id,
                timeout_ms=int(self.settings.operator_ring_s * 1000), caller_id=f'"{task_id}" <{number}>',
                variables={"AUTOINFORM_DESK_DIAL": dial, "AUTOINFORM_TASK_ID": task_id})
        except AmiError as exc:
            await self._db(lambda s: store.callback_result(s, channel_id, "refused", self.now()))
            raise store.DeskError(f"Asterisk refused the callback: {exc}") from exc

        async def outcome() -> None:
            try:
                result = await call.result(timeout_s=self.settings.operator_ring_s + 15)
                what = "answered" if result.answered else result.reason_name
            except AmiError as exc:
                what = f"unknown: {type(exc).__name__}"
            await self._db(lambda s: store.callback_result(s, channel_id, what, self.now()))
            self._callbacks.pop(channel_id, None)

        self._callbacks[channel_id] = asyncio.create_task(outcome(), name=f"desk-callback-{row_id}")
        log.info("desk: callback on task %d by %s to %s via %s", task_id, login, mask_phone(number), interface)

        def read(s: Session) -> DeskCallback:
            row = s.get(DeskCallback, row_id)
            assert row is not None
            s.expunge(row)
            return row
        return await self._db(read)

    async def settle(self) -> None:
        """Wait for the callbacks placed to be answered or refused (at shutdown, in tests)."""
        if self._callbacks:
            await asyncio.gather(*self._callbacks.values(), return_exceptions=True)

    def stats(self) -> dict[str, Any]:
        return {"connects": self.connects, "open_calls": len(self._open),
                "unknown_interfaces": self.unknown_interfaces}
