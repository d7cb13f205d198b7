"""Start-up time of the command line (issue 9 item 5): `python -m bench cli [--repeat N]`.

Each command is run N times in a fresh process, interleaved with the baseline `python -c pass`
so that load on the machine hits both alike; the median wall-clock time of each is printed with
its excess over the baseline. Target: `autoinform --help` and `autoinform say money 1234,56` at
most 0.3 s above bare Python. `ivr-agi` is started as Asterisk's AGI() would start it, on an
AGI environment whose caller hangs up at once: what every classic-AGI call pays before its flow.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_S = 0.3
AGI_ENV = b"agi_request: selftest\nagi_channel: SIP/bench-00000001\nagi_arg_1: selftest\n\n"


def _script(name: str) -> list[str]:
    """The console script installed beside this interpreter, else `python -m`."""
    found = Path(sys.executable).with_name(name)
    if found.exists():
        return [str(found)]
    which = shutil.which(name)
    if which:
        return [which]
    return [sys.executable, "-m", "autoinform" if name == "autoinform" else "ivr.classic_agi"]


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _time_once(argv: Sequence[str], stdin: bytes | None, env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run; the CPU time is what a loaded machine does not inflate."""
    started, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                          check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return elapsed, _cpu() - cpu


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench cli", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs of each command (median taken)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        # Settings that point nowhere real: start-up must not depend on a configured installation.
        env = {**os.environ, "AUTOINFORM_CONFIG": str(Path(tmp) / "absent.toml"),
               "AUTOINFORM_VAR_DIR": tmp, "AUTOINFORM_LOG_LEVEL": "WARNING"}
        commands: dict[str, tuple[list[str], bytes | None]] = {
            "python -c pass": ([sys.executable, "-c", "pass"], None),
            "autoinform --help": ([*_script("autoinform"), "--help"], None),
            "autoinform say money 1234,56": ([*_script("autoinform"), "say", "money", "1234,56"], None),
            "ivr-agi selftest (caller hangs up)": ([*_script("ivr-agi"), "selftest"], AGI_ENV),
        }
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for cmd, stdin in commands.values():  # warm the page cache and .pyc files first
            _time_once(cmd, stdin, env)
        for _ in range(args.repeat):
            for name, (cmd, stdin) in commands.items():
                times[name].append(_time_once(cmd, stdin, env))

    base = statistics.median(w for w, _ in times["python -c pass"])
    base_cpu = statistics.median(c for _, c in times["python -c pass"])
    width = max(map(len, commands))
    print(f"median of {args.repeat} runs, interleaved; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs (wall-clock grows with load, CPU time much less)")
    print(f"{'command':<{width}}  wall s  over python  CPU s  over python")
    failed = False
    for name, values in times.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        mark = ""
        if name.startswith("autoinform"):
            ok = wall - base <= TARGET_S
            failed |= not ok
            mark = f"  target ≤ {TARGET_S:.1f} s over python (wall): {'met' if ok else 'MISSED'}"
        print(f"{name:<{width}}  {wall:6.3f}  {wall - base:+10.3f}  {cpu:5.3f}  {cpu - base_cpu:+10.3f}{mark}")
    return 1 if failed else 0
