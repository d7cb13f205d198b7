"""Report files for a large campaign against a plain SELECT count, time and peak memory (issue 12 item 4).

    python -m bench reports [--rows 100000] [--backends sqlite,postgres] [--formats csv,xlsx,pdf] [--pg-url URL]

One seeded campaign of ROWS customers (deliveries ended on three channels, 15 divisions, four groups,
1.5 attempts each on average) per backend. Each job runs in its own subprocess, so its peak RSS
(VmHWM) is its own; every child imports the same libraries first, so the difference between a job's
peak and the baseline's is what the job's data costs:
  count   SELECT count(*) of the campaign's deliveries: the baseline
  list    the customers' results query fetched whole into a Python list (what streaming avoids)
  csv / xlsx / pdf   write_report to a file, as `autoinform report campaign` does
Printed: seconds, the ratio to the baseline, peak RSS and its excess over the baseline's.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bench.import_lists import DEFAULT_PG, _FreshPostgres, peak_rss_mb

BATCH = 10_000
START = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def seed(url: str, rows: int, work: Path) -> int:
    """A completed campaign of `rows` customers, written with Core executemany; returns its id."""
    from autoinform import db
    from autoinform.config import Settings
    from autoinform.models import (
        Attempt,
        Campaign,
        CampaignState,
        Channel,
        ContactList,
        Customer,
        Delivery,
        DeliveryState,
        Division,
        ListRow,
        Outcome,
        Role,
        ScenarioVersion,
    )
    from autoinform.runtime import open_runtime
    from autoinform.users import add_user

    rng = random.Random(1)
    rt = open_runtime(Settings(database_url=url, var_dir=work / "var"))
    try:
        with db.transaction(rt.sessions) as s:
            add_user(s, "boss", Role.MANAGER)
            divisions = list(s.scalars(select(Division.id)))
            lst = ContactList(name="bench", complete=True, rows_read=rows, rows_imported=rows)
            sv = ScenarioVersion(name="debt", version=1, sha256="bench", source="name: debt")
            s.add_all([lst, sv])
            s.flush()
            camp = Campaign(name="Большая кампания", scenario_id=sv.id, list_id=lst.id,
                            channels=["phone", "sms", "email"], start_at=START, end_at=START + timedelta(days=5),
                            state=CampaignState.COMPLETED, created_by="spec", approved_by="boss")
            s.add(camp)
            s.flush()
            cid, lid = camp.id, lst.id
        channels = list(Channel)
        reasons = {Outcome.POSITIVE: ["answered", "delivered", "accepted"],
                   Outcome.NEGATIVE: ["no_answer", "undelivered", "bounced", "busy"]}
        attempt_id = 0
        for first in range(0, rows, BATCH):
            ids = range(first + 1, min(first + BATCH, rows) + 1)
            customers, list_rows, deliveries, attempts = [], [], [], []
            for i in ids:
                customers.append({"id": i, "account": f"{i:012d}", "name": f"Иванов Иван Иванович {i}",
                                  "group": rng.randint(1, 4), "division_id": rng.choice(divisions)})
                list_rows.append({"id": i, "list_id": lid, "customer_id": i, "row_number": i, "variables": {}})
                ch = rng.choice(channels)
                outcome = Outcome.POSITIVE if rng.random() < 0.7 else Outcome.NEGATIVE
                at = START + timedelta(minutes=rng.randrange(5 * 24 * 60))
                tries = rng.choice((1, 1, 2))
                deliveries.append({"id": i, "campaign_id": cid, "customer_id": i, "list_row_id": i, "channel": ch,
                                   "state": DeliveryState.DONE, "next_attempt_at": at, "attempts": tries,
                                   "outcome": outcome, "reason": rng.choice(reasons[outcome]),
                                   "finished_at": at + timedelta(hours=tries)})
                for k in range(tries):
                    attempt_id += 1
                    last = k == tries - 1
                    attempts.append({"id": attempt_id, "delivery_id": i, "channel": ch,
                                     "destination": f"client{i}@mail.example.ru" if ch is Channel.EMAIL
                                     else f"+7927{i:07d}", "started_at": at + timedelta(hours=k),
                                     "outcome": outcome if last else Outcome.NEGATIVE,
                                     "reason": deliveries[-1]["reason"] if last else "busy", "detail": {}})
            with db.transaction(rt.sessions) as s:
                for model, batch in ((Customer, customers), (ListRow, list_rows), (Delivery, deliveries),
                                     (Attempt, attempts)):
                    s.execute(insert(model), batch)
        if rt.engine.dialect.name == "postgresql":
            with rt.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        return cid
    finally:
        rt.close()


def child(job: str, url: str, campaign_id: int, out: Path) -> dict[str, Any]:
    # The same libraries in every child, so peaks differ by the job's data, not by code loaded.
    import matplotlib.backends.backend_agg
    import matplotlib.backends.backend_pdf
    import matplotlib.figure  # noqa: F401
    import openpyxl  # noqa: F401

    from autoinform import db
    from autoinform.models import Delivery
    from autoinform.report_files.render import write_report
    from autoinform.report_files.scope import ReportSpec
    from autoinform.reports import result_rows

    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    spec = ReportSpec(campaign_id=campaign_id, actor="boss", personal=True)
    result: dict[str, Any] = {}
    t0 = time.perf_counter()
    with db.transaction(sessions) as s:
        if job == "count":
            result["rows"] = s.scalar(select(func.count()).select_from(Delivery)
                                      .where(Delivery.campaign_id == campaign_id))
        elif job == "list":
            result["rows"] = len(list(result_rows(s, spec)))
        else:
            with out.open("wb") as f:
                result["rows"] = write_report(s, spec, job, f)
            result["file_mb"] = out.stat().st_size / 2**20
        if job not in ("count", "list"):
            s.rollback()  # keep the audit log of the bench database clean between jobs
    result["seconds"] = time.perf_counter() - t0
    engine.dispose()
    return result


def _run_child(job: str, url: str, campaign_id: int, work: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.reports", "--child", job, "--url", url,
                          "--campaign", str(campaign_id), "--out", str(work / f"report.{job}")],
                         check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _bench(backend: str, url: str, rows: int, formats: list[str], work: Path) -> None:
    t0 = time.perf_counter()
    cid = seed(url, rows, work)
    print(f"{backend}: seeded {rows:,} deliveries in {time.perf_counter() - t0:.1f} s")
    base = _run_child("count", url, cid, work)
    for job in ["count", "list", *formats]:
        r = base if job == "count" else _run_child(job, url, cid, work)
        extra = f"  file {r['file_mb']:.1f} MB" if "file_mb" in r else ""
        print(f"{backend:<10} {job:<6} {r['seconds']:>8.2f} {r['seconds'] / base['seconds']:>8.1f}x "
              f"{r['max_rss_mb']:>8.0f} {r['max_rss_mb'] - base['max_rss_mb']:>+8.0f}   rows {r['rows']:,}{extra}")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench reports", description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--formats", default="csv,xlsx,pdf")
    ap.add_argument("--pg-url", default=DEFAULT_PG)
    ap.add_argument("--child", choices=("count", "list", "csv", "xlsx", "pdf"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--campaign", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        result = child(args.child, args.url, args.campaign, args.out)
        result["max_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return 0

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    print(f"{'backend':<10} {'job':<6} {'seconds':>8} {'ratio':>9} {'peak MB':>8} {'vs base':>8}")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        with tempfile.TemporaryDirectory(prefix="bench_reports_") as tmp:
            work = Path(tmp)
            if backend == "sqlite":
                _bench(backend, f"sqlite:///{work / f'r-{uuid.uuid4().hex[:6]}.db'}", args.rows, formats, work)
            else:
                with _FreshPostgres(args.pg_url) as url:
                    _bench(backend, url, args.rows, formats, work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
