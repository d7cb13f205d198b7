"""Hotline calls through the FastAGI server against /selftest on the same server (issue 11).

    python -m bench hotline [--quick] [--seconds S] [--levels 1,50,500] [--backend db|memory]
                            [--db-url postgresql://postgres@127.0.0.1:5432/postgres] [--db-threads N]

The server runs in its own process pinned to CPU 0 with two routes: the real /hotline flow (the
shipped menu and information base) and /selftest. Behind the flow is the engine's own
DbHotlineBackend on a SQLite file (or, with --db-url, a fresh database on that PostgreSQL server,
dropped after) seeded with customers and their balances (`--backend db`, the default: every
account, balance and reading is a database look-up or write, as in production), or the in-memory
backend of tests/hotline (`--backend memory`: the flow's own cost alone). This
process plays Asterisk on CPU 1, a scripted caller per connection: the greeting, 3 (balance) with
an account, the amount spoken, back in the menu 2 (reading) with the account, a single-rate meter,
a reading, the read-back confirmed with 1, then the caller hangs up in the menu: about 35 AGI
commands, every one answered as Asterisk 22 answers it. A selftest call is 17 commands, so calls/s
differ by design; the targets compare the per-command work: hotline commands/s >= 70 % of
selftest's, p99 command round-trip under 2x.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from bench.fastagi import LOAD_CPU, SERVER_CPU, _cpu_seconds, _run, _uvloop_available

if TYPE_CHECKING:
    from autoinform.config import HotlineSettings
    from ivr.hotline.backend import HotlineBackend

ROOT = Path(__file__).resolve().parents[1]
ACCOUNTS = 1000


def _env(script: str, uniqueid: str) -> bytes:
    pairs = (
        ("agi_network", "yes"), ("agi_network_script", script), ("agi_request", f"agi://127.0.0.1/{script}"),
        ("agi_channel", "Local/s@bench-00000000;2"), ("agi_language", "ru"), ("agi_type", "Local"),
        ("agi_uniqueid", uniqueid), ("agi_version", "22.10.1"), ("agi_callerid", "89001234567"),
        ("agi_calleridname", "unknown"), ("agi_callingpres", "67"), ("agi_callingani2", "0"),
        ("agi_callington", "0"), ("agi_callingtns", "0"), ("agi_dnid", "unknown"), ("agi_rdnis", "unknown"),
        ("agi_context", "bench"), ("agi_extension", "s"), ("agi_priority", "2"), ("agi_enhanced", "0.0"),
        ("agi_accountcode", ""), ("agi_threadid", "140412684912320"))
    return ("".join(f"{k}: {v}\n" for k, v in pairs) + "\n").encode()


# --- the server (child process) --------------------------------------------------------------------

@contextlib.contextmanager
def _database(tmp: Path, server_url: str | None) -> Iterator[str]:
    """A fresh SQLite file, or a fresh database on the PostgreSQL server of `server_url`, dropped after."""
    if server_url is None:
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    from sqlalchemy import text

    from autoinform import db

    name = f"autoinform_bench_{os.getpid()}"
    admin = db.make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _db_backend(tmp: Path, url: str, settings: HotlineSettings, threads: int | None) -> HotlineBackend:
    """The engine's backend on a fresh database: ACCOUNTS customers, each with a balance."""
    from datetime import date

    from autoinform import db
    from autoinform.config import Settings
    from autoinform.hotline.backend import DbHotlineBackend
    from autoinform.models import AccountBalance, BillingImport, Customer
    from autoinform.runtime import open_runtime

    rt = open_runtime(Settings(database_url=url, var_dir=tmp / "var",
                               hotline=settings.model_copy(update={"recordings_dir": tmp / "rec"})))
    db.upgrade(rt.engine)
    with db.transaction(rt.sessions) as s:
        imp = BillingImport(source_file="bench.csv")
        s.add(imp)
        s.flush()
        for i in range(ACCOUNTS):
            account = f"{100000 + i}"
            s.add(Customer(account=account, name=f"Клиент {i}", group=1))
            s.add(AccountBalance(account=account, amount_kopecks=123456, as_of=date.today(), import_id=imp.id))
    return DbHotlineBackend(rt, threads=threads)


