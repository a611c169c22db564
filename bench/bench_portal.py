"""Portal load: 50 users reading pages and writing applications against a real server on 127.0.0.1.

    python bench/bench_portal.py [--users 50] [--seconds 30] [--workers 1] [--postgres URL]

Starts `checkpass demo` + `checkpass serve` in a scratch home (SQLite by default; `--postgres` takes a server URL
such as postgresql://postgres@127.0.0.1:5432/test, creates a scratch database there and drops it afterwards).
Each simulated user signs in once (a portal session and an API token), then loops for the given time: enterprise
users open their application and pass lists and save draft applications through the API (about one action in
five is a write); reviewers open the queue and an application; every user now and then fetches the trust bundle.
Users pause 0.5–1.5 × --think seconds between actions (default 1 s, as a person reading a page); --think 0 turns
it into a saturation test of the one machine that runs both the server and the load.
Prints requests, error rate, and median / p95 / p99 latency per action and overall. Loopback only, bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "checkpass-demo-2020"
TARGET_P95_MS = 300
READY: threading.Barrier
FAILURES: list[str] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def application_body() -> dict:
    body = json.loads((ROOT / "examples" / "application.json").read_text(encoding="utf-8"))
    start = datetime.now(UTC).replace(microsecond=0)
    body.pop("enterprise", None)
    body["vehicle"]["plate"] = f"苏E{random.choice('ABCDEFGH')}{random.randint(1000, 9999)}"
    return body | {"valid_from": start.isoformat(), "valid_until": (start + timedelta(days=7)).isoformat()}


class User(threading.Thread):
    def __init__(
        self, base: str, username: str, deadline: float, results: list, lock: threading.Lock, think: float
    ) -> None:
        super().__init__(daemon=True)
        self.base, self.username, self.deadline = base, username, deadline
        self.results, self.lock, self.think = results, lock, think
        self.enterprise = username.startswith("demo-enterprise")

    def timed(
        self, client: httpx.Client, action: str, method: str, path: str, **kwargs
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = client.request(method, self.base + path, **kwargs)
            ok = response.status_code < 400
            if not ok:
                FAILURES.append(f"{action} {path}: {response.status_code}")
        except httpx.HTTPError:
            response, ok = None, False
        with self.lock:
            self.results.append((action, (time.perf_counter() - started) * 1000, ok))
        return response

    def run(self) -> None:
        with (
            httpx.Client(timeout=30, headers={"accept": "text/html"}) as web,
            httpx.Client(timeout=30) as api,
        ):
            csrf = web.get(self.base + "/login").cookies.get("cp_csrf", "")
            web.post(
                self.base + "/login",
                data={"username": self.username, "password": PASSWORD, "csrf_token": csrf},
            )
            token = api.post(
                self.base + "/api/v1/auth/token", json={"username": self.username, "password": PASSWORD}
            ).json()["token"]
            api.headers["authorization"] = f"Bearer {token}"
            ids: list[int] = []
            READY.wait()  # measure the steady state, not 50 argon2 sign-ins at once
            while time.monotonic() < self.deadline:
                # A person reads a page before the next click; think=0 makes this a saturation test instead.
                time.sleep(random.uniform(0.5, 1.5) * self.think)
                roll = random.random()
                if roll < 0.1:
                    self.timed(api, "GET trust-bundle", "GET", "/api/v1/trust-bundle")
                elif self.enterprise and roll < 0.3:
                    response = self.timed(
                        api, "POST application (API)", "POST", "/api/v1/applications", json=application_body()
                    )
                    if response is not None and response.status_code < 300:
                        ids.append(response.json()["id"])
                elif self.enterprise and roll < 0.65:
                    self.timed(web, "GET my applications", "GET", "/enterprise/applications")
                elif self.enterprise:
                    self.timed(web, "GET my passes", "GET", "/enterprise/passes")
                elif roll < 0.7:
                    self.timed(web, "GET review queue", "GET", "/review/queue")
                else:
                    self.timed(
                        web,
                        "GET application (reviewer)",
                        "GET",
                        "/review/applications/1",  # the demo application waiting for review
                    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean pause between a user's actions, seconds (0: saturation test)",
    )
    parser.add_argument("--postgres", help="PostgreSQL server URL; a scratch database is made there")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKPASS_")} | {
        "CHECKPASS_HOME": str(home)
    }
    scratch = None
    if args.postgres:
        import psycopg

        scratch = f"bench_portal_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{scratch}"')
        env["CHECKPASS_DATABASE_URL"] = args.postgres.rsplit("/", 1)[0] + "/" + scratch
    subprocess.run(
        [str(BIN / "checkpass"), "demo", "--no-video", "--out", str(home / "demo-out")],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "checkpass"), "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        accounts = ["demo-enterprise", "demo-enterprise-wuhan", "demo-reviewer", "demo-admin"]
        results: list = []
        lock = threading.Lock()
        global READY
        READY = threading.Barrier(args.users + 1)
        deadline = time.monotonic() + 600  # set for real once everyone is signed in
        users = [
            User(
                base,
                accounts[i % len(accounts)] if i % 5 else accounts[2 + i % 2],
                deadline,
                results,
                lock,
                args.think,
            )
            for i in range(args.users)
        ]
        for user in users:
            user.start()
        READY.wait(timeout=300)
        for user in users:
            user.deadline = time.monotonic() + args.seconds
        for user in users:
            user.join(timeout=args.seconds + 120)
    finally:
        server.terminate()
        server.wait(timeout=20)
        if scratch:
            import psycopg

            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')

    database = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{args.users} users for {args.seconds:.0f} s, think time {args.think:.1f} s, {args.workers} worker(s), "
        f"{database}"
    )
    print(f"{'action':<28} {'requests':>8} {'errors':>7} {'median ms':>10} {'p95 ms':>8} {'p99 ms':>8}")
    actions = sorted({a for a, _, _ in results})
    for action in [*actions, "all"]:
        rows = [r for r in results if action in ("all", r[0])]
        times = [ms for _, ms, _ in rows]
        errors = sum(not ok for _, _, ok in rows)
        print(
            f"{action:<28} {len(rows):>8} {errors:>7} {statistics.median(times):>10.1f} "
            f"{percentile(times, 0.95):>8.1f} {percentile(times, 0.99):>8.1f}"
        )
    overall = [ms for _, ms, _ in results]
    errors = sum(not ok for _, _, ok in results)
    p95 = percentile(overall, 0.95)
    print(f"throughput {len(results) / args.seconds:.0f} requests/s; error rate {errors / len(results):.2%}")
    for failure in sorted(set(FAILURES))[:5]:
        print("  failed:", failure)
    verdict = "PASS" if p95 < TARGET_P95_MS and errors == 0 else "MISS"
    print(f"target p95 < {TARGET_P95_MS} ms with 0 errors: {verdict} (p95 {p95:.1f} ms, {errors} errors)")


if __name__ == "__main__":
    main()
