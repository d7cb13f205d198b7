"""QueueWatch: the queue's AMI events become QueueEvents for the backend; waits over the limit are
counted (HL-4, HL-5). The same events from a real Asterisk: tests/asterisk/test_hotline_calls.py."""

from __future__ import annotations

from ivr.ami.protocol import Event
from ivr.hotline.queue_watch import QueueWatch, queue_event
from tests.hotline.memory_backend import MemoryBackend


def ev(name: str, **fields: str) -> Event:
    return Event((("Event", name), *fields.items()))


async def test_join_connect_abandon_and_breaches(backend: MemoryBackend) -> None:
    watch = QueueWatch(backend, 40)
    for event in (
        ev("QueueCallerJoin", Uniqueid="1.1", Queue="operators", Position="1"),
        ev("AgentConnect", Uniqueid="1.1", Queue="operators", HoldTime="12", MemberName="Local/s@op/n"),
        ev("QueueCallerJoin", Uniqueid="1.2", Queue="operators"),
        ev("AgentConnect", Uniqueid="1.2", Queue="operators", HoldTime="41", Interface="PJSIP/op2"),
        ev("QueueCallerJoin", Uniqueid="1.3", Queue="operators"),
        ev("QueueCallerAbandon", Uniqueid="1.3", Queue="operators", HoldTime="55"),
        ev("QueueCallerAbandon", Uniqueid="1.4", Queue="operators", HoldTime="3"),
        ev("Hangup", Uniqueid="1.3"),
    ):
        await watch.on_event(event)
    kinds = [(e.call_id, e.kind, e.hold_s, e.member) for e in backend.queue_events]
    assert kinds == [("1.1", "join", None, None), ("1.1", "connect", 12.0, "Local/s@op/n"),
                     ("1.2", "join", None, None), ("1.2", "connect", 41.0, "PJSIP/op2"),
                     ("1.3", "join", None, None), ("1.3", "abandon", 55.0, None), ("1.4", "abandon", 3.0, None)]
    s = watch.stats
    assert (s.joined, s.connected, s.abandoned, s.breaches, s.unreadable) == (3, 2, 2, 2, 0)


async def test_bad_events_counted_not_reported(backend: MemoryBackend) -> None:
    watch = QueueWatch(backend, 40, queues=frozenset({"operators"}))
    await watch.on_event(ev("AgentConnect", Queue="operators", HoldTime="3"))  # no caller
    await watch.on_event(ev("AgentConnect", Uniqueid="1.5", Queue="operators", HoldTime="soon"))
    await watch.on_event(ev("QueueCallerJoin", Uniqueid="1.6", Queue="sales"))  # another queue
    assert backend.queue_events == [] and watch.stats.unreadable == 2 and watch.stats.joined == 0


def test_pure_mapping() -> None:
    assert queue_event(ev("Newchannel", Uniqueid="1"), at=None) is None  # type: ignore[arg-type]
