"""Crossing ingest benchmark: records/s through a real server, on SQLite and on PostgreSQL.

Run from the repository root with the project's virtualenv active:

    python bench/bench_ingest.py                    # 20,000 records in batches of 500, both databases
    python bench/bench_ingest.py --databases sqlite --records 5000
    python bench/bench_ingest.py --json             # the same figures as one JSON document
    python bench/bench_ingest.py --check            # exit 1 if a target is missed

For each database the script makes a fresh state (a temporary CHECKPASS_HOME; on PostgreSQL a scratch database
created next to the one in CHECKPASS_TEST_PG and dropped afterwards), registers a checkpoint, starts
`uvicorn server.main:create_app_from_env` on 127.0.0.1 with a random port (one worker, as `checkpass serve` does by
default), enrols devices over HTTP like `checkpoint enroll`, and uploads hash-chained records in batches through
`POST /api/v1/crossings`, one keep-alive HTTP client per device. Then it sends every batch again (all `duplicate`)
and checks that the database holds exactly one row per record. Record generation and hashing happen before the
clock starts.

The records are what checkpoints upload: decisions made as a checkpoint makes them on passes the server issued
(100 per device, each seen at most once in 10 minutes), against the trust bundle the server signed, so the
server's audit replays every one and finds it matching. 10 % are Hubei vehicles (ESCORT_REQUIRED), whose escort
requests are made and, the records being hours old, raise an escort-wait alert each. `--unknown-passes` sends the
audit's worst case instead: every record names a pass never issued and a bundle never signed, so every one raises
a "decision differs" alert.

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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import machine  # bench/machine.py: the script's own folder is on sys.path
from sqlalchemy import func, select

import server.models  # noqa: F401  (every table, for the migrations' metadata)
from passcore import trust
from passcore.chain import GENESIS, record_hash
from server import db
from server.accounts import service as accounts
from server.alerts import rules
from server.alerts.models import Alert
from server.applications.schemas import parse_application
from server.bundles import service as bundles
from server.checkpoints import service as checkpoints
from server.config import get_settings
from server.crossings.models import Crossing, EscortRequest
from server.demo.crossings import decide_record
from server.keyring import service as keyring
from server.passes import service as passes
from server.policy import service as policy_service

TARGET_PG_RECORDS_PER_S = 1000.0
PG_ADMIN_URL = os.environ.get("CHECKPASS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
LIBRARIES = ("fastapi", "starlette", "uvicorn", "pydantic", "sqlalchemy", "sqlmodel", "psycopg", "httpx")
USCC = "91320583MA1XY71231"
HUBEI = "420000"


def environment() -> dict[str, Any]:
    return machine.describe(LIBRARIES)


def make_records(count: int, start: datetime) -> list[dict[str, Any]]:
    """The worst case: one device's hash-chained records naming passes and a bundle the server never made."""
    records = []
    for seq in range(1, count + 1):
        escort = seq % 10 == 0
        records.append(
            {
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
        )
    return chain(records)


def decided_records(count: int, start: datetime, fleet: Fleet) -> list[dict[str, Any]]:
    """One device's records as a checkpoint makes them, 10 s apart: every tenth vehicle from Hubei, the rest
    local, each group's passes in turn, so every pass is seen again 1,000 s later (90 local passes for 9 vehicles
    in 100 s, 10 Hubei passes for 1)."""
    records = []
    turns = {id(fleet.hubei): 0, id(fleet.local): 0}
    for seq in range(1, count + 1):
        group = fleet.hubei if seq % 10 == 0 else fleet.local
        text, plate, origin = group[turns[id(group)] % len(group)]
        turns[id(group)] += 1
        scenario = {
            "pass": text,
            "observed": {"plate": plate, "identity_confirmed": True, "licence_confirmed": True},
            "vehicle_origin": origin,
            "occupants": [{"role": "driver", "name": "张伟", "temperature_c": 36.5, "origin": origin}],
        }
        records.append(decide_record(scenario, fleet.bundle, start + timedelta(seconds=10 * seq)))
    return chain(records)


def chain(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give the records ids and link them into a device's hash chain, as the checkpoint's store does."""
    previous = GENESIS
    for seq, record in enumerate(records, start=1):
        record |= {"id": str(uuid.uuid4()), "seq": seq, "prev_hash": previous}
        record["hash"] = previous = record_hash(record)
    return records


@dataclass
class Fleet:
    """Passes the server issued for one device's traffic, and the bundle its checkpoint decides with."""

    bundle: trust.TrustBundle
    local: list[tuple[str, str, str]] = field(default_factory=list)  # (QR text, plate, vehicle origin)
    hubei: list[tuple[str, str, str]] = field(default_factory=list)


def application(number: int, hubei: bool, start: datetime) -> dict[str, Any]:
    driver = "420102198801017893" if hubei else "320583198503121234"
    return {
        "enterprise": {"name": "武汉长江物流有限公司", "uscc": "91420100MA4K00001U"}
        if hubei
        else {"name": "昆山精密机械有限公司", "uscc": USCC},
        # GA 36: new-energy plates (8 characters) are green, the 7-character ones here blue.
        "vehicle": {"plate": f"鄂A·D{number:05d}", "plate_colour": "green"}
        if hubei
        else {"plate": f"苏E·{number:05d}", "plate_colour": "blue"},
        "driver": {"name": "张伟", "id_number": driver, "licence_number": driver, "phone": "13800000000"},
        "escorts": [],
        "origin": "420100" if hubei else "320583",
        "destination": "320583",
        "travel_history": [],
        "cargo": "精密零部件",
        "valid_from": (start - timedelta(hours=1)).isoformat(),
        "valid_until": (start + timedelta(days=14)).isoformat(),
    }


def issue_fleets(
    session: Any, settings: Any, devices: int, start: datetime, now: datetime, per_device: int = 100
) -> list[Fleet]:
    """``per_device`` passes per device (a tenth from Hubei, the hard-hit area), issued at ``start``."""
    policy = policy_service.set_policy(
        session=session, changes={"hard_hit": [HUBEI]}, now=start - timedelta(hours=1), by="bench"
    )
    signer = keyring.active_issuer(session=session, settings=settings)
    texts: list[tuple[str, str, str]] = []
    for number in range(per_device * devices):
        hubei = number % 10 == 0
        issued = passes.issue(
            session=session,
            application=parse_application(application(number, hubei, start)),
            signer=signer,
            policy=policy,
            issuer_region=settings.issuer_region,
            now=start,
        )
        texts.append((issued.qr_text, issued.claims.plate, "420100" if hubei else "320583"))
    row = bundles.current(
        session=session,
        root=keyring.load_root(settings),
        validity=timedelta(days=settings.bundle_validity_days),
        now=now,
    )
    bundle = trust.load_bundle(bytes(row.signed), root=keyring.load_root(settings).public, now=None)
    fleets = [Fleet(bundle) for _ in range(devices)]
    for number, item in enumerate(texts):
        fleet = fleets[number // per_device]
        (fleet.hubei if number % 10 == 0 else fleet.local).append(item)
    return fleets


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


def prepare(
    home: Path,
    database_url: str | None,
    devices: int,
    *,
    start: datetime | None = None,
    issued: bool = False,
    passes: int = 100,
) -> tuple[list[str], list[Fleet]]:
    """Schema, keys, policy, a checkpoint and one enrolment code per device; with ``issued``, ``passes`` passes
    per device, issued at ``start`` (the first record's time)."""
    settings = get_settings(home=home, database_url=database_url)
    engine = db.make_engine(settings)
    db.migrate(engine)
    now = datetime.now(UTC)
    start = start or now
    # Keys and policy older than the records' first decision, as on a server that has been running a while.
    before = start - timedelta(days=1)
    with db.session_scope(engine) as session:
        keyring.ensure_keys(session=session, settings=settings, now=before)
        policy_service.ensure_default(session=session, now=before)
        admin = accounts.create_user(
            session=session, username="bench-admin", password=secrets.token_urlsafe(16), role="admin", now=now
        )
    fleets = []
    if issued:
        with db.session_scope(engine) as session:
            fleets = issue_fleets(session, settings, devices, start, now, passes)
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
    return codes, fleets


def serve(home: Path, database_url: str | None, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CHECKPASS_HOME": str(home)}
    env.pop("CHECKPASS_DATABASE_URL", None)
    if database_url:
        env["CHECKPASS_DATABASE_URL"] = database_url
    command = [
        sys.executable, "-m", "uvicorn", "server.main:create_app_from_env", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    return wait_healthy(subprocess.Popen(command, env=env), port)


def wait_healthy(process: subprocess.Popen[bytes], port: int, seconds: float = 30) -> subprocess.Popen[bytes]:
    """``process`` once the server it started answers /healthz on ``port``; stopped, and an error, if it never
    does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"the server did not start within {seconds:.0f} s")


def enrol(base: str, codes: list[str]) -> list[httpx.Client]:
    """Enrol one device per code over HTTP, like `checkpoint enroll`; a keep-alive client per device, with its
    token."""
    sessions = []
    for number, code in enumerate(codes):
        enrolled = httpx.post(f"{base}/api/v1/devices/enroll", json={"code": code, "name": f"bench {number}"})
        enrolled.raise_for_status()
        token = enrolled.json()["token"]
        sessions.append(
            httpx.Client(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=120)
        )
    return sessions


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


def run_one(
    name: str, database_url: str | None, records: int, batch: int, clients: int, issued: bool
) -> dict[str, Any]:
    share = records // clients
    # The records end an hour ago: a checkpoint catching up with a day or two of traffic.
    start = datetime.now(UTC) - timedelta(seconds=10 * share + 3600)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        home = Path(tmp)
        codes, fleets = prepare(home, database_url, clients, start=start, issued=issued)
        port = free_port()
        process = serve(home, database_url, port)
        try:
            base = f"http://127.0.0.1:{port}"
            sessions = enrol(base, codes)
            chains = (
                [decided_records(share, start, fleet) for fleet in fleets]
                if issued
                else [make_records(share, start) for _ in sessions]
            )
            work = [[records[i : i + batch] for i in range(0, share, batch)] for records in chains]
            figures: dict[str, Any] = {
                "database": name,
                "records": share * clients,
                "batch": batch,
                "clients": clients,
                "passes": "issued" if issued else "unknown",
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
            figures["alerts"] = dict(
                connection.execute(select(Alert.kind, func.count()).group_by(Alert.kind)).all()
            )
            figures["unaudited"] = connection.execute(
                select(func.count()).select_from(Crossing).where(Crossing.audited_at.is_(None))
            ).scalar_one()
        engine.dispose()
        if figures["rows"] != figures["records"]:
            raise RuntimeError(f"{name}: {figures['rows']} rows for {figures['records']} records")
        if figures["unaudited"]:
            raise RuntimeError(f"{name}: {figures['unaudited']} records were not audited during their upload")
        if issued and figures["alerts"].get(rules.DECISION_DIFFERS):
            raise RuntimeError(
                f"{name}: the audit's replay disagrees with decisions made as checkpoints make them"
            )
        return figures


def report(result: dict[str, Any]) -> str:
    first = result["runs"][0]
    lines = [f"Crossing ingest: {first['records']} records per database on {first['passes']} passes, batches of "
             f"{first['batch']}, {first['clients']} device(s), one uvicorn worker", ""]  # fmt: skip
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
        alerts = ", ".join(f"{count} {kind}" for kind, count in sorted(run["alerts"].items())) or "none"
        lines.append(
            f"{run['database']}: {run['rows']} rows, {run['escort_requests']} escort requests after the replay; "
            f"alerts: {alerts}"
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
    parser.add_argument(
        "--unknown-passes",
        action="store_true",
        help="the audit's worst case: records name passes and a bundle the server never made",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= 500 or args.records < args.batch * args.clients or args.clients < 1:
        parser.error("need 1 <= --batch <= 500, --clients >= 1 and --records >= batch x clients")
    runs, issued = [], not args.unknown_passes
    for name in args.databases.split(","):
        if name == "sqlite":
            runs.append(run_one("SQLite", None, args.records, args.batch, args.clients, issued))
        elif name == "postgres":
            with ScratchPostgres() as url:
                runs.append(run_one("PostgreSQL", url, args.records, args.batch, args.clients, issued))
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
