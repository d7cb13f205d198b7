"""Phone calls placed and finished per second through the whole engine, against a bare AMI loop.

    python -m bench phone [--calls 300] [--channels 30]

Both rows run in the same run on the same prebuilt Asterisk 22 (../shared/asterisk/prebuilt,
started by tests/asterisk/prebuilt.py through autoinform/demo_phone.py) with the same call: a
customer `Local/89…@bench-phone` that answers and listens; the project's [autoinform-notify]
context runs AMD() and AGI() to this process's FastAGI server, whose /notify flow plays one 0.3 s
prompt (a scenario step marked required, no keys) and reports `heard`. At most `--channels` calls
are live at once in both rows.
  bare    an AMI Originate loop (AmiClient) with an in-memory notice source: no database, no
          campaign; a call is finished when its flow reported and its channel hung up
  engine  the engine (Engine: dispatcher, PhoneChannel, FastAGI /notify) on a fresh SQLite database
          with a started phone campaign: claim with leases, route, render the scenario, record the
          attempt before the Originate, the flow's report stored and applied; a call is finished
          when its delivery is done in the database
Target (issue 10 part 5): engine ≥ 70 % of bare. "CPU/call" is this process's CPU time (all
threads) per call, and Asterisk's own (its /proc stat) beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import tempfile
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import time as dtime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from autoinform.channels.base import ProviderStatus
from autoinform.channels.phone import PhoneChannel
from autoinform.config import ChannelLimits, IvrSettings, PhoneSettings, Settings, WindowSettings
from autoinform.content import PhoneContent, PhoneStep
from autoinform.demo_phone import (
    PhoneLabUnavailable,
    phone_campaign,
    phone_server,
    prebuilt_home,
    running_asterisk,
    write_export,
)
from autoinform.engine import Engine, EngineOptions
from autoinform.models import Channel, Delivery, DeliveryState
from autoinform.runtime import open_runtime
from ivr.ami import AmiClient
from ivr.flows.notify import notify_flow
from ivr.router import Router
from ivr.server import FastAgiServer

PROMPT_S = 0.3
DIALPLAN = """
; ---- bench/phone.py: every customer answers and listens until the engine's side hangs up ----
[bench-phone]
exten => _89XXXXXXXXX,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()
"""
SCENARIO = """name: bench_phone
title: Короткое уведомление (bench)
kind: debt_reminder
variables:
  debt:
    type: money
phone:
  steps:
    - id: notice
      prompt: bench/notice
      text: "Короткое уведомление."
      required: true
"""
CONTENT = PhoneContent((PhoneStep("notice", ("bench/notice",), "Короткое уведомление.", required=True),))


@dataclass
class Row:
    rate: float  # calls finished per second
    cpu_us: float  # this process, per call
    asterisk_us: float | None  # Asterisk's process, per call
    threads_us: dict[str, float] = field(default_factory=dict)  # this process's threads, per call


def _number(i: int) -> str:
    return f"+7900{i:07d}"


def write_prompt(path: Path, seconds: float = PROMPT_S) -> None:
    """A quiet 8 kHz tone, `seconds` long: what Asterisk plays as autoinform/bench/notice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(8000 * seconds)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", 800 if (i // 10) % 2 else -800) for i in range(frames)))


def process_cpu_s(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds of this process's main thread (the event loop) and of the others (the dispatcher's
    database thread, sqlite, the scheduler), from Linux /proc."""
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").glob("*"):
        name = "event loop" if task.name == str(os.getpid()) else "other threads"
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


class _Notices:
    """The bare row's NoticeSource: the content by attempt id, reports counted."""

    def __init__(self, n: int) -> None:
        self.reports: dict[int, ProviderStatus] = {}
        self.n = n
        self.all_in = asyncio.Event()

    def notice_for(self, attempt_id: int) -> PhoneContent | None:
        return CONTENT if attempt_id not in self.reports else None

    async def report(self, status: ProviderStatus) -> None:
        self.reports[int(status.provider_id.removeprefix("call-"))] = status
        if len(self.reports) >= self.n:
            self.all_in.set()


def _per_call(before: float | None, after: float | None, n: int) -> float | None:
    return (after - before) / n * 1e6 if before is not None and after is not None else None


async def measure_bare(instance: Any, n: int, channels: int) -> Row:
    notices = _Notices(n)
    router = Router()
    router.add("notify", notify_flow(notices))
    agi = FastAgiServer(IvrSettings(port=0, command_timeout_s=30, shutdown_grace_s=1), router)
    await agi.start()
    slots = asyncio.Semaphore(channels)
    failed: list[str] = []
    try:
        async with AmiClient(instance.ami_settings()) as ami:
            async def call(i: int) -> None:
                try:
                    uid = f"bare-{i}-{os.getpid()}"
                    hangup = ami.expect("Hangup", {"Uniqueid": uid})
                    placed = await ami.originate(
                        f"Local/8{_number(i)[2:]}@bench-phone", context="autoinform-notify", exten="s",
                        timeout_ms=10_000, channel_id=uid,
                        variables={"DELIVERY_ID": i, "ATTEMPT_ID": i, "AUTOINFORM_AGI": f"agi://127.0.0.1:{agi.port}"})
                    result = await placed.result(30)
                    if not result.answered:
                        failed.append(result.reason_name)
                        hangup.cancel()
                        return
                    await asyncio.wait_for(hangup, 60)
                finally:
                    slots.release()

            t0, cpu, ast = time.perf_counter(), time.process_time(), process_cpu_s(instance.pid)
            tasks = []
            for i in range(1, n + 1):
                await slots.acquire()
                tasks.append(asyncio.create_task(call(i)))
            await asyncio.gather(*tasks)
            await asyncio.wait_for(notices.all_in.wait(), 30)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu
            ast_us = _per_call(ast, process_cpu_s(instance.pid), n)
    finally:
        await agi.shutdown()
    if failed or len(notices.reports) != n:
        raise SystemExit(f"bare: {len(notices.reports)} of {n} reported; failed: {failed[:5]}")
    return Row(n / elapsed, cpu / n * 1e6, ast_us)


