"""Crossing ingest benchmark: records/s through a real server, on SQLite and on PostgreSQL.

Run from the repository root with the project's virtualenv active:

    python bench/bench_ingest.py                    # 20,000 records in batches of 500, both databases
    python bench/bench_ingest.py --databases sqlite --records 5000
    python bench/bench_ingest.py --json             # the same figures as one JSON document
    python bench/bench_ingest.py --check            # exit 1 if a target is missed

For each database the script makes a fresh state (a temporary CHECKPASS_HOME; on PostgreSQL a scratch database
created next to the one in CHECKPASS_TEST_PG and dropped afterwards), registers a checkpoint, starts
`uvicorn server.main:create_app_from_env` on 127.0.0.1 with a random port (one worker, as `checkpass serve` does by
default), enrols devices over HTTP like `checkpoint enroll`, and uploads hash-chained records (10 % of them
ESCORT_REQUIRED, so escort requests are made too) in batches through `POST /api/v1/crossings`, one keep-alive HTTP
client per device. Then it sends every batch again (all `duplicate`) and checks that the database holds exactly one
row per record. Record generation and hashing happen before the clock starts.

Target (issue 3): ingest >= 1,000 records/s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import machine  # bench/machine.py: the script's own folder is on sys.path
from sqlalchemy import func, select

import server.models  # noqa: F401  (every table, for the migrations' metadata)
from passcore.chain import GENESIS, record_hash
from server import db
from server.accounts import service as accounts
from server.checkpoints import service as checkpoints
from server.config import get_settings
from server.crossings.models import Crossing, EscortRequest
from server.keyring import service as keyring
from server.policy import service as policy_service

TARGET_PG_RECORDS_PER_S = 1000.0
PG_ADMIN_URL = os.environ.get("CHECKPASS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
LIBRARIES = ("fastapi", "starlette", "uvicorn", "pydantic", "sqlalchemy", "sqlmodel", "psycopg", "httpx")
USCC = "91320583MA1XY71231"


def environment() -> dict[str, Any]:
    return machine.describe(LIBRARIES)


def make_records(count: int, start: datetime) -> list[dict[str, Any]]:
    """One device's hash-chained records, as the checkpoint client writes them."""
    records, previous = [], GENESIS
    for seq in range(1, count + 1):
        escort = seq % 10 == 0
        record = {
            "id": str(uuid.uuid4()),
            "seq": seq,
            "prev_hash": previous,
            "decided_at": (start + timedelta(seconds=seq)).isoformat(),
            "plate": "鄂A12345" if escort else "苏EA1234",
            "pass_id": secrets.token_hex(12),
            "enterprise": USCC,
            "outcome": "ESCORT_REQUIRED" if escort else "RELEASE",
            "reasons": ["PASS_VALID", "HARD_HIT_VEHICLE"] if escort else ["PASS_VALID"],
            "policy_version": 1,
            "bundle_version": 1,
            "occupants": [
                {
                    "role": "driver",
                    "name": "张伟",
                    "temperature_c": 36.5,
                    "origin": "320583",
                    "travel_history": [],
                },
                {
                    "role": "escort",
                    "name": "李娜",
                    "temperature_c": 36.7,
                    "origin": "320583",
                    "travel_history": ["320500"],
                },
            ],
            "vehicle_origin": "420100" if escort else "320583",
            "verification": "PASS_VALID",
            "checks": {"identity_confirmed": True, "licence_confirmed": True, "id_last4_matched": None},
        }
        record["hash"] = previous = record_hash(record)
        records.append(record)
    return records


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ScratchPostgres:
    """A new database next to the one in CHECKPASS_TEST_PG, dropped on exit."""

    def __enter__(self) -> str:
        import psycopg

        self.admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
        self.name = f"checkpass_bench_{uuid.uuid4().hex[:12]}"
        self.admin.execute(f'CREATE DATABASE "{self.name}"')
        return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{self.name}"

    def __exit__(self, *exc: object) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


def prepare(home: Path, database_url: str | None, devices: int) -> list[str]:
    """Schema, keys, policy, a checkpoint and one enrolment code per device."""
    settings = get_settings(home=home, database_url=database_url)
    engine = db.make_engine(settings)
    db.migrate(engine)
    now = datetime.now(UTC)
    with db.session_scope(engine) as session:
        keyring.ensure_keys(session=session, settings=settings, now=now)
        policy_service.ensure_default(session=session, now=now)
        admin = accounts.create_user(
            session=session, username="bench-admin", password=secrets.token_urlsafe(16), role="admin", now=now
        )
    with db.session_scope(engine) as session:
        checkpoint = checkpoints.register_checkpoint(
            session=session,
            name="基准测试卡口",
            region="320583",
            location="",
            latitude=None,
            longitude=None,
            now=now,
        )
        codes = [
            checkpoints.create_enrolment_code(
                session=session, checkpoint=checkpoint, user=admin, settings=settings, now=now
            )[0]
            for _ in range(devices)
        ]
    engine.dispose()
    return codes


