"""List import throughput on SQLite and PostgreSQL against a bare bulk insert (issue 2, "Tests and figures").

    python -m bench import_lists [--rows 1000000] [--backends sqlite,postgres] [--pg-url URL]

One generated CSV (CP1251, `;`, 5% bad rows, 1% repeated accounts) per run. For each backend, in
fresh databases and each in its own subprocess (so that ru_maxrss is that job's peak memory):
  baseline  the same rows, parsed and normalised before the timer, stored with a bare bulk insert:
            SQLAlchemy Core executemany on SQLite, psycopg COPY on PostgreSQL (customers, contact
            points, list rows, rejections, with ids assigned up front)
  import    `import_list` on the file: read, detect, normalise, validate, merge, upsert, store
Printed: rows/s, seconds, the import/baseline ratio (target ≤ 3×), and peak RSS of each subprocess
(VmHWM; ru_maxrss where /proc is missing) against the target of 500 MB.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from autoinform.config import Settings
from autoinform.importing.headers import map_headers
from autoinform.importing.importer import (
    DUPLICATE_WARNING,
    contacts_t,
    customers_t,
    import_list,
    lists_t,
    rejections_t,
    rows_t,
)
from autoinform.importing.normalise import CustomerRow, Issue, RowNormaliser
from autoinform.importing.reader import BadRecord, open_table
from autoinform.importing.store import BulkWriter
from autoinform.runtime import open_runtime
from autoinform.sample import SampleSpec, write_csv

BATCH = 5000
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
Batch = dict[str, list[dict[str, Any]]]


# --- pre-normalisation for the baseline (not timed) ---------------------------------------------


def prenormalise(csv_path: Path, out: Path) -> tuple[int, float]:
    """Write the rows import_list would store, batch by batch, as pickles; returns (rows, seconds)."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    ids: dict[str, int] = {}
    rows = 0
    with open_table(csv_path) as table, out.open("wb") as f:
        normalise = RowNormaliser(map_headers(str(csv_path), table.header), table.encoding)
        batch: Batch = {"customers": [], "contacts": [], "list_rows": [], "rejections": []}
        seen_contacts: set[tuple[int, str, str]] = set()
        for record in table.records():
            rows += 1
            row = normalise(record) if not isinstance(record, BadRecord) else None
            if not isinstance(row, CustomerRow):
                issues = row.issues if row is not None else [Issue("", "unreadable record")]
                for issue in issues:
                    batch["rejections"].append({"list_id": 1, "row_number": record.number,
                                                "column": issue.column, "kind": "rejected",
                                                "reason": issue.reason, "raw": ""})
            else:
                cid = ids.get(row.account)
                if cid is None:
                    cid = ids[row.account] = len(ids) + 1
                    batch["customers"].append({
                        "id": cid, "account": row.account, "name": row.name, "group": row.group,
                        "division_id": None, "address": row.address, "created_at": now, "updated_at": now})
                    batch["list_rows"].append({"list_id": 1, "customer_id": cid, "row_number": row.number,
                                               "variables": row.variables})
                else:
                    batch["rejections"].append({"list_id": 1, "row_number": row.number, "column": "",
                                                "kind": "warning", "reason": DUPLICATE_WARNING, "raw": ""})
                for c in row.contacts:
                    key = (cid, c.channel.value, c.value)
                    if key not in seen_contacts:
                        seen_contacts.add(key)
                        batch["contacts"].append({
                            "customer_id": cid, "channel": c.channel.value, "value": c.value,
                            "line_type": c.line_type.value, "source": c.source.value,
                            "source_ref": f"{csv_path.name}:row {row.number}", "consent": True,
                            "opted_out_at": None, "created_at": now})
            if rows % BATCH == 0:
                pickle.dump(batch, f, protocol=pickle.HIGHEST_PROTOCOL)
                batch = {"customers": [], "contacts": [], "list_rows": [], "rejections": []}
        pickle.dump(batch, f, protocol=pickle.HIGHEST_PROTOCOL)
    return rows, time.perf_counter() - started


def _batches(path: Path) -> Iterator[Batch]:
    with path.open("rb") as f:
        while True:
            try:
                yield pickle.load(f)
            except EOFError:
                return


# --- children: one job each, so that ru_maxrss is that job's peak ----------------------------------