def measure_engine(instance: Any, tmp: Path, n: int, channels: int, free_port: Any) -> Row:
    agi_port = free_port()
    server = phone_server(instance, name="bench", dial_template="Local/{number}@bench-phone", agi_port=agi_port,
                          max_channels=channels, calls_per_second=1000)
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'bench.db'}", var_dir=tmp / "var",
        window=WindowSettings(start=dtime(0), end=dtime(23, 59, 59, 999999), calendar="any"),
        scenario_constants={"hotline_phone": "+78512000000"},
        phone=PhoneSettings(servers=[server], ring_timeout_s=10, max_call_s=60),
        ivr=IvrSettings(host="127.0.0.1", port=agi_port, command_timeout_s=30, shutdown_grace_s=1))
    settings.dispatch.poll_interval_s = 0.05
    settings.dispatch.phone = ChannelLimits(concurrency=channels, max_attempts=1)
    rt = open_runtime(settings)
    try:
        export, scenario = tmp / "customers.csv", tmp / "bench_phone.yaml"
        write_export(export, [(f"3099{i:08d}", f"Клиент {i}", _number(i)) for i in range(1, n + 1)])
        scenario.write_text(SCENARIO)
        phone_campaign(rt, export, scenario, "bench phone")
        engine = Engine(rt, senders={Channel.PHONE: PhoneChannel(rt.settings.phone)},
                        options=EngineOptions(web=False, ivr=True, until_idle=False, housekeeping_s=1.0))

        def finished(s: Any) -> int:
            return int(s.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.state == DeliveryState.DONE)) or 0)

        async def go() -> Row:
            stop = asyncio.Event()
            t0, cpu, ast = time.perf_counter(), time.process_time(), process_cpu_s(instance.pid)
            threads = thread_cpu_s()
            task = asyncio.create_task(engine.run(stop))
            while not task.done() and await engine.dispatcher.in_db(finished) < n:
                await asyncio.sleep(0.1)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu
            ast_us = _per_call(ast, process_cpu_s(instance.pid), n)
            by_thread = {name: (t - threads.get(name, 0.0)) / n * 1e6 for name, t in thread_cpu_s().items()}
            stop.set()
            await task
            return Row(n / elapsed, cpu / n * 1e6, ast_us, {k: v for k, v in by_thread.items() if v >= 50})
        row = asyncio.run(go())
        with rt.sessions() as s:
            reasons = dict(s.execute(select(Delivery.reason, func.count()).group_by(Delivery.reason)).all())
        if reasons != {"heard": n}:
            raise SystemExit(f"engine: deliveries ended {reasons}, expected {n} heard")
        return row
    finally:
        rt.close()


def _us(value: float | None) -> str:
    return f"{value:>9.0f} us" if value is not None else f"{'?':>12}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench phone")
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--channels", type=int, default=30, help="live calls at most (max_channels)")
    args = ap.parse_args(argv)
    try:
        prebuilt, home = prebuilt_home()
    except PhoneLabUnavailable as exc:
        print(f"bench phone needs the prebuilt Asterisk: {exc}")
        return 2
    with tempfile.TemporaryDirectory(prefix="ai-bph-") as d:
        tmp = Path(d)
        write_prompt(tmp / "prompts" / "bench" / "notice.wav")
        with running_asterisk(prebuilt, home, tmp / "prompts", dialplan=DIALPLAN) as instance:
            bare = asyncio.run(measure_bare(instance, args.calls, args.channels))
            engine = measure_engine(instance, tmp, args.calls, args.channels, prebuilt.free_port)
    print(f"phone, {args.calls} calls per row, at most {args.channels} live; Asterisk 22 prebuilt on this machine, "
          f"Local channels, AMD then a {PROMPT_S} s notice")
    print(f"{'row':<8}{'calls/s':>9}{'vs bare':>9}{'CPU/call':>14}{'Asterisk CPU/call':>20}")
    for name, row in (("bare", bare), ("engine", engine)):
        print(f"{name:<8}{row.rate:>9.1f}{row.rate / bare.rate:>8.0%}{_us(row.cpu_us):>14}{_us(row.asterisk_us):>20}")
    print("engine CPU/call by thread: " + ", ".join(f"{k} {v:.0f} us" for k, v in
                                                 sorted(engine.threads_us.items(), key=lambda kv: -kv[1])))
    verdict = "met" if engine.rate >= 0.7 * bare.rate else "NOT met"
    print(f"target engine ≥ 70% of bare: {verdict}; engine CPU per call {engine.cpu_us / 1000:.1f} ms")
    return 0
