"""One engine process for the two-process lease test (issue 8 item 2): a real Dispatcher and
EngineScheduler on a shared database, with an e-mail channel that takes 0.2 s a message and writes
each destination it sends to a file, and an SMS channel whose status polls never answer (a hung
provider; without it with "email-only"). Run as:
python -m tests.engine.lease_engine DATABASE_URL WORKER SENT_FILE STOP_FILE [email-only]"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import time
from pathlib import Path

from autoinform.channels.base import Outgoing, ProviderStatus, SendResult
from autoinform.config import ChannelLimits, DispatchSettings, Settings, WindowSettings
from autoinform.dispatch import Dispatcher
from autoinform.models import Channel, Outcome
from autoinform.runtime import open_runtime
from autoinform.scheduler import EngineScheduler
from tests.engine.builders import SimpleRenderer

LEASE_S = 2.0


class SlowEmail:
    channel = Channel.EMAIL

    def __init__(self, sent: Path) -> None:
        self.sent = sent

    async def start(self) -> None: ...

    async def send(self, item: Outgoing) -> SendResult:
        with self.sent.open("a") as f:
            f.write(item.destination + "\n")
        await asyncio.sleep(0.2)
        return SendResult(Outcome.POSITIVE, "accepted")

    async def poll(self, provider_id: str) -> ProviderStatus | None:
        return None

    async def close(self) -> None: ...


class HungPolls(SlowEmail):
    channel = Channel.SMS

    async def poll(self, provider_id: str) -> ProviderStatus | None:
        await asyncio.sleep(3600)
        return None


async def main(url: str, worker: str, sent: Path, stop_file: Path, email_only: bool) -> None:
    settings = Settings(
        database_url=url, var_dir=sent.parent / f"var-{worker}",
        window=WindowSettings(start=time(0), end=time(23, 59, 59, 999999), calendar="any"),
        dispatch=DispatchSettings(lease_s=LEASE_S, lease_margin_s=0.5, lease_renew_s=0.4, poll_interval_s=0.05,
                                  status_poll_budget_s=1.0, email=ChannelLimits(concurrency=1),
                                  sms=ChannelLimits(concurrency=1)))
    rt = open_runtime(settings)
    senders = {Channel.EMAIL: SlowEmail(sent)} if email_only else {Channel.EMAIL: SlowEmail(sent),
                                                                   Channel.SMS: HungPolls(sent)}
    d = Dispatcher(rt, senders, SimpleRenderer(), worker=worker)
    scheduler = EngineScheduler(d, housekeeping_s=0.2, resync_s=30)
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop_file.exists():
            await asyncio.sleep(0.05)
        stop.set()
    watcher = asyncio.create_task(watch())
    await scheduler.start()
    try:
        await d.run(stop)
    finally:
        scheduler.shutdown()
        watcher.cancel()
        rt.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[5:] == ["email-only"]))