async def _serve(backend_kind: str, db_url: str | None, threads: int | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-hotline-"))
    with _database(tmp, db_url if backend_kind == "db" else None) as url:
        await _serve_on(tmp, backend_kind, url, threads)


async def _serve_on(tmp: Path, backend_kind: str, url: str, threads: int | None) -> None:
    sys.path.insert(0, str(ROOT))
    from autoinform.config import HotlineSettings, IvrSettings
    from ivr.flows.selftest import selftest
    from ivr.hotline.flow import HotlineFlow
    from ivr.hotline.info import load_info
    from ivr.hotline.menu import load_menu
    from ivr.router import Router
    from ivr.server import FastAgiServer
    from tests.hotline.memory_backend import MemoryBackend

    hours = {d: "00:00-23:59" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    settings = HotlineSettings(hours=hours, holidays_open=True, max_reading_increase=10**9)
    backend: HotlineBackend
    if backend_kind == "db":
        backend = _db_backend(tmp, url, settings, threads)
    else:
        memory = MemoryBackend(tmp, settings)
        for i in range(ACCOUNTS):
            memory.add(f"{100000 + i}", debt="1234.56")
        backend = memory
    backend.reception(backend.now())  # the calendar loaded before the first call
    flow = HotlineFlow(backend, load_menu(ROOT / "hotline" / "menu.yaml"), load_info(ROOT / "hotline" / "info.yaml"),
                       settings)
    router = Router()
    router.add("hotline", flow)
    router.add("selftest", selftest)
    server = FastAgiServer(IvrSettings(port=0, backlog=1024), router)
    await server.start()
    print(f"READY {server.port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await server.shutdown()
    close = getattr(backend, "close", None)
    if close is not None:
        close()
        backend.rt.engine.dispose()  # type: ignore[attr-defined]


# --- the callers (this process) --------------------------------------------------------------------

_serial = itertools.count(1)


class Caller(asyncio.Protocol):
    """Asterisk with a scripted caller; answers every command, notes each round-trip."""

    def __init__(self, script: str, latencies: list[float], done: asyncio.Future[int]) -> None:
        self.script = script
        self.latencies = latencies
        self.done = done
        self.buf = b""
        self.commands = 0
        self.menus = 0
        self.dead = False
        n = next(_serial)
        self.account = str(100000 + n % ACCOUNTS)
        self.reading = n  # rises call by call: never below an account's previous reading
        self.uniqueid = f"1795788722.{n}"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.last = time.perf_counter()
        self.transport.write(_env(self.script, self.uniqueid))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (nl := self.buf.find(b"\n")) >= 0:
            line, self.buf = self.buf[:nl].decode(), self.buf[nl + 1:]
            now = time.perf_counter()
            self.latencies.append(now - self.last)
            self.commands += 1
            reply = self.answer(line)
            self.last = time.perf_counter()
            self.transport.write(reply)

    def answer(self, line: str) -> bytes:
        if self.dead:
            dead_ok = line.startswith(("SET VARIABLE", "GET VARIABLE", "HANGUP", "VERBOSE", "EXEC"))
            return b"200 result=0\n" if dead_ok else b"511 Command Not Permitted on a dead channel\n"
        if line.startswith("HANGUP"):
            self.dead = True
            return b"200 result=1\n"
        if line.startswith("GET DATA"):
            prompt = line.split()[2]
            if prompt.endswith("enter_account"):
                return f"200 result={self.account}\n".encode()
            if prompt.endswith(("enter_reading", "press_key")):
                return f"200 result={self.reading if 'reading' in prompt else 5}\n".encode()
            return b"200 result= (timeout)\n"
        if line.startswith("STREAM FILE"):
            prompt = line.split()[2]
            if prompt.endswith("hotline/menu_info"):
                self.menus += 1
                if self.menus == 3:  # done: the caller hangs up during the menu
                    self.dead = True
                    return b"200 result=-1 endpos=800\nHANGUP\n"
                return b"200 result=51 endpos=800\n" if self.menus == 1 else b"200 result=50 endpos=800\n"
            if prompt.endswith(("hotline/meter_type", "hotline/confirm")):
                return b"200 result=49 endpos=800\n"
            return b"200 result=0 endpos=2400\n"
        if line.startswith("WAIT FOR DIGIT"):
            return b"200 result=0\n"
        if line.startswith("GET VARIABLE"):
            return b"200 result=0\n"
        return b"200 result=0\n" if line.startswith("ANSWER") else b"200 result=1\n"

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.commands)


@dataclass
class Level:
    script: str
    concurrency: int
    calls: int
    commands: int
    failed: int
    seconds: float
    latencies: list[float]
    server_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    @property
    def command_rate(self) -> float:
        return self.commands / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000 if ordered else float("nan")


async def _load(port: int, script: str, concurrency: int, seconds: float, minimum: int) -> Level:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    counts = [0, 0, 0]  # calls, commands, failed
    stop_at = loop.time() + seconds

    async def worker() -> None:
        while loop.time() < stop_at:
            done: asyncio.Future[int] = loop.create_future()
            try:
                await loop.create_connection(lambda d=done: Caller(script, latencies, d), "127.0.0.1", port)
                commands = await asyncio.wait_for(done, 60)
            except (OSError, TimeoutError):
                counts[2] += 1
                continue
            if commands >= minimum:
                counts[0] += 1
                counts[1] += commands
            else:
                counts[2] += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Level(script, concurrency, counts[0], counts[1], counts[2], time.perf_counter() - start, latencies)


MIN_COMMANDS = {"hotline": 30, "selftest": 15}  # fewer: the call went wrong (counted as failed)


def _measure(levels: list[int], seconds: float, backend: str, extra: list[str]) -> dict[str, list[Level]]:
    server = subprocess.Popen([sys.executable, "-m", "bench.hotline", "--serve", "--backend", backend, *extra],
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setaffinity(server.pid, {SERVER_CPU})
        assert server.stdout is not None
        ready = server.stdout.readline().split()
        if not ready or ready[0] != "READY":
            raise SystemExit("hotline bench server did not start")
        port = int(ready[1])
        rows: dict[str, list[Level]] = {"selftest": [], "hotline": []}

        async def main() -> None:
            for script in rows:
                await _load(port, script, 10, min(seconds, 0.5), MIN_COMMANDS[script])  # warm up
            for c in levels:
                for script in rows:  # interleaved: both see the same machine
                    before = _cpu_seconds(server.pid)
                    level = await _load(port, script, c, seconds, MIN_COMMANDS[script])
                    level.server_cpu_s = _cpu_seconds(server.pid) - before
                    rows[script].append(level)
                    print(f"  {script:<8} c={c:<4} {level.rate:7.0f} calls/s {level.command_rate:8.0f} commands/s "
                          f"p99 {level.pct(0.99):6.2f} ms  failed {level.failed}", flush=True)

        _run(main, _uvloop_available())
        return rows
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def _report(rows: dict[str, list[Level]], levels: list[int]) -> bool:
    print("\ntargets: hotline commands/s >= 0.70 x selftest's; hotline p99 round-trip < 2.00 x selftest's; no "
          "failed call")
    ok = True
    for i, c in enumerate(levels):
        h, s = rows["hotline"][i], rows["selftest"][i]
        throughput = h.command_rate / s.command_rate if s.command_rate else float("nan")
        p99 = h.pct(0.99) / s.pct(0.99)
        cpu = (h.server_cpu_s / max(h.commands, 1)) / (s.server_cpu_s / max(s.commands, 1)) if s.commands else 0
        good = throughput >= 0.70 and p99 < 2.0 and h.failed == 0
        ok &= good
        print(f"  c={c:<4} hotline {h.rate:6.0f} calls/s ({h.commands / max(h.calls, 1):.0f} commands a call), "
              f"selftest {s.rate:6.0f} calls/s ({s.commands / max(s.calls, 1):.0f}); commands/s ratio "
              f"{throughput:4.2f}, p99 ratio {p99:4.2f}, server CPU a command {cpu:4.2f}x  "
              f"{'OK' if good else 'MISSED'}")
    return ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench hotline", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s per level instead of 4")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--levels", default="1,50,500")
    parser.add_argument("--backend", choices=("db", "memory"), default="db",
                        help="the engine's database backend (SQLite) or the in-memory one")
    parser.add_argument("--db-url", default=None,
                        help="a PostgreSQL server URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres): the db "
                             "backend runs on a fresh database created there and dropped after; default SQLite")
    parser.add_argument("--db-threads", type=int, default=None,
                        help="the backend's database threads (default: 1 on SQLite, DB_THREADS on PostgreSQL)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _run(lambda: _serve(args.backend, args.db_url, args.db_threads), False)
        return 0
    extra = [*(["--db-url", args.db_url] if args.db_url else []),
             *(["--db-threads", str(args.db_threads)] if args.db_threads else [])]
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, {LOAD_CPU})
    seconds = args.seconds or (1.0 if args.quick else 4.0)
    levels = [int(x) for x in args.levels.split(",")]
    where = "" if args.backend == "memory" else " on PostgreSQL" if args.db_url else " on SQLite"
    print(f"hotline bench: {args.backend} backend{where}, {seconds:g} s per level, levels {levels}, "
          f"server on CPU {SERVER_CPU}, callers on CPU {LOAD_CPU}, Python {sys.version.split()[0]}")
    return 0 if _report(_measure(levels, seconds, args.backend, extra), levels) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
