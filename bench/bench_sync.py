"""Checkpoint sync benchmark: records/s uploaded by `sync_once` from a real local store to a real server.

Run from the repository root with the project's virtualenv active:

    python bench/bench_sync.py                      # 10,000 decisions, both databases
    python bench/bench_sync.py --databases sqlite --records 2000
    python bench/bench_sync.py --json               # the same figures as one JSON document

For each database the script makes a fresh bureau (a temporary CHECKPASS_HOME; on PostgreSQL a scratch database
next to the one in CHECKPASS_TEST_PG, dropped afterwards) with a checkpoint, starts the server with one uvicorn
worker on 127.0.0.1 (bench_ingest.py's set-up), enrols a checkpoint laptop with `device.enrol` (root pinned, bundle
fetched), and records N decisions through `Store.record_decision` — each one its own fsync'd SQLite transaction,
timed, 10 % of them ESCORT_REQUIRED. Then the clock starts and one `sync_once` uploads the whole outbox in batches
of 500 and fetches the bundle and the escort requests, as `checkpoint sync` does; the time inside HTTP is measured
apart from the client's own work (reading the outbox, JSON, marking records synced). The server's rows are counted
afterwards: exactly one per decision.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import bench_ingest  # bench/: the server set-up (prepare, serve, ScratchPostgres, free_port)
import httpx
import machine
from sqlalchemy import func, select

from checkpoint_client import device, truststore
from checkpoint_client.config import get_settings
from checkpoint_client.store import Store
from checkpoint_client.sync import sync_once
from passcore import rules
from server import db
from server.config import get_settings as server_settings
from server.crossings.models import Crossing

LIBRARIES = ("httpx", "fastapi", "uvicorn", "sqlalchemy", "psycopg")
CHECKS = {"identity_confirmed": True, "licence_confirmed": True, "id_last4_matched": None}


class TimedTransport(httpx.HTTPTransport):
    """Adds up the seconds spent in HTTP (request out, answer read) per path."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: dict[str, float] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        response.read()
        self.seconds[request.url.path] = (
            self.seconds.get(request.url.path, 0.0) + time.perf_counter() - started
        )
        return response


def decisions(count: int, policy_version: int, bundle_version: int) -> list[rules.Decision]:
    start = datetime.now(UTC) - timedelta(hours=2)
    made = []
    for n in range(count):
        escort = n % 10 == 0
        made.append(
            rules.Decision(
                outcome="ESCORT_REQUIRED" if escort else "RELEASE",
                reasons=("PASS_VALID", "HARD_HIT_VEHICLE") if escort else ("PASS_VALID",),
                policy_version=policy_version,
                bundle_version=bundle_version,
                decided_at=start + timedelta(milliseconds=n * 500),
                pass_id=secrets.token_hex(12),
                plate="鄂A12345" if escort else "苏EA1234",
                enterprise=bench_ingest.USCC,
            )
        )
    return made


CREW = (
    rules.Occupant("driver", "张伟", Decimal("36.5"), "320583"),
    rules.Occupant("escort", "李娜", Decimal("36.7"), "320583", ("320500",)),
)


def run_one(name: str, database_url: str | None, records: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        home = Path(tmp)
        codes, _ = bench_ingest.prepare(home / "bureau", database_url, 1)
        port = bench_ingest.free_port()
        process = bench_ingest.serve(home / "bureau", database_url, port)
        try:
            settings = get_settings(home=home / "checkpoint")
            enrolled = device.enrol(
                settings,
                server=f"http://127.0.0.1:{port}",
                code=codes[0],
                name="bench",
                now=datetime.now(UTC),
            )
            bundle = truststore.held_bundle(settings, now=datetime.now(UTC))
            store = Store.open(settings.store_path)
            writes = []
            for decision in decisions(records, bundle.policy.version, bundle.version):
                started = time.perf_counter()
                origin = "420100" if decision.outcome == "ESCORT_REQUIRED" else "320583"
                store.record_decision(
                    decision, occupants=CREW, verification="PASS_VALID", checks=CHECKS, vehicle_origin=origin
                )
                writes.append(time.perf_counter() - started)
            transport = TimedTransport()
            with httpx.Client(transport=transport) as client:
                started = time.perf_counter()
                report = sync_once(settings, store, client=client)
                elapsed = time.perf_counter() - started
            upload_http = transport.seconds.get("/api/v1/crossings", 0.0)
            store.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
        engine = db.make_engine(server_settings(home=home / "bureau", database_url=database_url))
        with engine.connect() as connection:
            rows = connection.execute(
                select(func.count())
                .select_from(Crossing)
                .where(Crossing.device_id == enrolled.device.device_id)
            ).scalar_one()
        engine.dispose()
    if rows != records or report.uploaded != records or report.pending:
        raise RuntimeError(f"{name}: {rows} rows, {report.uploaded} uploaded for {records} decisions")
    writes.sort()
    return {
        "database": name,
        "records": records,
        "batches": report.batches,
        "sync_seconds": round(elapsed, 3),
        "records_per_s": round(records / elapsed, 1),
        "upload_http_seconds": round(upload_http, 3),
        "client_seconds": round(elapsed - sum(transport.seconds.values()), 3),
        "escort_requests_received": report.escorts_received,
        "store_write_ms_median": round(statistics.median(writes) * 1000, 2),
        "store_write_ms_p95": round(writes[max(int(len(writes) * 0.95) - 1, 0)] * 1000, 2),
        "rows": rows,
    }


def report(result: dict[str, Any]) -> str:
    first = result["runs"][0]
    lines = [
        f"Checkpoint sync: {first['records']} decisions per database, batches of 500, one uvicorn worker",
        "",
    ]
    header = f"{'database':<12}{'records/s':>10}{'seconds':>9}{'in HTTP':>9}{'client':>8}{'write ms p50':>14}{'p95':>7}"
    lines += [header, "-" * len(header)]
    for run in result["runs"]:
        lines.append(
            f"{run['database']:<12}{run['records_per_s']:>10,.0f}{run['sync_seconds']:>9.2f}"
            f"{run['upload_http_seconds']:>9.2f}{run['client_seconds']:>8.2f}"
            f"{run['store_write_ms_median']:>14.2f}{run['store_write_ms_p95']:>7.2f}"
        )
    lines.append("")
    lines += [
        f"{run['database']}: {run['rows']} rows on the server, {run['batches']} batches"
        for run in result["runs"]
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="decisions per database (default 10000)")
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite, postgres or both (default)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.records < 1:
        parser.error("--records must be at least 1")
    runs = []
    for name in args.databases.split(","):
        if name == "sqlite":
            runs.append(run_one("SQLite", None, args.records))
        elif name == "postgres":
            with bench_ingest.ScratchPostgres() as url:
                runs.append(run_one("PostgreSQL", url, args.records))
        else:
            parser.error(f"unknown database {name!r}")
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": machine.describe(LIBRARIES),
        "runs": runs,
    }
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