def child_baseline(url: str, data: Path) -> dict[str, float]:
    rt = open_runtime(Settings(database_url=url, var_dir=data.parent / "var"))
    with rt.engine.begin() as conn:
        conn.execute(insert(lists_t).values(id=1, name="baseline", source_file="", sha256="", created_by="",
                                            created_at=datetime.now(UTC), rows_read=0, rows_imported=0,
                                            rows_merged=0, rows_rejected=0, complete=False))
    started = time.perf_counter()
    for batch in _batches(data):
        with rt.engine.begin() as conn:
            w = BulkWriter(conn)
            w.insert(customers_t, batch["customers"])
            w.insert(contacts_t, batch["contacts"])
            w.insert(rows_t, batch["list_rows"])
            w.insert(rejections_t, batch["rejections"])
    seconds = time.perf_counter() - started
    rt.close()
    return {"seconds": seconds}


def child_import(url: str, csv_path: Path) -> dict[str, float]:
    rt = open_runtime(Settings(database_url=url, var_dir=csv_path.parent / "var"))
    started = time.perf_counter()
    report = import_list(rt, csv_path, "bench")
    seconds = time.perf_counter() - started
    rt.close()
    assert report.balanced and report.complete
    return {"seconds": seconds, "imported": report.imported, "merged": report.merged,
            "rejected": report.rejected}


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux carries ru_maxrss across fork+exec, so a child of a big parent
    would report the parent's size: VmHWM belongs to the child's own address space."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_child(job: str, url: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "bench.import_lists", "--child", job, "--url", url,
                          "--path", str(path)], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --- databases -----------------------------------------------------------------------------------


class _FreshPostgres:
    def __init__(self, admin_url: str) -> None:
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.name = f"autoinform_bench_{uuid.uuid4().hex[:10]}"
        self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)

    def __enter__(self) -> str:
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.url

    def __exit__(self, *exc: object) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def _measure(backend: str, job: str, path: Path, work: Path, pg_url: str) -> dict[str, float]:
    if backend == "sqlite":
        db = work / f"{job}-{uuid.uuid4().hex[:6]}.db"
        try:
            return _run_child(job, f"sqlite:///{db}", path)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    with _FreshPostgres(pg_url) as url:
        return _run_child(job, url, path)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench import_lists", description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--pg-url", default=DEFAULT_PG)
    ap.add_argument("--child", choices=("baseline", "import"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        fn = child_baseline if args.child == "baseline" else child_import
        result = fn(args.url, args.path)
        result["max_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return 0

    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        work = Path(tmp)
        csv_path = work / "list.csv"
        t0 = time.perf_counter()
        n = write_csv(csv_path, SampleSpec(rows=args.rows, seed=1, bad_share=0.05, duplicate_share=0.01))
        size_mb = csv_path.stat().st_size / 2**20
        print(f"generated {n:,} rows ({size_mb:.0f} MB, CP1251) in {time.perf_counter() - t0:.1f} s")
        data = work / "normalised.pickle"
        rows, norm_s = prenormalise(csv_path, data)
        print(f"read + normalise alone (no database): {rows / norm_s:,.0f} rows/s")
        print(f"{'backend':<10} {'job':<9} {'seconds':>8} {'rows/s':>10} {'ratio':>6} {'peak MB':>8}")
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            base = _measure(backend, "baseline", data, work, args.pg_url)
            imp = _measure(backend, "import", csv_path, work, args.pg_url)
            bare = "Core executemany" if backend == "sqlite" else "COPY"
            print(f"{backend:<10} {'baseline':<9} {base['seconds']:>8.1f} {rows / base['seconds']:>10,.0f} "
                  f"{1.0:>5.2f}x {base['max_rss_mb']:>8.0f}   bare {bare} of pre-normalised rows")
            ratio = imp["seconds"] / base["seconds"]
            print(f"{backend:<10} {'import':<9} {imp['seconds']:>8.1f} {rows / imp['seconds']:>10,.0f} "
                  f"{ratio:>5.2f}x {imp['max_rss_mb']:>8.0f}   imported {imp['imported']:,.0f}, "
                  f"merged {imp['merged']:,.0f}, rejected {imp['rejected']:,.0f}; "
                  f"target ≤ 3x: {'met' if ratio <= 3 else 'MISSED'}; "
                  f"< 500 MB: {'met' if imp['max_rss_mb'] < 500 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
