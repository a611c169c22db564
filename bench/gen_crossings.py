"""Generate N crossings (default 1,000,000) in a PostgreSQL database of their own, for the audit benchmark.

Run from the repository root with the project's virtualenv active:

    python bench/gen_crossings.py                         # 1,000,000 crossings into checkpass_bench_audit
    python bench/gen_crossings.py --count 100000 --days 7
    python bench/gen_crossings.py --drop                  # only drop the benchmark database

The database is created next to the one in CHECKPASS_TEST_PG (dropped first if it exists; never the tests'
database), migrated with the project's migrations, and filled like a month of a busy city: 20 checkpoints with 3
devices each, 2,000 enterprises of very different sizes, 30,000 vehicles with a pass each (5 % of crossings
without one), a daily rhythm (few crossings at night), outcomes of about 85 % released, 8 % escorted, 5 % refused,
2 % held for fever. Every device's records are hash-chained exactly as a checkpoint writes them (canonical JSON,
SHA-256), with escort requests for the escorted ones (answered, and mostly handed over within the limit) and a few
conflicting re-uploads. Rows go in with COPY, the crossing table's secondary indexes being built once afterwards,
and the dashboard's roll-ups (which ingest keeps, and COPY goes past) are counted once at the end.
The generator is bounded (--count at most 5,000,000) and seeded, so two runs make the same data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from stdnum.cn import uscc

import server.models  # noqa: F401  (every table, for the migrations' metadata)
from passcore.chain import GENESIS, canonical
from server import db
from server.audit import rollup
from server.config import get_settings
from server.crossings import partitions
from server.policy import service as policy_service

PG_ADMIN_URL = os.environ.get("CHECKPASS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
DATABASE = "checkpass_bench_audit"
MAX_COUNT = 5_000_000
PROVINCES = "苏浙沪皖鄂湘赣豫鲁粤"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
SURNAMES, GIVEN = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗", "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"
OUTCOMES = (("RELEASE", 0.85), ("ESCORT_REQUIRED", 0.08), ("REFUSE", 0.05), ("MEDICAL_HOLD", 0.02))
REFUSALS = (
    ["PASS_SIGNATURE_INVALID"],
    ["PASS_REVOKED"],
    ["PASS_VALID", "PLATE_MISMATCH"],
    ["NO_PASS", "PASS_REQUIRED"],
)
# Crossings per hour of the day, relative (freight moves mostly by day, some at night).
RHYTHM = [
    0.3,
    0.2,
    0.2,
    0.2,
    0.3,
    0.6,
    1.0,
    1.5,
    1.8,
    1.9,
    1.8,
    1.6,
    1.4,
    1.6,
    1.8,
    1.9,
    1.8,
    1.6,
    1.3,
    1.0,
    0.8,
    0.6,
    0.5,
    0.4,
]


def admin_url(name: str) -> str:
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def credit_code(rng: random.Random, number: int) -> str:
    body = f"91{rng.choice(['320583', '320500', '310000', '420100', '330100'])}MA{number:07d}"
    return body + uscc.calc_check_digit(body)


def plate(rng: random.Random) -> str:
    return (
        rng.choice(PROVINCES)
        + rng.choice(LETTERS)
        + "".join(rng.choice("0123456789ABCDEFGHJK") for _ in range(5))
    )


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def moments(rng: random.Random, count: int, start: datetime, days: int) -> list[datetime]:
    """``count`` sorted instants over ``days`` days after ``start``, following the daily rhythm."""
    weights = [RHYTHM[h % 24] for h in range(days * 24)]
    hours = rng.choices(range(days * 24), weights=weights, k=count)
    return sorted(start + timedelta(hours=h, seconds=rng.random() * 3600) for h in hours)


def setup(session_url: str, rng: random.Random, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    """Checkpoints, devices, enterprises and vehicles; returns what the crossings are drawn from."""
    engine = db.make_engine(get_settings(home=args.home, database_url=session_url))
    db.migrate(engine)
    with db.session_scope(engine) as session:
        policy_service.ensure_default(session=session, now=now)
    # Crossing is partitioned by day of receipt (migration 0027): every day of the load gets its partition, as the
    # workers would have made it, instead of all of it landing in the default partition.
    partitions.ensure(engine, now - timedelta(days=args.days + 1), days_ahead=args.days + 2)
    engine.dispose()
    checkpoints = [
        (i + 1, f"卡口 {i + 1:02d}", "320583", 31.0 + i / 10, 120.0 + i / 10) for i in range(args.checkpoints)
    ]
    devices = [(uuid.uuid4().hex, cp[0]) for cp in checkpoints for _ in range(args.devices)]
    codes = [credit_code(rng, n) for n in range(args.enterprises)]
    # Zipf-like sizes: a few enterprises run most of the lorries.
    sizes = [1 / (rank + 1) ** 0.9 for rank in range(len(codes))]
    owners = rng.choices(codes, weights=sizes, k=args.vehicles)
    vehicles = [(plate(rng), uuid.uuid4().hex[:24], owner) for owner in owners]
    with psycopg.connect(admin_url(args.database)) as conn:
        with conn.cursor().copy(
            "COPY checkpoint (id, name, region, location, latitude, longitude, active, created_at) FROM STDIN"
        ) as copy:
            for cid, name, region, lat, lon in checkpoints:
                copy.write_row((cid, name, region, "bench", lat, lon, True, now))
        conn.execute("SELECT setval(pg_get_serial_sequence('checkpoint', 'id'), %s)", (len(checkpoints),))
        with conn.cursor().copy("COPY device (id, checkpoint_id, name, enrolled_at) FROM STDIN") as copy:
            for device_id, cid in devices:
                copy.write_row((device_id, cid, f"laptop {device_id[:6]}", now))
        with conn.cursor().copy(
            "COPY enterprise (uscc, name, contact, phone, region, verified, verified_at, created_at) FROM STDIN"
        ) as copy:
            for number, code in enumerate(codes):
                copy.write_row(
                    (
                        code,
                        f"基准测试物流有限公司{number:04d}",
                        "陈经理",
                        "0512-55550000",
                        code[2:8],
                        True,
                        now,
                        now,
                    )
                )
    return {"devices": devices, "vehicles": vehicles}


def crossing_rows(
    rng: random.Random, device_id: str, checkpoint_id: int, times: list[datetime], world: dict[str, Any]
) -> Iterator[tuple[Any, ...]]:
    """One device's chained records as crossing rows (plus, for escorted ones, what the escort request needs)."""
    previous = GENESIS
    outcomes, weights = zip(*OUTCOMES, strict=True)
    for seq, decided_at in enumerate(times, start=1):
        vehicle_plate, pass_id, owner = rng.choice(world["vehicles"])
        outcome = rng.choices(outcomes, weights=weights)[0]
        without_pass = rng.random() < 0.05
        reasons = {
            "RELEASE": ["PASS_VALID"],
            "ESCORT_REQUIRED": ["PASS_VALID", "HARD_HIT_VEHICLE"],
            "MEDICAL_HOLD": ["PASS_VALID", "FEVER"],
        }.get(outcome) or rng.choice(REFUSALS)
        if without_pass:
            reasons = ["NO_PASS", *reasons[1:]] if outcome != "REFUSE" else ["NO_PASS", "PASS_REQUIRED"]
        fever = outcome == "MEDICAL_HOLD"
        occupants = [
            {
                "role": role,
                "name": person(rng),
                "temperature_c": round(38.1 if fever and i == 0 else rng.uniform(36.0, 37.1), 1),
                "origin": "420100" if outcome == "ESCORT_REQUIRED" else "320583",
                "travel_history": [],
            }
            for i, role in enumerate(("driver", "escort")[: rng.choice((1, 2))])
        ]
        record = {
            "id": str(uuid.uuid4()),
            "seq": seq,
            "prev_hash": previous,
            "decided_at": decided_at.isoformat(),
            "plate": vehicle_plate,
            "pass_id": None if without_pass else pass_id,
            "enterprise": owner,
            "outcome": outcome,
            "reasons": reasons,
            "policy_version": 1,
            "bundle_version": 1,
            "occupants": occupants,
            "vehicle_origin": "420100" if outcome == "ESCORT_REQUIRED" else "320583",
            "verification": None
            if without_pass
            else ("PASS_SIGNATURE_INVALID" if reasons[0] == "PASS_SIGNATURE_INVALID" else "PASS_VALID"),
            "checks": {"identity_confirmed": True, "licence_confirmed": True, "id_last4_matched": None},
        }
        body = canonical(record)
        previous = hashlib.sha256(body).hexdigest()
        received = decided_at + timedelta(seconds=rng.randint(1, 600))
        yield (
            record["id"],
            device_id,
            checkpoint_id,
            seq,
            record["prev_hash"],
            previous,
            decided_at,
            received,
            outcome,
            vehicle_plate,
            record["pass_id"],
            owner,
            1,
            1,
            body.decode(),
        )


