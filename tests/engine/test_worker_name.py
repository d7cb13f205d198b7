"""A lease-owner name belongs to one live engine (issue 8 item 2, AI-2).

An engine takes back its previous life's leases at start by its worker name (the host name by
default). A second engine started under the same name while the first still runs would take the
first one's live work and both would send it: it is refused, while a restart after a crash is not."""

from __future__ import annotations

import os
import socket
import subprocess
from datetime import timedelta

import pytest

from autoinform import db, deliveries
from autoinform.errors import ConfigError
from autoinform.models import EngineWorker, utcnow
from autoinform.runtime import Runtime

STALE = timedelta(seconds=300)


def _holder(rt: Runtime, host: str, pid: int, seen_ago: timedelta) -> None:
    with db.transaction(rt.sessions) as s:
        s.add(EngineWorker(name="engine-1", host=host, pid=pid, heartbeat_at=utcnow() - seen_ago))


def _register(rt: Runtime) -> None:
    with db.transaction(rt.sessions) as s:
        deliveries.register_worker(s, worker="engine-1", now=utcnow(), stale_after=STALE)


def test_a_live_engine_on_this_host_keeps_its_name(rt: Runtime) -> None:
    other = subprocess.Popen(["sleep", "30"])
    try:
        _holder(rt, socket.gethostname(), other.pid, timedelta(hours=1))  # old heartbeat, live process
        with pytest.raises(ConfigError, match="another engine is running as worker 'engine-1'"):
            _register(rt)
    finally:
        other.kill()
        other.wait()
    _register(rt)  # its process is gone: a crashed engine's name is free at once
    with rt.sessions() as s:
        row = s.get(EngineWorker, "engine-1")
        assert row is not None and row.pid == os.getpid()


def test_an_engine_elsewhere_keeps_its_name_while_its_heartbeat_is_fresh(rt: Runtime) -> None:
    _holder(rt, "other-host", 4242, timedelta(seconds=10))
    with pytest.raises(ConfigError, match="host other-host"):
        _register(rt)
    with db.transaction(rt.sessions) as s:
        row = s.get(EngineWorker, "engine-1")
        assert row is not None
        row.heartbeat_at = utcnow() - STALE - timedelta(seconds=1)
    _register(rt)  # silent past a lease: that engine is gone, its leases are dead anyway
