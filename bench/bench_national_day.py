"""A national day on partitions (issue 15): on gen_national_day.py's database, the audit's crossings list (first
page, a filtered page, a deep keyset page), the dashboard for that day, and the retention purge of the day's
partition (anonymised into a copy that replaces it, server/crossings/partitions.py).

    python bench/gen_national_day.py --crossings 1000000
    python bench/bench_national_day.py [--repeat 5] [--json] [--no-purge]

The purge changes the data (the day's bodies are anonymised): it runs last, once, and a second run of this script
measures the lists on purged rows. Record figures only from a quiet machine (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import machine  # bench/machine.py: the script's own folder is on sys.path
from bench_audit import timed
from sqlalchemy import text
from sqlmodel import Session, col, func, select

from server.audit import queries, stats
from server.audit.filters import CrossingFilter
from server.config import get_settings
from server.crossings import partitions
from server.crossings.models import Crossing
from server.db import make_engine
from server.policy import service as policy_service
from server.retention import service as retention

PG_ADMIN_URL = os.environ.get("CHECKPASS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ZONE = "Asia/Shanghai"
LIBRARIES = ("sqlalchemy", "sqlmodel", "psycopg")


def run(args: argparse.Namespace) -> dict[str, Any]:
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{args.database}".replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    engine = make_engine(get_settings(home=tempfile.mkdtemp(), database_url=url))
    day_end = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), UTC)
    day = day_end - timedelta(days=1)
    results: dict[str, Any] = {"machine": machine.describe(LIBRARIES), "lists": {}, "dashboard": {}}
    with Session(engine) as session:
        rows = session.exec(select(func.count()).select_from(Crossing)).one()
        results["crossings"] = rows
        with engine.connect() as connection:
            results["partitions"] = [p.to_dict() for p in partitions.listing(connection)]
            results["day_partition_size"] = connection.execute(
                text("SELECT pg_size_pretty(pg_total_relation_size(:t))"),
                {"t": partitions.name_of(day.date())},
            ).scalar_one()
        middle = session.exec(
            select(Crossing.decided_at, Crossing.id)
            .order_by(col(Crossing.decided_at).desc(), col(Crossing.id).desc())
            .offset(rows // 2)
            .limit(1)
        ).one()
        half = queries.Cursor(middle[0], middle[1])
        lists = {
            "first page": lambda: queries.page(session, CrossingFilter()),
            "filtered: one checkpoint, first page": lambda: queries.page(
                session, CrossingFilter(checkpoint_id=7)
            ),
            "filtered: refused, first page": lambda: queries.page(session, CrossingFilter(outcome="REFUSE")),
            "deep keyset page (half-way)": lambda: queries.page(session, CrossingFilter(), after=half),
        }
        for name, query in lists.items():
            results["lists"][name] = timed(query, args.repeat)
        span = stats.Span(day, day_end, ZONE)
        for name, board in (
            ("totals", lambda: stats.totals(session, span, 60, day_end)),
            ("per hour per checkpoint", lambda: stats.per_hour_by_checkpoint(session, span)),
            ("outcomes over time", lambda: stats.outcomes_over_time(session, span)),
            ("fever per day", lambda: stats.fever_by_day(session, span)),
            ("escort waits", lambda: stats.escort_waits(session, span, day_end)),
            ("top enterprises", lambda: stats.top_enterprises(session, span)),
            ("daily summary", lambda: stats.daily_summary(session, span, 60, day_end)),
        ):
            results["dashboard"][name] = timed(board, args.repeat)
    if args.purge:
        # The day is past the retention period: cutoff = the day's end, so its whole partition is old.
        with Session(engine, expire_on_commit=False) as session:
            days = policy_service.current(session).retention_days
            began = time.perf_counter()
            report = retention.purge(session=session, now=day_end + timedelta(days=days))
            seconds = time.perf_counter() - began
        results["purge"] = {
            "seconds": round(seconds, 1),
            "partitions": report.partitions,
            "crossings": report.crossings,
            "crossings_per_s": round(report.crossings / seconds) if seconds else None,
            "reclaimed": report.reclaimed,
        }
    engine.dispose()
    return results


def show(results: dict[str, Any]) -> None:
    print(f"{results['crossings']:,} crossings; the day's partition {results['day_partition_size']}")
    for name, figures in results["lists"].items():
        print(f"  list  {name:40} median {figures['median_ms']:8.1f} ms  max {figures['max_ms']:8.1f} ms")
    for name, figures in results["dashboard"].items():
        print(f"  board {name:40} median {figures['median_ms']:8.1f} ms  max {figures['max_ms']:8.1f} ms")
    if "purge" in results:
        purge = results["purge"]
        print(f"  purge {purge['crossings']:,} crossings in {purge['seconds']} s ({purge['partitions']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", default="checkpass_bench_national")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-purge", dest="purge", action="store_false")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.database.startswith("checkpass_bench"):
        parser.error("the benchmark database's name must start with checkpass_bench")
    results = run(args)
    print(
        json.dumps(results, ensure_ascii=False, indent=2, default=str) if args.json else show(results) or ""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
