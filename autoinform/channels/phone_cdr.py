"""What Asterisk's CDR says about a call whose end the engine never saw (issue 10 item 2; AI-2, AI-14).

The source is cdr_csv's Master.csv, which every Asterisk builds and loads by default and which
outlives an AMI outage and an Asterisk restart (the `Cdr` events of cdr_manager do not: those sent
while the link is down are lost, which is the very case this is for). The server's cdr.conf must
log unanswered and congested calls and the Uniqueid column (docs/phone.md, "The CDR"); the engine
reads the file where `phone.servers[].cdr_csv` says (on the Asterisk host, or a read-only mount).
Parsing is separate from reading the file; a call is found by its Uniqueid (`ai-<attempt>-<run>`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from autoinform.models import Outcome

# cdr_csv's columns (Asterisk 22, loguniqueid = yes, loguserfield = yes).
COLUMNS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
           "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield")
_UNIQUEID = COLUMNS.index("uniqueid")
# How much of the file's end is read: the calls asked about are recent, and Master.csv only grows.
TAIL_BYTES = 8 << 20

# A call the CDR says was never answered: the customer was not reached (retried as the send would
# have been). An answered one is decided by the flow's report, or `no_report` when none came.
_NOT_ANSWERED: dict[str, tuple[str, bool]] = {
    "BUSY": ("busy", True),
    "NO ANSWER": ("no_answer", True),
    "CONGESTION": ("temporary_failure", True),
    # No channel could be made (a stopping server as often as a bad route): retried, not final.
    "FAILED": ("temporary_failure", True),
}


@dataclass(frozen=True)
class CdrRecord:
    uniqueid: str
    disposition: str
    start: str
    answer: str
    end: str
    billsec: int

    @property
    def answered(self) -> bool:
        return self.disposition == "ANSWERED"

    def outcome(self) -> tuple[Outcome, str, bool] | None:
        """(outcome, reason, retry) of a call never answered; None for an answered one."""
        found = _NOT_ANSWERED.get(self.disposition)
        return (Outcome.NEGATIVE, *found) if found is not None else None

    def evidence(self) -> dict[str, object]:
        return {"uniqueid": self.uniqueid, "disposition": self.disposition, "start": self.start,
                "answer": self.answer, "end": self.end, "billsec": self.billsec}


def parse(text: str) -> list[CdrRecord]:
    """Master.csv rows in file order; a row too short to hold the Uniqueid (a file without it, or a
    line cut at the tail's start) is skipped."""
    records = []
    for row in csv.reader(io.StringIO(text)):
        if len(row) <= _UNIQUEID:
            continue
        fields = dict(zip(COLUMNS, row, strict=False))
        billsec = fields["billsec"].strip()
        records.append(CdrRecord(fields["uniqueid"], fields["disposition"], fields["start"], fields["answer"],
                                 fields["end"], int(billsec) if billsec.isdigit() else 0))
    return records


def pick(records: list[CdrRecord], *, uniqueid: str | None = None, prefix: str | None = None) -> CdrRecord | None:
    """The last record of the call's own leg: Uniqueid equal to `uniqueid`, or starting with
    `prefix` (an earlier engine run's call, whose run token is not known); a Local channel's
    second leg (`;2`) is never the call's."""
    for record in reversed(records):
        uid = record.uniqueid
        if ";" in uid:
            continue
        if (uniqueid is not None and uid == uniqueid) or (prefix is not None and uid.startswith(prefix)):
            return record
    return None


def read_tail(path: Path, tail_bytes: int = TAIL_BYTES) -> str:
    """The file's last `tail_bytes`, from a line start; empty if there is no file (yet)."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, io.SEEK_END)
            start = max(0, size - tail_bytes)
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return ""
    if start:
        data = data[data.find(b"\n") + 1:]
    return data.decode("utf-8", errors="replace")


def lookup(path: Path, *, uniqueid: str | None = None, prefix: str | None = None) -> CdrRecord | None:
    return pick(parse(read_tail(path)), uniqueid=uniqueid, prefix=prefix)