def serve(home: Path, database_url: str | None, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CHECKPASS_HOME": str(home)}
    env.pop("CHECKPASS_DATABASE_URL", None)
    if database_url:
        env["CHECKPASS_DATABASE_URL"] = database_url
    command = [
        sys.executable, "-m", "uvicorn", "server.main:create_app_from_env", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the server did not start within 30 s")


def upload(client: httpx.Client, batches: list[list[dict[str, Any]]], expect: str) -> list[float]:
    """Send the batches in order; the seconds each took. Fails loudly on anything but ``expect``."""
    latencies = []
    for batch in batches:
        started = time.perf_counter()
        response = client.post("/api/v1/crossings", json={"records": batch})
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
        if response.json()[expect] != len(batch):
            raise RuntimeError(f"expected every record {expect}: {response.text[:300]}")
    return latencies


def run_one(name: str, database_url: str | None, records: int, batch: int, clients: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        home = Path(tmp)
        codes = prepare(home, database_url, clients)
        port = free_port()
        process = serve(home, database_url, port)
        try:
            base = f"http://127.0.0.1:{port}"
            sessions = []
            for number, code in enumerate(codes):
                enrolled = httpx.post(
                    f"{base}/api/v1/devices/enroll", json={"code": code, "name": f"bench {number}"}
                )
                enrolled.raise_for_status()
                token = enrolled.json()["token"]
                sessions.append(
                    httpx.Client(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=120)
                )
            share = records // clients
            start = datetime.now(UTC) - timedelta(days=1)
            work = [
                [chain[i : i + batch] for i in range(0, share, batch)]
                for chain in (make_records(share, start) for _ in sessions)
            ]
            figures: dict[str, Any] = {
                "database": name,
                "records": share * clients,
                "batch": batch,
                "clients": clients,
            }
            for phase, expect in (("first upload", "accepted"), ("replay", "duplicate")):
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=clients) as pool:
                    latencies = [
                        s for part in pool.map(upload, sessions, work, [expect] * clients) for s in part
                    ]
                elapsed = time.perf_counter() - started
                latencies.sort()
                figures[phase] = {
                    "seconds": round(elapsed, 3),
                    "records_per_s": round(share * clients / elapsed, 1),
                    "batch_ms_median": round(statistics.median(latencies) * 1000, 1),
                    "batch_ms_p95": round(latencies[max(int(len(latencies) * 0.95) - 1, 0)] * 1000, 1),
                }
            for client in sessions:
                client.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
        engine = db.make_engine(get_settings(home=home, database_url=database_url))
        with engine.connect() as connection:
            figures["rows"] = connection.execute(select(func.count()).select_from(Crossing)).scalar_one()
            figures["escort_requests"] = connection.execute(
                select(func.count()).select_from(EscortRequest)
            ).scalar_one()
        engine.dispose()
        if figures["rows"] != figures["records"]:
            raise RuntimeError(f"{name}: {figures['rows']} rows for {figures['records']} records")
        return figures


def report(result: dict[str, Any]) -> str:
    lines = [f"Crossing ingest: {result['runs'][0]['records']} records per database, batches of "
             f"{result['runs'][0]['batch']}, {result['runs'][0]['clients']} device(s), one uvicorn worker", ""]  # fmt: skip
    header = f"{'database':<11}{'phase':<14}{'records/s':>11}{'seconds':>9}{'batch ms p50':>14}{'p95':>8}"
    lines += [header, "-" * len(header)]
    for run in result["runs"]:
        for phase in ("first upload", "replay"):
            f = run[phase]
            lines.append(
                f"{run['database']:<11}{phase:<14}{f['records_per_s']:>11,.0f}{f['seconds']:>9.2f}"
                f"{f['batch_ms_median']:>14.1f}{f['batch_ms_p95']:>8.1f}"
            )
    lines.append("")
    for run in result["runs"]:
        lines.append(
            f"{run['database']}: {run['rows']} rows, {run['escort_requests']} escort requests after the replay"
        )
    for target in result["targets"]:
        lines.append(
            f"{'PASS' if target['ok'] else 'MISS'}  {target['name']}: {target['value']:,.0f} (target >= {target['target']:,.0f})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000, help="records per database (default 20000)")
    parser.add_argument(
        "--batch", type=int, default=500, help="records per request, at most 500 (default 500)"
    )
    parser.add_argument("--clients", type=int, default=1, help="devices uploading at once (default 1)")
    parser.add_argument("--databases", default="sqlite,postgres", help="sqlite, postgres or both (default)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= 500 or args.records < args.batch * args.clients or args.clients < 1:
        parser.error("need 1 <= --batch <= 500, --clients >= 1 and --records >= batch x clients")
    runs = []
    for name in args.databases.split(","):
        if name == "sqlite":
            runs.append(run_one("SQLite", None, args.records, args.batch, args.clients))
        elif name == "postgres":
            with ScratchPostgres() as url:
                runs.append(run_one("PostgreSQL", url, args.records, args.batch, args.clients))
        else:
            parser.error(f"unknown database {name!r}")
    targets = [
        {
            "name": "PostgreSQL first upload records/s",
            "value": run["first upload"]["records_per_s"],
            "target": TARGET_PG_RECORDS_PER_S,
            "ok": run["first upload"]["records_per_s"] >= TARGET_PG_RECORDS_PER_S,
        }
        for run in runs
        if run["database"] == "PostgreSQL"
    ]
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": environment(),
        "runs": runs,
        "targets": targets,
    }
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else report(result))
    return 1 if args.check and not all(t["ok"] for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
