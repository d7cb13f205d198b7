"""FastAGI server throughput: sessions/s and command round-trip p50/p99 (issue 4).

    python -m bench fastagi [--quick] [--seconds S] [--levels 1,50,500] [--no-uvloop]

Each server runs in its own process pinned to CPU 0; this process plays Asterisk on CPU 1 (sends
the 22-line environment, answers each command `200 result=0`). A session is 10 commands. Servers,
measured side by side in the same run:
- raw: a minimal asyncio.Protocol responder, the ceiling for an asyncio server;
- ivr: ivr.server.FastAgiServer running a flow of 10 AgiSession calls;
- panoramisk: panoramisk 1.4's fast_agi.Application on asyncio streams;
- raw+uvloop, ivr+uvloop when uvloop is importable (uvloop is optional for the ivr server).
Round-trip: from Asterisk's last write (environment or reply) to the next command arriving.
Targets: ivr >= 70% of raw sessions/s, ahead of panoramisk, p99 under 2x raw's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

COMMANDS = 10
ENV = ("".join(f"{k}: {v}\n" for k, v in (
    ("agi_network", "yes"), ("agi_network_script", "bench"), ("agi_request", "agi://127.0.0.1/bench"),
    ("agi_channel", "Local/s@bench-00000000;2"), ("agi_language", "ru"), ("agi_type", "Local"),
    ("agi_uniqueid", "1795788722.1"), ("agi_version", "22.10.1"), ("agi_callerid", "unknown"),
    ("agi_calleridname", "unknown"), ("agi_callingpres", "67"), ("agi_callingani2", "0"),
    ("agi_callington", "0"), ("agi_callingtns", "0"), ("agi_dnid", "unknown"), ("agi_rdnis", "unknown"),
    ("agi_context", "bench"), ("agi_extension", "s"), ("agi_priority", "2"), ("agi_enhanced", "0.0"),
    ("agi_accountcode", ""), ("agi_threadid", "140412684912320"))) + "\n").encode()
SCRIPT = [b"ANSWER\n", *[b'STREAM FILE beep ""\n'] * (COMMANDS - 2), b"HANGUP\n"]
SERVER_CPU, LOAD_CPU = 0, 1


# --- servers (run in a child process) ------------------------------------------------------------

class RawResponder(asyncio.Protocol):
    """The ceiling: finds the blank line, then writes a command per reply line, no parsing."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport
        self.buf = b""
        self.env_done = False
        self.sent = 0

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.env_done:
            end = self.buf.find(b"\n\n")
            if end < 0:
                return
            self.env_done, self.buf = True, self.buf[end + 2:]
            self._next()
            return
        while (nl := self.buf.find(b"\n")) >= 0:
            self.buf = self.buf[nl + 1:]
            self._next()

    def _next(self) -> None:
        if self.sent == COMMANDS:
            self.transport.close()
            return
        self.transport.write(SCRIPT[self.sent])
        self.sent += 1


async def _serve(kind: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    if kind == "raw":
        server = await loop.create_server(RawResponder, "127.0.0.1", port, backlog=1024, reuse_address=True)
    elif kind == "ivr":
        from autoinform.config import IvrSettings
        from ivr.router import Router
        from ivr.server import FastAgiServer
        from ivr.session import AgiSession

        async def flow(session: AgiSession) -> None:
            await session.answer()
            for _ in range(COMMANDS - 2):
                await session.stream_file("beep")
            await session.hangup()

        router = Router()
        router.add("bench", flow)
        ivr = FastAgiServer(IvrSettings(port=port, backlog=1024), router)
        await ivr.start()
        server = ivr._server  # type: ignore[assignment]
    elif kind == "panoramisk":
        from panoramisk.fast_agi import Application

        async def route(request: object) -> None:
            for command in SCRIPT:
                await request.send_command(command.decode().rstrip("\n"))  # type: ignore[attr-defined]

        app = Application(loop=loop)
        app.add_route("bench", route)
        server = await asyncio.start_server(app.handler, "127.0.0.1", port, backlog=1024)
    else:
        raise SystemExit(f"unknown server {kind}")
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)  # type: ignore[union-attr]
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin


def _run(main: Callable[[], object], uvloop: bool) -> None:
    if uvloop:
        import uvloop as uv

        uv.run(main())  # type: ignore[arg-type]
    else:
        asyncio.run(main())  # type: ignore[arg-type]


# --- the Asterisk side (this process) -------------------------------------------------------------

class FakeAsterisk(asyncio.Protocol):
    def __init__(self, latencies: list[float], done: asyncio.Future[int]) -> None:
        self.latencies = latencies
        self.done = done
        self.buf = b""
        self.commands = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport
        self.last = time.perf_counter()
        transport.write(ENV)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (nl := self.buf.find(b"\n")) >= 0:
            self.buf = self.buf[nl + 1:]
            now = time.perf_counter()
            self.latencies.append(now - self.last)
            self.commands += 1
            self.last = now
            self.transport.write(b"200 result=0\n")

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.commands)


@dataclass
class Level:
    concurrency: int
    sessions: int
    failed: int
    seconds: float
    latencies: list[float]
    server_cpu_s: float = 0.0

    @property
    def cpu_us(self) -> float:
        """Server CPU per session: steady even when other processes share the machine."""
        return self.server_cpu_s / max(self.sessions, 1) * 1e6

    @property
    def rate(self) -> float:
        return self.sessions / self.seconds

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000


