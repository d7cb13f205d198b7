"""Loading shared/asterisk/transcripts/: byte-exact Asterisk 22 recordings, one read or write a line."""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from ivr import commands as cmds
from ivr.protocol import Command, quote, word
from tests.ivr.peer import command_name, split_args

TRANSCRIPTS = Path(__file__).resolve().parents[2].parent / "shared/asterisk/transcripts"
_LINE = re.compile(r"^\[\+(?P<t>\d+\.\d+)\] (?P<dir>A>S|S>A) (?P<data>b(?P<q>['\"]).*(?P=q))$")


@dataclass(frozen=True)
class Record:
    at: float
    direction: Literal["A>S", "S>A"]
    data: bytes


def agi_transcripts() -> list[Path]:
    """Every AGI recording (the ami_* ones hold nothing to replay here)."""
    if not TRANSCRIPTS.is_dir():
        return []
    return sorted(TRANSCRIPTS.glob("agi_*.txt"))


def require() -> None:
    if not agi_transcripts():
        pytest.skip(f"no AGI transcripts at {TRANSCRIPTS} (CI keeps shared/ beside the clone)")


def load(path: Path) -> list[Record]:
    records = []
    for line in path.read_text().splitlines():
        m = _LINE.match(line)
        if m:
            data = ast.literal_eval(m.group("data"))
            records.append(Record(float(m.group("t")), m.group("dir"), data))  # type: ignore[arg-type]
        elif line and not line.startswith(("#", "[")):
            raise ValueError(f"{path.name}: unreadable line {line!r}")
    return records


def params() -> list[object]:
    paths = agi_transcripts()
    if not paths:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no transcripts at {TRANSCRIPTS}"))]
    return [pytest.param(p, id=p.stem) for p in paths]


BUILDERS: dict[str, Callable[..., Command]] = {
    "ANSWER": lambda: cmds.answer(),
    "HANGUP": lambda: cmds.hangup(),
    "CHANNEL STATUS": lambda: cmds.channel_status(),
    "STREAM FILE": lambda f, d: cmds.stream_file(f, d),
    "GET DATA": lambda f, t, m: cmds.get_data(f, int(t), int(m)),
    "WAIT FOR DIGIT": lambda t: cmds.wait_for_digit(int(t)),
    "SAY NUMBER": lambda n, d: cmds.say_number(int(n), d),
    "SAY DIGITS": lambda s, d: cmds.say_digits(s, d),
    "SAY DATE": lambda e, d: cmds.say_date(int(e), d),
    "RECORD FILE": lambda p, f, d, t: cmds.record_file(p, f, d, int(t)),
    "SET VARIABLE": lambda n, v: cmds.set_variable(n, v),
    "GET VARIABLE": lambda n: cmds.get_variable(n),
    "GET FULL VARIABLE": lambda e: cmds.get_full_variable(e),
    "EXEC": lambda a, o: cmds.exec_(a, o),
    "VERBOSE": lambda m, level: cmds.verbose(m, int(level)),
}


def rebuild(wire: bytes) -> Command:
    """The recorded command, rebuilt with the project's builders (raw tokens for the deliberately
    invalid ones the probe sent: `BOGUS COMMAND here`, `answer`, `STREAM FILE` without arguments)."""
    line = wire.decode().removesuffix("\n")
    tokens = split_args(line)
    name, args = command_name([t for t, _ in tokens])
    if name is not None and line.startswith(name):
        with contextlib.suppress(TypeError, ValueError):
            return BUILDERS[name](*args)
    encoded = [quote(t) if q else word(t) for t, q in tokens]
    return Command.build(*encoded) if encoded else Command("", "")
