"""The review queue with 10,000 applications (issue 13): each page, each order, filters and searches.

    python bench/bench_review_queue.py [--applications 10000] [--runs 20] [--postgres URL] [--json]

Fills a scratch database (SQLite in a temporary home, or with ``--postgres`` a new PostgreSQL database dropped
afterwards) with 400 verified enterprises and N applications written as the service keeps them (masked body,
search_text and regions from server/applications/desk_index.py, due_on from the holiday calendar): 60 % submitted
(a fifth of them flagged as risks, some past their deadline, some claimed), the rest issued, rejected or returned.
Then a signed-in reviewer asks the app in-process (Starlette's TestClient: routing, session, query, template;
no socket) for each queue page: the first, second, 50th and last page of each order (oldest, deadline, risk), and
filters and searches (status, risk, overdue, region, enterprise, plate part, person, a name, an application number,
a pass number, claimed by me, the live-refresh fragment). Prints median and p95 per page against the portal's target
(p95 < 300 ms, docs/performance.md "Portal load"), wall-clock and the process's CPU time (server and client share the
process; on a machine loaded by other work the CPU time is what the page costs, the wall time what it waited too;
PostgreSQL's own CPU is not in it). It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import machine  # bench/machine.py: the script's own folder is on sys.path
from scratchdb import database
from sqlalchemy import insert
from sqlmodel import Session, select

import server.models  # noqa: F401  (every table, for the metadata)
from server import db
from server.accounts import service as accounts
from server.applications.desk_index import columns
from server.applications.models import Application
from server.config import get_settings
from server.enterprises.models import Enterprise
from server.keyring import service as keyring
from server.keyring.models import KeyRecord
from server.main import create_app
from server.passes.models import IssuedPass
from server.policy import service as policy_service
from server.workdays import APPLICATION_DAYS, deadline

TARGET_P95_MS = 300
PASSWORD = "bench-password-123"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红玉兰飞鹏辉"
REGIONS = ("320583", "320505", "320506", "310115", "330106", "110101", "420102", "440305", "320282", "321102")
PROVINCES = "苏沪浙京鄂粤皖鲁"


def name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def uscc(n: int) -> str:
    from passcore import ids

    base = f"9132058{n:07d}MA1X"[:17]
    for check in "0123456789ABCDEFGHJKLMNPQRTUWXY":
        try:
            return ids.validate_uscc(base + check)
        except Exception:
            continue
    raise ValueError(base)


def fill(engine, count: int, now: datetime, settings) -> dict[str, str]:
    rng = random.Random(13)
    with Session(engine) as session:
        keyring.ensure_keys(session=session, settings=settings, now=now)
        policy_service.ensure_default(session=session, now=now)
        enterprises = []
        for n in range(400):
            code = uscc(n)
            enterprises.append(
                (code, f"{rng.choice(('苏州', '昆山', '上海', '杭州', '武汉'))}{name(rng)}物流有限公司{n}")
            )
            session.add(
                Enterprise(
                    uscc=code,
                    name=enterprises[-1][1],
                    contact=name(rng),
                    phone="0512-55550000",
                    region="320583",
                    verified=True,
                    verified_at=now,
                    created_at=now,
                )
            )
        session.flush()
        clerk = accounts.create_user(
            session=session,
            username="bench-clerk",
            password=PASSWORD,
            role="enterprise",
            enterprise_uscc=enterprises[0][0],
            now=now,
        )
        reviewer = accounts.create_user(
            session=session, username="bench-reviewer", password=PASSWORD, role="reviewer", now=now
        )
        session.commit()
        clerk_id, reviewer_id = clerk.id, reviewer.id
    rows, passes = [], []
    sample: dict[str, str] = {}
    for n in range(count):
        code, ent_name = rng.choice(enterprises)
        plate = f"{rng.choice(PROVINCES)}{rng.choice('ABCDEFGHJK')}{rng.randint(10000, 99999)}"
        submitted = now - timedelta(minutes=rng.randint(10, 60 * 24 * 12))
        start = submitted + timedelta(hours=2)
        people = [name(rng) for _ in range(rng.randint(1, 3))]
        route = rng.sample(REGIONS, 3)
        body = {
            "enterprise": {"name": ent_name, "uscc": code},
            "vehicle": {"plate": plate, "plate_colour": "yellow"},
            "driver": {
                "name": people[0],
                "id_number": "320583********1234",
                "licence_number": "320583********1234",
                "phone": "13800000000",
            },
            "escorts": [{"name": p, "id_number": "320583********4567"} for p in people[1:]],
            "origin": route[0],
            "destination": route[1],
            "travel_history": [route[2]],
            "cargo": "精密零部件",
            "valid_from": start.isoformat(),
            "valid_until": (start + timedelta(days=7)).isoformat(),
        }
        body_json = json.dumps(body, ensure_ascii=False)
        roll = rng.random()
        status = (
            "submitted"
            if roll < 0.6
            else "issued"
            if roll < 0.85
            else "rejected"
            if roll < 0.95
            else "returned"
        )
        row = {
            "enterprise_uscc": code,
            "created_by": clerk_id,
            "status": status,
            "body_json": body_json,
            "people_sealed": None,
            "plate": plate,
            "created_at": submitted,
            "updated_at": submitted,
            "submitted_at": submitted,
            "reason": "",
            "risk": rng.choice((1, 2)) if rng.random() < 0.2 else 0,
            "risk_reasons": "[]",
            "due_on": deadline(submitted, APPLICATION_DAYS) if status == "submitted" else None,
            "claimed_by": reviewer_id if status == "submitted" and rng.random() < 0.05 else None,
            "claim_until": now + timedelta(minutes=30),
            **columns(body_json),
        }
        if status == "issued":
            pass_id = f"{n:024x}"
            row["pass_id"] = pass_id
            passes.append({"pass_id": pass_id, "serial": f"320583-{n + 1:06d}", "n": n})
        rows.append(row)
        if n == count // 2:
            sample.update(person=people[0], plate=plate[2:6], enterprise=ent_name[:4], uscc=code)
    with Session(engine) as session:
        kid = session.exec(select(KeyRecord.kid)).first()
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            pass_rows = [p for p in passes if start <= p["n"] < start + 1000]
            if pass_rows:
                session.execute(insert(IssuedPass), [_pass(p, rows[p["n"]], kid, now) for p in pass_rows])
            session.execute(insert(Application), [{**r, "pass_id": r.get("pass_id")} for r in chunk])
        session.commit()
    sample["serial"] = passes[len(passes) // 2]["serial"]
    sample["id"] = str(count // 3)
    return sample


def _pass(record: dict, application: dict, kid: str, now: datetime) -> dict:
    """An issued pass's row as the queue reads it (its number); nothing is signed, nothing opens it."""
    return {
        "pass_id": record["pass_id"],
        "serial": record["serial"],
        "kid": kid,
        "enterprise_uscc": application["enterprise_uscc"],
        "plate": application["plate"],
        "claims_json": "{}",
        "application_json": "{}",
        "qr_text": "",
        "issued_at": now,
        "valid_from": now,
        "valid_until": now + timedelta(days=7),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as home, database(args.postgres) as url:
        settings = get_settings(home=Path(home), database_url=url)
        app = create_app(settings)
        db.migrate(app.state.engine)
        began = time.perf_counter()
        sample = fill(app.state.engine, args.applications, now, settings)
        filled_s = time.perf_counter() - began
        client = TestClient(app, headers={"accept": "text/html"})
        client.get("/login")
        csrf = client.cookies.get("cp_csrf")
        signed = client.post(
            "/login",
            data={"username": "bench-reviewer", "password": PASSWORD, "csrf_token": csrf},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text[:300]
        pages = client.get("/review/queue").text
        last = int(re.search(r"/(\d+) 页", pages)[1]) if re.search(r"/(\d+) 页", pages) else 1
        cases = []
        for sort in ("oldest", "deadline", "risk"):
            for page in (1, 2, 50, last):
                cases.append((f"{sort} page {page}", f"sort={sort}&page={page}"))
        cases += [
            ("all statuses p1", "status=any"),
            ("all statuses p100", "status=any&page=100"),
            ("risk flagged", "risk=flagged"),
            ("overdue", "overdue=1"),
            ("region 3205", "region=3205"),
            ("enterprise name", f"enterprise={sample['enterprise']}"),
            ("enterprise credit code", f"enterprise={sample['uscc']}"),
            ("plate part", f"plate={sample['plate']}"),
            ("person", f"person={sample['person']}"),
            ("search name (all statuses)", f"q={sample['person']}"),
            ("search #id", f"q=%23{sample['id']}"),
            ("search pass number", f"q={sample['serial']}"),
            ("claimed by me", "claim=mine"),
            ("deadline + flagged + region", "sort=deadline&risk=flagged&region=32"),
            ("live fragment", "partial=1"),
        ]
        results = []
        for label, query in cases:
            times, cpu = [], []
            for run in range(args.runs + 1):
                t0, c0 = time.perf_counter(), time.process_time()
                response = client.get(f"/review/queue?{query}")
                elapsed, spent = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
                assert response.status_code == 200, (label, response.status_code)
                if run:  # the first is a warm-up
                    times.append(elapsed)
                    cpu.append(spent)
            times.sort()
            cpu.sort()
            found = re.search(r"共 (\d+) 份", response.text)
            results.append(
                {
                    "page": label,
                    "query": query,
                    "found": int(found[1]) if found else None,
                    "median_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
                    "cpu_median_ms": round(statistics.median(cpu), 1),
                    "cpu_p95_ms": round(cpu[min(len(cpu) - 1, int(len(cpu) * 0.95))], 1),
                }
            )
        client.close()
        app.state.engine.dispose()
    worst = max(r["p95_ms"] for r in results)
    load = os.getloadavg()
    report = {
        "database": "PostgreSQL" if args.postgres else "SQLite",
        "applications": args.applications,
        "runs": args.runs,
        "fill_s": round(filled_s, 1),
        "pages": results,
        "worst_p95_ms": worst,
        "load_average": [round(x, 1) for x in load],
        "target_p95_ms": TARGET_P95_MS,
        "machine": machine.describe(["sqlalchemy", "fastapi", "jinja2", "psycopg"]),
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(
        f"{args.applications} applications, {report['database']}, {args.runs} runs per page (filled in {filled_s:.1f} s)"
    )
    print(f"{'page':34} {'found':>6} {'median ms':>10} {'p95 ms':>8} {'CPU median':>11} {'CPU p95':>8}")
    for r in results:
        found = r["found"] if r["found"] is not None else ""
        print(
            f"{r['page']:34} {found:>6} {r['median_ms']:>10} {r['p95_ms']:>8}"
            f" {r['cpu_median_ms']:>11} {r['cpu_p95_ms']:>8}"
        )
    print(f"load average at the end: {' '.join(str(round(x, 1)) for x in load)} ({os.cpu_count()} cores)")
    verdict = "PASS" if worst < TARGET_P95_MS else "MISS"
    print(f"target p95 < {TARGET_P95_MS} ms on every page: {verdict} (worst p95 {worst} ms)")


if __name__ == "__main__":
    sys.exit(main())
