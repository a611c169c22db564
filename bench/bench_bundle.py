"""Trust-bundle benchmark: size and build time of the signed bundle with 100,000 revoked passes.

Run from the repository root with the project's virtualenv active:

    python bench/bench_bundle.py                      # embedded SQLite in a temporary folder, about 15 s
    python bench/bench_bundle.py --postgres postgresql://postgres@127.0.0.1:5432/test
                                                      # the same on a new temporary PostgreSQL database
    python bench/bench_bundle.py --json               # the figures as one JSON document
    python bench/bench_bundle.py --check              # exit 1 if a target is missed

What is measured, on a fresh database (``checkpass init`` state plus two enterprises):

1. inserting N issued passes and their revocations in bulk (setup, for scale);
2. the first build of the bundle with N revocations: query, CBOR, digest, Ed25519 signature, store (``publish``);
3. ``publish`` again with nothing changed: what every ``GET /api/v1/trust-bundle`` costs (it checks for changes);
4. one more revocation, then ``publish``: a new version signed after a change;
5. ``trust.load_bundle`` at the checkpoint: verify the signature and parse N revoked ids;
6. ``bundles.delta`` from the version before the bulk revocations (N ids) and from one version back (one id);
7. the HTTP routes in-process (Starlette TestClient): full ``GET /api/v1/trust-bundle`` and the 304 answer.

Target (issue 3): with 100,000 revoked passes the full bundle is at most 2 MB.
"""

from __future__ import annotations

import argparse
import gc
import json
import secrets
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import machine  # bench/machine.py: the script's own folder is on sys.path
from scratchdb import database
from sqlalchemy import insert
from sqlmodel import Session

import server.models  # noqa: F401  (every table, for the metadata)
from passcore import trust
from server import db
from server.bundles import service as bundles
from server.config import get_settings
from server.enterprises.models import Enterprise
from server.keyring import service as keyring
from server.passes.models import IssuedPass, Revocation
from server.policy import service as policy_service

TARGET_BYTES = 2 * 1024 * 1024
USCC = "91320583MA1XY71231"
LIBRARIES = ("cbor2", "cwt", "cryptography", "SQLAlchemy", "sqlmodel", "psycopg", "fastapi")


def ms(ns: int | float) -> float:
    return ns / 1e6


def timed(fn: Callable[[], Any]) -> tuple[Any, int]:
    gc.collect()
    start = time.perf_counter_ns()
    value = fn()
    return value, time.perf_counter_ns() - start


def summary(samples: list[int]) -> dict[str, float]:
    return {
        "median_ms": ms(statistics.median(samples)),
        "min_ms": ms(min(samples)),
        "max_ms": ms(max(samples)),
    }


def environment() -> dict[str, Any]:
    return machine.describe(LIBRARIES)


def bulk_revoke(session: Session, kid: str, count: int, now: datetime, start: int = 1) -> list[str]:
    rows = [
        {
            "pass_id": secrets.token_hex(12),
            "serial": f"320583-{n:06d}",
            "kid": kid,
            "enterprise_uscc": USCC,
            "plate": "苏EA1234",
            "claims_json": "{}",
            "application_json": "{}",
            "qr_text": "",
            "issued_at": now,
            "valid_from": now,
            "valid_until": now + timedelta(days=7),
        }
        for n in range(start, start + count)
    ]
    session.execute(insert(IssuedPass), rows)
    session.execute(
        insert(Revocation),
        [
            {"pass_id": r["pass_id"], "revoked_at": now, "reason": "bench", "revoked_by": "bench"}
            for r in rows
        ],
    )
    session.commit()
    return [r["pass_id"] for r in rows]


