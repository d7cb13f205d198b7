"""Loading shared/asterisk/transcripts/: byte-exact Asterisk 22 recordings, one read or write a line."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

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