async def _load(port: int, concurrency: int, seconds: float) -> Level:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    counts = [0, 0]
    stop_at = loop.time() + seconds

    async def worker() -> None:
        while loop.time() < stop_at:
            done: asyncio.Future[int] = loop.create_future()
            try:
                await loop.create_connection(lambda d=done: FakeAsterisk(latencies, d),
                                             "127.0.0.1", port)
                commands = await asyncio.wait_for(done, 30)
            except (OSError, TimeoutError):
                counts[1] += 1
                continue
            counts[0 if commands == COMMANDS else 1] += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Level(concurrency, counts[0], counts[1], time.perf_counter() - start, latencies)


def _measure(kind: str, uvloop: bool, levels: list[int], seconds: float) -> list[Level]:
    cmd = [sys.executable, "-m", "bench.fastagi", "--serve", kind] + (["--uvloop"] if uvloop else [])
    server = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setaffinity(server.pid, {SERVER_CPU})
        assert server.stdout is not None
        ready = server.stdout.readline().split()
        if not ready or ready[0] != "READY":
            raise SystemExit(f"{kind} server did not start")
        port = int(ready[1])

        async def run_levels() -> list[Level]:
            await _load(port, 10, min(seconds, 0.5))  # warm up
            measured = []
            for c in levels:
                before = _cpu_seconds(server.pid)
                level = await _load(port, c, seconds)
                level.server_cpu_s = _cpu_seconds(server.pid) - before
                measured.append(level)
            return measured

        results: list[Level] = []

        async def main() -> None:
            results.extend(await run_levels())

        _run(main, _uvloop_available())  # the load generator is never the bottleneck if it can help it
        return results
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _report(rows: dict[str, list[Level]], levels: list[int]) -> bool:
    print(f"\n{'server':<12}" + "".join(
        f"{f'c={c} sess/s':>13}{'p50 ms':>8}{'p99 ms':>8}{'cpu us':>8}{'fail':>5}" for c in levels))
    for name, measured in rows.items():
        print(f"{name:<12}" + "".join(
            f"{m.rate:>13.0f}{m.pct(0.5):>8.2f}{m.pct(0.99):>8.2f}{m.cpu_us:>8.0f}{m.failed:>5}"
            for m in measured))
    print("(cpu us: server CPU per session; raw cpu / ivr cpu is the sessions/s ratio when the server "
          "is CPU-bound, whatever else runs on the machine)")
    print("\nratios against the targets (the ceiling is the raw asyncio Protocol on the standard loop):"
          "\n  ivr/raw sessions >= 0.70, ivr/panoramisk > 1.00, ivr p99 / raw p99 < 2.00")
    ok = True
    for i, c in enumerate(levels):
        ok &= _ratio_line(rows, "ivr", "raw", i, c, target=True)
    if "ivr+uvloop" in rows:
        print("uvloop (optional; shown, not a target): against its own ceiling and the standard one")
        for i, c in enumerate(levels):
            _ratio_line(rows, "ivr+uvloop", "raw+uvloop", i, c, target=False)
            _ratio_line(rows, "ivr+uvloop", "raw", i, c, target=False)
    return ok


def _ratio_line(rows: dict[str, list[Level]], ivr: str, raw: str, i: int, c: int, *, target: bool) -> bool:
    a, r, p = rows[ivr][i], rows[raw][i], rows["panoramisk"][i]
    vs_raw, vs_pano, p99 = a.rate / r.rate, a.rate / p.rate, a.pct(0.99) / r.pct(0.99)
    cpu = r.cpu_us / a.cpu_us if a.cpu_us else float("nan")
    good = vs_raw >= 0.70 and vs_pano > 1.0 and p99 < 2.0
    verdict = ("OK" if good else "MISSED") if target else ""
    print(f"  {ivr:<10} c={c:<4} vs {raw:<10}: {vs_raw:5.2f} (cpu {cpu:4.2f})   vs panoramisk: "
          f"{vs_pano:5.2f}   p99 ratio: {p99:5.2f}   {verdict}")
    return good


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench fastagi", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s per level instead of 4")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--levels", default="1,50,500")
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--uvloop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _run(lambda: _serve(args.serve, 0), args.uvloop)
        return 0
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, {LOAD_CPU})
    seconds = args.seconds or (1.0 if args.quick else 4.0)
    levels = [int(x) for x in args.levels.split(",")]
    kinds: list[tuple[str, str, bool]] = [("raw", "raw", False), ("ivr", "ivr", False),
                                          ("panoramisk", "panoramisk", False)]
    if _uvloop_available() and not args.no_uvloop:
        kinds += [("raw+uvloop", "raw", True), ("ivr+uvloop", "ivr", True)]
    print(f"FastAGI bench: {COMMANDS} commands a session, {seconds:g} s per level, levels {levels}, "
          f"server on CPU {SERVER_CPU}, load on CPU {LOAD_CPU}, Python {sys.version.split()[0]}")
    rows: dict[str, list[Level]] = {}
    for name, kind, uv in kinds:
        rows[name] = _measure(kind, uv, levels, seconds)
        print(f"  measured {name}: " + ", ".join(f"{m.rate:.0f}/s" for m in rows[name]), flush=True)
    return 0 if _report(rows, levels) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