def escort_row(rng: random.Random, row: tuple[Any, ...], now: datetime) -> tuple[Any, ...]:
    crossing_id, _, checkpoint_id, _, _, _, decided_at, *_ = row
    waited = timedelta(
        minutes=min(rng.lognormvariate(math.log(40), 0.5), 600)
    )  # most within the 60-minute limit
    handed = decided_at + waited
    if handed > now:
        return (
            crossing_id,
            checkpoint_id,
            row[11],
            row[9],
            "answered",
            person(rng),
            "13812345678",
            handed,
            decided_at + waited / 3,
            None,
            None,
        )
    return (
        crossing_id,
        checkpoint_id,
        row[11],
        row[9],
        "handed_over",
        person(rng),
        "13812345678",
        handed,
        decided_at + waited / 3,
        None,
        handed,
    )


def fill(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    # The load ends now, or at ``args.end`` (gen_national_day.py: a whole UTC day, one partition).
    now = getattr(args, "end", None) or datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=args.days)
    drop(args.database)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{args.database}"')
    url = admin_url(args.database).replace("postgresql://", "postgresql+psycopg://", 1)
    began = time.perf_counter()
    world = setup(url, rng, args, now)
    with psycopg.connect(admin_url(args.database)) as conn:
        # Secondary indexes are built once after the load: far quicker than keeping them up to date row by row.
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('crossing', 'escort_request')"
            " AND indexname NOT LIKE 'pk_%' AND indexname NOT LIKE 'uq_%'"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        per_device = [args.count // len(world["devices"])] * len(world["devices"])
        per_device[0] += args.count - sum(per_device)
        escorts: list[tuple[Any, ...]] = []  # about 8 % of the rows: kept for a second COPY (one at a time)
        with conn.cursor().copy(
            "COPY crossing (id, device_id, checkpoint_id, seq, prev_hash, record_hash, decided_at, received_at,"
            " outcome, plate, pass_id, enterprise_uscc, policy_version, bundle_version, body_json) FROM STDIN"
        ) as copy:
            for (device_id, checkpoint_id), count in zip(world["devices"], per_device, strict=True):
                times = moments(rng, count, start, args.days)
                for row in crossing_rows(rng, device_id, checkpoint_id, times, world):
                    copy.write_row(row)
                    if row[8] == "ESCORT_REQUIRED":
                        escorts.append((*escort_row(rng, row, now), row[6]))
        # Ingest writes each crossing's key beside it (ids unique across partitions); COPY went past it.
        conn.execute(
            "INSERT INTO crossing_key (id, device_id, seq, record_hash, received_at)"
            " SELECT id, device_id, seq, record_hash, received_at FROM crossing"
        )
        with conn.cursor().copy(
            "COPY escort_request (crossing_id, checkpoint_id, enterprise_uscc, plate, status, staff_name,"
            " staff_phone, eta, answered_at, answered_by, handed_over_at, requested_at) FROM STDIN"
        ) as copy:
            for escort in escorts:
                copy.write_row(escort)
        loaded = time.perf_counter() - began
        conflicts = conn.execute(
            "INSERT INTO crossing_conflict (crossing_id, device_id, received_at, body_json)"
            " SELECT id, device_id, received_at + interval '1 hour', body_json FROM crossing TABLESAMPLE SYSTEM (0.01) LIMIT 50"
        ).rowcount
        for _name, definition in indexes:
            # A partitioned table's index reads "ON ONLY crossing" (the parent alone): made on every partition.
            conn.execute(definition.replace(" ON ONLY ", " ON "))
        conn.commit()
    # COPY went past ingest, which keeps the dashboard's roll-ups: count them once from the crossings.
    engine = db.make_engine(get_settings(home=args.home, database_url=url))
    with db.session_scope(engine) as session:
        rollup.rebuild(session)
    engine.dispose()
    with psycopg.connect(admin_url(args.database), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        size = conn.execute(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) FROM pg_partition_tree('crossing')"
        ).fetchone()[0]
        rolled = {
            table: conn.execute(
                f"SELECT count(*), coalesce(sum(released + escorted + refused + held), 0) FROM {table}"
            ).fetchone()
            for table in ("crossing_hour", "crossing_enterprise_day")
        }
    return {
        "database": args.database,
        "crossings": args.count,
        "escort_requests": len(escorts),
        "conflicts": conflicts,
        "days": args.days,
        "load_seconds": round(loaded, 1),
        "total_seconds": round(time.perf_counter() - began, 1),
        "crossing_table_size": size,
        "rollup_rows": {table: rows for table, (rows, _) in rolled.items()},
        "rollup_counted": {table: counted for table, (_, counted) in rolled.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--checkpoints", type=int, default=20)
    parser.add_argument("--devices", type=int, default=3, help="devices per checkpoint")
    parser.add_argument("--enterprises", type=int, default=2000)
    parser.add_argument("--vehicles", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument(
        "--home", default="/tmp/checkpass-bench-audit", help="CHECKPASS_HOME for the settings"
    )
    parser.add_argument("--drop", action="store_true", help="drop the benchmark database and stop")
    args = parser.parse_args(argv)
    if not args.database.startswith("checkpass_bench"):
        parser.error(
            "the benchmark database's name must start with checkpass_bench (it is dropped and remade)"
        )
    if args.drop:
        drop(args.database)
        return 0
    if not 1 <= args.count <= MAX_COUNT or not 1 <= args.days <= 92:
        parser.error(f"--count must be 1..{MAX_COUNT:,} and --days 1..92")
    print(json.dumps(fill(args), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
