"""DeskControl's event handling and actions against a recording AMI double (the real Asterisk run is
tests/asterisk/test_desk.py): connects and hang-ups stored, other queues ignored, a missed Hangup
reconciled when the link comes back, QueuePause's fields, callbacks refused before anything is dialled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from sqlalchemy import select

from autoinform import db
from autoinform.desk import store
from autoinform.desk.control import DeskControl
from autoinform.hotline import tasks
from autoinform.models import DeskCall, DeskCallback
from autoinform.runtime import Runtime
from ivr.ami.client import AmiClient
from ivr.ami.protocol import Event
from tests.desk.conftest import NOW, OP1, agent_connect, seed


@dataclass
class FakeAmi:
    channels: list[str] = field(default_factory=list)
    actions: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    listeners: list[Callable[[object], None]] = field(default_factory=list)
    originated: list[str] = field(default_factory=list)

    def subscribe(self, *names: str, callback: Any = None) -> Any:
        return object()

    def add_listener(self, listener: Callable[[object], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: None

    async def core_show_channels(self) -> tuple[Event, ...]:
        return tuple(Event((("Event", "CoreShowChannel"), ("Uniqueid", u))) for u in self.channels)

    async def action(self, name: str, fields: dict[str, str]) -> None:
        self.actions.append((name, fields))

    async def originate(self, channel: str, **kw: Any) -> Any:
        self.originated.append(channel)
        raise AssertionError("nothing may be dialled in these tests")


def control(rt: Runtime, ami: FakeAmi) -> DeskControl:
    return DeskControl(rt, cast(AmiClient, ami), "operators", clock=lambda: NOW)


async def test_connects_and_hangups_are_stored_and_a_missed_hangup_is_reconciled(rt: Runtime) -> None:
    seed(rt)
    ami = FakeAmi()
    desk = control(rt, ami)
    await desk.start()
    await desk.on_event(agent_connect("a", OP1))
    await desk.on_event(agent_connect("b", OP1))
    await desk.on_event(agent_connect("elsewhere", OP1, queue="sales"))  # not the desk's queue
    await desk.on_event(agent_connect("c", "PJSIP/999"))  # nobody's phone: stored, counted
    await desk.on_event(Event((("Event", "Hangup"), ("Uniqueid", "a"))))
    await desk.on_event(Event((("Event", "Hangup"), ("Uniqueid", "unrelated"))))
    assert desk.stats() == {"connects": 3, "open_calls": 2, "unknown_interfaces": 1}
    ami.channels = ["c"]  # "b" hung up while the link was down
    assert await desk.reconcile() == 1
    with rt.sessions() as s:
        rows = {r.call_id: r for r in s.scalars(select(DeskCall))}
    assert set(rows) == {"a", "b", "c"} and rows["c"].operator_id is None
    assert rows["a"].ended_at == NOW and rows["b"].ended_at == NOW and rows["c"].ended_at is None
    again = control(rt, FakeAmi())
    await again.start()  # a restarted engine waits for the Hangup of what is still open
    assert again.stats()["open_calls"] == 1


async def test_pause_sends_queue_pause_with_the_reason(rt: Runtime) -> None:
    ami = FakeAmi()
    desk = control(rt, ami)
    await desk.pause(OP1, True, "обед")
    await desk.pause(OP1, False)
    assert ami.actions == [("QueuePause", {"Interface": OP1, "Paused": "true", "Queue": "operators",
                                           "Reason": "обед"}),
                           ("QueuePause", {"Interface": OP1, "Paused": "false", "Queue": "operators"})]


async def test_a_callback_is_refused_without_a_phone_or_for_a_done_task(rt: Runtime) -> None:
    ids = seed(rt)
    ami = FakeAmi()
    desk = control(rt, ami)
    with pytest.raises(store.DeskError, match="no phone"):
        await desk.call_back(ids["task"], ids["boss"], "boss")
    with db.transaction(rt.sessions) as s:
        tasks.done(s, ids["task"], "op2", tasks.TaskOutcome.REACHED, NOW)
    with pytest.raises(tasks.TaskError, match="already done"):
        await desk.call_back(ids["task"], ids["op1"], "op1")
    with rt.sessions() as s:
        assert s.scalars(select(DeskCallback)).all() == []
    assert ami.originated == []