def run(count: int, runs: int, postgres: str | None) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from server.main import create_app

    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as home, database(postgres) as url:
        settings = get_settings(home=Path(home), database_url=url)
        engine = db.make_engine(settings)
        db.migrate(engine)
        with Session(engine, expire_on_commit=False) as session:
            keyring.ensure_keys(session=session, settings=settings, now=now)
            policy_service.ensure_default(session=session, now=now)
            policy_service.set_policy(session=session, changes={"hard_hit": ["420000"]}, now=now, by="bench")
            for uscc, name in (
                (USCC, "昆山精密机械有限公司"),
                ("91420100MA4K00001U", "武汉长江物流有限公司"),
            ):
                session.add(Enterprise(uscc=uscc, name=name, verified=True, created_at=now))
            session.commit()
            kid = keyring.active_issuer_record(session).kid  # type: ignore[union-attr]
            empty = bundles.publish(session=session, settings=settings, now=now)
            _, insert_ns = timed(lambda: bulk_revoke(session, kid, count, now))
            first, first_ns = timed(lambda: bundles.publish(session=session, settings=settings, now=now))
            unchanged = [
                timed(lambda: bundles.publish(session=session, settings=settings, now=now))[1]
                for _ in range(runs)
            ]
            changed = []
            for i in range(runs):
                bulk_revoke(session, kid, 1, now, start=count + 1 + i)
                row, elapsed = timed(lambda: bundles.publish(session=session, settings=settings, now=now))
                changed.append(elapsed)
            signed = bytes(row.signed)
            root = keyring.load_root(settings).public
            loads = [timed(lambda: trust.load_bundle(signed, root=root, now=now))[1] for _ in range(runs)]
            loaded = trust.load_bundle(signed, root=root, now=now)
            full_delta, full_delta_ns = timed(
                lambda: bundles.delta(session=session, settings=settings, since=empty.version, now=now)
            )
            _, one_delta_ns = timed(
                lambda: bundles.delta(session=session, settings=settings, since=row.version - 1, now=now)
            )
        app = create_app(settings)
        with TestClient(app) as client:
            gets, not_modified = [], []
            for _ in range(runs):
                response, elapsed = timed(lambda: client.get("/api/v1/trust-bundle"))
                gets.append(elapsed)
                etag = response.headers["etag"]
                answer, elapsed = timed(
                    lambda tag=etag: client.get("/api/v1/trust-bundle", headers={"if-none-match": tag})
                )
                assert answer.status_code == 304
                not_modified.append(elapsed)
        app.state.engine.dispose()
        engine.dispose()
    size = len(signed)
    return {
        "database": "PostgreSQL" if postgres else "SQLite",
        "revoked": len(loaded.revoked),
        "first_revocations": count,
        "bundle_bytes": size,
        "bundle_bytes_gzip_equivalent": len(zlib.compress(signed, 6)),
        "bytes_per_revoked_id": size / len(loaded.revoked),
        "empty_bundle_bytes": len(bytes(empty.signed)),
        "insert_ms": ms(insert_ns),
        "first_build_ms": ms(first_ns),
        "first_version": first.version,
        "publish_unchanged": summary(unchanged),
        "publish_after_one_revocation": summary(changed),
        "load_bundle": summary(loads),
        "delta_all_ms": ms(full_delta_ns),
        "delta_all_ids": len(full_delta.revoked),
        "delta_one_ms": ms(one_delta_ns),
        "http_get_full": summary(gets),
        "http_get_304": summary(not_modified),
        "target": {"name": "bundle size", "target": "<= 2 MiB", "met": size <= TARGET_BYTES},
    }


def report(result: dict[str, Any]) -> str:
    r = result["bundle"]
    rows = [
        ("insert passes + revocations in bulk (setup)", f"{r['insert_ms']:.0f}"),
        ("first build: query, CBOR, digest, sign, store", f"{r['first_build_ms']:.0f}"),
        ("publish, nothing changed (each GET)", f"{r['publish_unchanged']['median_ms']:.0f}"),
        ("publish after one more revocation", f"{r['publish_after_one_revocation']['median_ms']:.0f}"),
        ("trust.load_bundle at the checkpoint", f"{r['load_bundle']['median_ms']:.0f}"),
        (f"delta listing {r['delta_all_ids']} ids", f"{r['delta_all_ms']:.0f}"),
        ("delta listing 1 id", f"{r['delta_one_ms']:.0f}"),
        ("HTTP GET /api/v1/trust-bundle (200, full body)", f"{r['http_get_full']['median_ms']:.0f}"),
        ("HTTP GET with If-None-Match (304)", f"{r['http_get_304']['median_ms']:.0f}"),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [
        f"trust bundle, {r['database']}, {r['revoked']} revoked passes ({result['runs']} runs each, median ms):",
        *(f"  {label.ljust(width)}  {value:>6}" for label, value in rows),
        f"  size {r['bundle_bytes']:,} bytes ({r['bytes_per_revoked_id']:.1f} per revoked id; "
        f"{r['bundle_bytes_gzip_equivalent']:,} deflated; empty bundle {r['empty_bundle_bytes']:,})",
        f"  target {r['target']['name']} {r['target']['target']}: {'PASS' if r['target']['met'] else 'MISS'}",
        f"finished in {result['elapsed_s']:.1f} s",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--revocations", type=int, default=100_000, help="revoked passes (default 100000)")
    parser.add_argument("--runs", type=int, default=5, help="timed repetitions of each measure (default 5)")
    parser.add_argument(
        "--postgres", metavar="URL", help="PostgreSQL server to create a temporary database on"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if not 1 <= args.revocations <= 999_999 or not 1 <= args.runs <= 100:
        parser.error("--revocations must be 1..999999 and --runs 1..100")
    started = time.perf_counter()
    result: dict[str, Any] = {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(
            ["python", "bench/bench_bundle.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "environment": environment(),
        "runs": args.runs,
    }
    result["bundle"] = run(args.revocations, args.runs, args.postgres)
    result["elapsed_s"] = time.perf_counter() - started
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else report(result))
    return 1 if args.check and not result["bundle"]["target"]["met"] else 0


if __name__ == "__main__":
    sys.exit(main())
