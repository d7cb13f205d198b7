"""E-mail throughput through the full engine (render, claim, send, record) against the ceiling.

    python -m bench email_engine [--n 20000] [--connections 8] [--naive-n 2000] [--backend sqlite|postgres]

Rows, in the same run against the same aiosmtpd sink in its own process (pinned to CPU 0):
  ceiling  bare aiosmtplib with the same number of connections, messages serialised before the timer
  engine   the dispatcher on a fresh database, default dispatch settings: claim with leases, render
           the stored debt_reminder scenario per customer, record each attempt before and after,
           EmailChannel pool
  naive    smtplib, one connection, EmailMessage built per message
Target (issue 3): engine ≥ 70 % of the ceiling. "sender CPU/msg" is this process's CPU time (all
threads) per message: the engine's own bill, robust to a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select

from autoinform.channels.email import EmailChannel
from autoinform.dispatch import Dispatcher
from autoinform.models import Channel, Delivery, DeliveryState
from autoinform.rendering import StoredScenarioRenderer
from autoinform.runtime import Runtime
from bench.dispatcher import database, pg_up, prepared
from bench.email_channel import Measured, _pin, measure_ceiling, measure_naive, start_sink_process


def measure_engine(rt: Runtime, port: int, n: int, connections: int) -> Measured:
    rt.settings.smtp.port = port
    rt.settings.smtp.pool_size = connections
    rt.settings.smtp.sender = "info@energo.example.ru"
    rt.settings.dispatch.email.concurrency = connections
    rt.settings.dispatch.poll_interval_s = 0.05
    channel = EmailChannel(rt.settings.smtp, local_hostname="bench")
    renderer = StoredScenarioRenderer(rt.sessions, rt.settings.tz, constants=rt.settings.scenario_constants)
    dispatcher = Dispatcher(rt, {Channel.EMAIL: channel}, renderer, worker="bench")

    async def go() -> Measured:
        await channel.start()
        stop = asyncio.Event()
        t0, cpu = time.perf_counter(), time.process_time()
        task = asyncio.create_task(dispatcher.run(stop))
        # Results count once their transaction has committed (stats are bumped after it); asking
        # the database instead would add a query per poll to the engine's own bill.
        while sum(dispatcher.stats.verdicts.values()) < n and not task.done():
            await asyncio.sleep(0.01)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu
        stop.set()
        await task
        await channel.close()
        # The sink is a relay: what it took awaits a bounce or the quiet period (issue 8 item 8).
        done = await dispatcher.in_db(lambda s: s.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.state.in_((DeliveryState.DONE, DeliveryState.AWAITING)))) or 0)
        if done != n:
            raise SystemExit(f"engine finished {done} of {n} deliveries")
        return Measured(n / elapsed, cpu / n * 1e6)
    return asyncio.run(go())


def postgres_cpu_s() -> float | None:
    """CPU seconds used so far by this machine's PostgreSQL server processes (Linux /proc), or None:
    a local server shares the cores with the engine and the sink, so its bill belongs in the figures."""
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text:
            found = True
            total += sum(int(x) for x in text.rsplit(")", 1)[1].split()[11:13])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK") if found else None


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench email_engine")
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--naive-n", type=int, default=2_000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = ap.parse_args(argv)
    if args.backend == "postgres" and not pg_up():
        print("PostgreSQL is not reachable at 127.0.0.1:5432")
        return 2
    port, stop = start_sink_process(cpu=0)
    pinned = _pin(1)
    try:
        with tempfile.TemporaryDirectory() as d, database(args.backend, Path(d)) as url:
            rt = prepared(url, Path(d), args.n)
            try:
                ceiling = measure_ceiling(port, args.n, args.connections)
                server_before = postgres_cpu_s() if args.backend == "postgres" else None
                engine = measure_engine(rt, port, args.n, args.connections)
                server_after = postgres_cpu_s() if server_before is not None else None
                naive = measure_naive(port, args.naive_n)
            finally:
                rt.close()
    finally:
        received = stop()
    print(f"e-mail, {args.n} messages ({args.naive_n} naive), {args.connections} connections, "
          f"{args.backend}; {'sink on CPU 0, senders on CPU 1' if pinned else 'not pinned'}")
    print(f"{'row':<10}{'msg/s':>10}{'vs ceiling':>12}{'sender CPU/msg':>16}")
    for name, row in (("ceiling", ceiling), ("engine", engine), ("naive", naive)):
        print(f"{name:<10}{row.rate:>10.0f}{row.rate / ceiling.rate:>11.0%}{row.cpu_us:>13.0f} us")
    if server_before is not None and server_after is not None:
        server_us = (server_after - server_before) / args.n * 1e6
        print(f"PostgreSQL server CPU during the engine row: {server_us:.0f} us/msg "
              "(on the same cores as the sink and the engine)")
    verdict = "met" if engine.rate >= 0.7 * ceiling.rate else "NOT met"
    print(f"target engine ≥ 70% of ceiling: {verdict}; sink received {received}")
    return 0
