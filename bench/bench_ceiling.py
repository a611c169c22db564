"""Crossing ingest against the database's own ceiling, and the audit lag at a sustained rate (issue 15): PostgreSQL.

Run from the repository root with the project's virtualenv active and PostgreSQL at CHECKPASS_TEST_PG:

    python bench/bench_ceiling.py                      # all three parts, about 9 min on 2 cores
    python bench/bench_ceiling.py --skip-lag           # parts 1 and 2 only
    python bench/bench_ceiling.py --rate 1200 --seconds 90 --skip-ingest
    python bench/bench_ceiling.py --json               # the same figures as one JSON document
    python bench/bench_ceiling.py --check              # exit 1 if a goal is missed

Every part runs on a scratch database made by the migrations at head (so it has the real schema: the crossing
table with its indexes, constraints and partitions, whatever they are) next to the one in CHECKPASS_TEST_PG, and
dropped afterwards, with the set-up of bench_ingest.py: keys, policy, 100 issued passes per device, a trust bundle,
one checkpoint, devices enrolled over HTTP, hash-chained records decided as a checkpoint decides them.

1. Ceiling. The crossing rows that ingest would write for those records (``service._check`` and
   ``service._crossing_row``: the same columns and the same body_json), written straight into the real ``crossing``
   table of that scratch database by multi-row INSERT, one statement and one commit per batch of the upload's
   size, from one and from several connections (psycopg, no ORM); then COPY, one per batch, for reference. The table
   is emptied (TRUNCATE) before each measure and before the upload.
2. Ingest. The same records through ``POST /api/v1/crossings`` of ``checkpass serve --workers N`` (N = 1, 2, 4;
   CHECKPASS_AUDIT_MODE=queue) with ``checkpass worker`` process(es) auditing alongside, from several devices at
   once, each on its own keep-alive connection with its batches' JSON encoded before the clock starts. Figures:
   records/s until the last batch is answered (and its ratio to the best INSERT ceiling), and until the audit queue
   is empty. Then every batch is sent again (all must be ``duplicate``) and the results are checked: one crossing
   row per record, every crossing audited, the queue empty, the workers' committed batches adding up to exactly
   one audit per record, no alert but the expected escort waits (no replay disagreeing, no chain alert).
3. Lag. A sustained rate (default 1,200 records/s for 60 s) from many devices, each sending a batch every
   ``batch x devices / rate`` seconds (staggered), with the worker(s) auditing. By default every record shows its
   own pass (``--lag-passes``), so the audit's memory of checked signatures never helps: at a national peak a
   worker sees few passes twice within minutes. The queue's lag (its oldest entry's age, as ``checkpass audit
   status`` computes it: ``queue.stats``) sampled twice a second, and each crossing's received_at -> audited_at.
   Also whether the uploaders kept the pace.

The server's periodic audit round is off (CHECKPASS_AUDIT_SCHEDULE=false) so that only the workers audit, which is
what lets the run count each record's audit. Goals (issue 15): ingest >= 30 % of the ceiling; lag p95 <= 10 s at
1,200 records/s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bench_ingest  # bench/: the set-up (prepare, decided_records, enrol, ScratchPostgres, free_port)
import httpx
import psycopg
from sqlalchemy import text
from sqlmodel import Session

from server import db
from server.alerts import queue, rules
from server.config import get_settings
from server.crossings import service

GOAL_RATIO = 0.30
GOAL_LAG_P95_S = 10.0
CHECKPASS = str(Path(sys.executable).with_name("checkpass"))


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))] if ordered else 0.0


# --- the installation: a scratch database, a server, audit workers ------------------------------------------------


class Site:
    """A scratch installation: its home, database, devices' records; a `checkpass serve` and workers once
    started."""

    def __init__(self, url: str, home: Path, devices: int, share: int, passes: int = 100) -> None:
        self.url, self.home, self.share = url, home, share
        # The records end an hour ago: checkpoints catching up with their traffic, as in bench_ingest.py.
        start = datetime.now(UTC) - timedelta(seconds=10 * share + 3600)
        codes, fleets = bench_ingest.prepare(home, url, devices, start=start, issued=True, passes=passes)
        self.passes = passes * devices
        self.codes = codes
        self.chains = [bench_ingest.decided_records(share, start, fleet) for fleet in fleets]
        self.env = {
            **os.environ,
            "CHECKPASS_HOME": str(home),
            "CHECKPASS_DATABASE_URL": url,
            "CHECKPASS_AUDIT_MODE": "queue",
            "CHECKPASS_AUDIT_SCHEDULE": "false",
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.port = bench_ingest.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen[bytes] | None = None
        self.auditors: list[subprocess.Popen[bytes]] = []
        self.clients: list[httpx.Client] = []
        self.engine = db.make_engine(get_settings(home=home, database_url=url))

    @property
    def records(self) -> int:
        return self.share * len(self.chains)

    def serve(self, workers: int) -> None:
        log = (self.home / "serve.log").open("wb")
        command = [
            CHECKPASS,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.server = bench_ingest.wait_healthy(process, self.port, seconds=60)
        self.clients = bench_ingest.enrol(self.base, self.codes)

    def start_auditors(self, count: int, batch: int) -> None:
        for number in range(count):
            out = (self.home / f"auditor-{number}.jsonl").open("wb")
            err = (self.home / f"auditor-{number}.log").open("wb")
            command = [CHECKPASS, "worker", "--batch", str(batch), "--json"]
            self.auditors.append(subprocess.Popen(command, env=self.env, stdout=out, stderr=err))

    def audited_by_workers(self) -> int:
        """Crossings in the batches the workers committed (their "audited" lines): each record's audit counted
        once per commit, so a record audited twice would show here."""
        total = 0
        for path in self.home.glob("auditor-*.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                event = json.loads(line)
                if event.get("event") == "audited":
                    total += int(event["crossings"])
        return total

    def queue_stats(self) -> queue.QueueStats:
        with Session(self.engine) as session:
            return queue.stats(session, datetime.now(UTC))

    def wait_drained(self, timeout: float) -> float:
        """Seconds (monotonic clock) at which the audit queue was first seen empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue_stats().length == 0:
                return time.monotonic()
            time.sleep(0.1)
        raise RuntimeError(f"the audit queue was not empty {timeout:.0f} s after the upload")

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        for process in [*self.auditors, *([self.server] if self.server else [])]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.auditors, *([self.server] if self.server else [])]:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        for process in self.auditors:
            if process.returncode not in (0, -signal.SIGTERM):
                raise RuntimeError(f"an audit worker exited with {process.returncode}: see {self.home}")

    def sql(self, statement: str) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(statement)).all()

    def check(self, replayed: bool) -> dict[str, Any]:
        """The results must be right, or the figure is worthless: raises on anything wrong."""
        rows, unaudited = self.sql(
            "SELECT count(*), count(*) FILTER (WHERE audited_at IS NULL) FROM crossing"
        )[0]
        queued = self.sql("SELECT count(*) FROM audit_queue")[0][0]
        alerts = dict(self.sql("SELECT kind, count(*) FROM alert GROUP BY kind"))
        audited = self.audited_by_workers()
        problems = []
        if rows != self.records:
            problems.append(f"{rows} crossing rows for {self.records} records")
        if unaudited:
            problems.append(f"{unaudited} crossings not audited")
        if queued:
            problems.append(f"{queued} entries left in the audit queue")
        if audited != self.records:
            problems.append(f"the workers committed {audited} crossing audits for {self.records} records")
        if unexpected := {kind: n for kind, n in alerts.items() if kind != rules.ESCORT_WAIT}:
            problems.append(
                f"alerts other than escort waits (a replay disagreeing, a chain problem): {unexpected}"
            )
        if problems:
            raise RuntimeError("; ".join(problems))
        return {"rows": rows, "audited_once": audited, "alerts": alerts, "replay_all_duplicate": replayed}

    def close(self) -> None:
        self.engine.dispose()


def encoded(chain: list[dict[str, Any]], batch: int) -> list[tuple[int, bytes]]:
    """A device's upload requests, JSON encoded ahead (the load generator shares the server's two cores)."""
    return [
        (
            len(chain[i : i + batch]),
            json.dumps({"records": chain[i : i + batch]}, ensure_ascii=False).encode(),
        )
        for i in range(0, len(chain), batch)
    ]


def post(client: httpx.Client, size: int, body: bytes, expect: str) -> float:
    started = time.perf_counter()
    response = client.post("/api/v1/crossings", content=body, headers={"content-type": "application/json"})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    if response.json()[expect] != size:
        raise RuntimeError(f"expected every record {expect}: {response.text[:300]}")
    return elapsed


# --- 1. the ceiling -----------------------------------------------------------------------------------------------


def crossing_rows(site: Site) -> list[list[dict[str, Any]]]:
    """Per device, the crossing rows ingest would store for its records (same columns, same body_json)."""
    devices = dict(
        (name, (did, cp)) for name, did, cp in site.sql("SELECT name, id, checkpoint_id FROM device")
    )
    now = datetime.now(UTC)
    rows = []
    for number, chain in enumerate(site.chains):
        device_id, checkpoint_id = devices[f"bench {number}"]
        device = SimpleNamespace(id=device_id, checkpoint_id=checkpoint_id)
        checked = [service._check(index, record) for index, record in enumerate(chain)]
        rows.append([service._crossing_row(item, device, now) for item in checked])  # type: ignore[arg-type]
    return rows


def empty(url: str) -> None:
    # CASCADE: the tables pointing at crossings are empty too before the upload.
    with psycopg.connect(plain(url), autocommit=True) as connection:
        connection.execute("TRUNCATE crossing CASCADE")
        connection.execute("VACUUM ANALYZE crossing")


def insert_batches(url: str, columns: list[str], batches: list[list[tuple[Any, ...]]]) -> None:
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    head = f"INSERT INTO crossing ({', '.join(columns)}) VALUES "
    with psycopg.connect(plain(url)) as connection:
        for rows in batches:
            params = [value for row in rows for value in row]
            connection.execute(head + ", ".join([one] * len(rows)), params)
            connection.commit()


def copy_batches(url: str, columns: list[str], batches: list[list[tuple[Any, ...]]]) -> None:
    with psycopg.connect(plain(url)) as connection:
        for rows in batches:
            with connection.cursor() as cursor:
                with cursor.copy(f"COPY crossing ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            connection.commit()


def ceiling(site: Site, batch: int, connections: list[int]) -> dict[str, Any]:
    per_device = crossing_rows(site)
    columns = list(per_device[0][0])
    batches_of = [
        [[tuple(row[c] for c in columns) for row in rows[i : i + batch]] for i in range(0, len(rows), batch)]
        for rows in per_device
    ]
    total = sum(len(rows) for rows in per_device)
    body_bytes = statistics.mean(len(row["body_json"].encode()) for rows in per_device for row in rows)
    figures: dict[str, Any] = {"rows": total, "batch": batch, "body_json_bytes_mean": round(body_bytes)}
    measures = [(f"INSERT, {n} connection{'s' if n > 1 else ''}", n, insert_batches) for n in connections]
    for name, count, write in [*measures, ("COPY, 1 connection", 1, copy_batches)]:
        empty(site.url)
        # Each connection writes whole devices' batches, in order, as that many uploading devices would.
        shares = [[b for d in range(k, len(batches_of), count) for b in batches_of[d]] for k in range(count)]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(write, [site.url] * count, [columns] * count, shares))
        elapsed = time.perf_counter() - started
        stored = site.sql("SELECT count(*) FROM crossing")[0][0]
        if stored != total:
            raise RuntimeError(f"ceiling {name}: {stored} rows stored of {total}")
        figures[name] = {"seconds": round(elapsed, 3), "rows_per_s": round(total / elapsed, 1)}
    empty(site.url)
    figures["best_insert_rows_per_s"] = max(figures[name]["rows_per_s"] for name, _, _ in measures)
    return figures


# --- 2. ingest through the server ---------------------------------------------------------------------------------


def ingest(site: Site, workers: int, auditors: int, batch: int, audit_batch: int) -> dict[str, Any]:
    site.start_auditors(auditors, audit_batch)
    work = [encoded(chain, batch) for chain in site.chains]
    clients = site.clients
    figures: dict[str, Any] = {"server_workers": workers, "audit_workers": auditors, "records": site.records}
    try:
        for phase, expect in (("upload", "accepted"), ("replay", "duplicate")):

            def device(number: int, expect: str = expect) -> list[float]:
                return [post(clients[number], size, body, expect) for size, body in work[number]]

            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=len(clients)) as pool:
                latencies = [s for part in pool.map(device, range(len(clients))) for s in part]
            answered = time.monotonic()
            drained = site.wait_drained(timeout=900)
            figures[phase] = {
                "seconds": round(answered - started, 3),
                "records_per_s": round(site.records / (answered - started), 1),
                "batch_ms_p50": round(statistics.median(latencies) * 1000, 1),
                "batch_ms_p95": round(percentile(latencies, 0.95) * 1000, 1),
            }
            if phase == "upload":
                figures["audited_records_per_s"] = round(site.records / (drained - started), 1)
                figures["queue_drained_after_s"] = round(drained - answered, 3)
    finally:
        site.stop()
    figures["checks"] = site.check(replayed=True)
    return figures


# --- 3. the audit lag at a sustained rate -------------------------------------------------------------------------


def lag(site: Site, workers: int, auditors: int, batch: int, audit_batch: int, rate: float) -> dict[str, Any]:
    site.start_auditors(auditors, audit_batch)
    work = [encoded(chain, batch) for chain in site.chains]
    clients = site.clients
    interval = batch * len(clients) / rate  # each device's time between batches
    samples: list[tuple[float, int, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            found = site.queue_stats()
            samples.append((time.monotonic(), found.length, found.lag_seconds))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    t0 = time.monotonic() + 1.0

    def device(number: int) -> list[tuple[float, float]]:
        """(how late each batch was sent, how long it took to be answered)"""
        sent = []
        for k, (size, body) in enumerate(work[number]):
            due = t0 + interval * (number / len(clients) + k)
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            late = time.monotonic() - due
            sent.append((late, post(clients[number], size, body, "accepted")))
        return sent

    try:
        sampler.start()
        with ThreadPoolExecutor(max_workers=len(clients)) as pool:
            sent = [s for part in pool.map(device, range(len(clients))) for s in part]
        answered = time.monotonic()
        drained = site.wait_drained(timeout=900)
        time.sleep(0.6)  # one more sample of the empty queue
    finally:
        stop.set()
        sampler.join()
        site.stop()
    planned = interval * max(len(w) for w in work)
    during = [lag for at, _, lag in samples if t0 <= at <= drained]
    lengths = [length for at, length, _ in samples if t0 <= at <= drained]
    latency = site.sql(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY e), percentile_cont(0.95) WITHIN GROUP (ORDER BY e), "
        "max(e) FROM (SELECT extract(epoch FROM audited_at - received_at) AS e FROM crossing) AS x"
    )[0]
    lateness = [late for late, _ in sent]
    figures = {
        "rate": rate,
        "devices": len(clients),
        "batch": batch,
        "interval_s": round(interval, 3),
        "server_workers": workers,
        "audit_workers": auditors,
        "records": site.records,
        "passes": site.passes,
        "planned_seconds": round(planned, 1),
        "upload_seconds": round(answered - t0, 1),
        "achieved_records_per_s": round(site.records / (answered - t0), 1),
        "send_late_s_p95": round(percentile(lateness, 0.95), 3),
        "send_late_s_max": round(max(lateness), 3),
        "batch_ms_p50": round(statistics.median(r for _, r in sent) * 1000, 1),
        "batch_ms_p95": round(percentile([r for _, r in sent], 0.95) * 1000, 1),
        "drained_after_last_answer_s": round(drained - answered, 2),
        "lag_samples": len(during),
        "queue_lag_s": {
            "p50": round(percentile(during, 0.5), 2),
            "p95": round(percentile(during, 0.95), 2),
            "max": round(max(during, default=0.0), 2),
        },
        "queue_length_max": max(lengths, default=0),
        "received_to_audited_s": {
            k: round(float(v), 2) for k, v in zip(("p50", "p95", "max"), latency, strict=True)
        },
    }
    # Kept the pace: no batch sent more than one interval late, and the whole upload within 5 % of the plan.
    figures["kept_pace"] = (
        figures["send_late_s_max"] <= interval and answered - t0 <= planned * 1.05 + interval
    )
    figures["checks"] = site.check(replayed=False)
    return figures


# --- the run ------------------------------------------------------------------------------------------------------


def with_site(devices: int, share: int, work: Any, passes: int = 100) -> dict[str, Any]:
    with bench_ingest.ScratchPostgres() as url, tempfile.TemporaryDirectory(prefix="bench-ceiling-") as tmp:
        made = time.monotonic()
        site = Site(url, Path(tmp), devices, share, passes)
        print(f"  set-up: {devices} devices, {site.records} records made in {time.monotonic() - made:.0f} s",
              file=sys.stderr)  # fmt: skip
        try:
            return dict(work(site))
        finally:
            site.stop()
            site.close()


def goal(name: str, value: float, target: str, ok: bool) -> dict[str, Any]:
    return {"name": name, "value": value, "goal": target, "ok": ok}


def report(result: dict[str, Any]) -> str:
    lines = []
    if ceiling_ := result.get("ceiling"):
        lines += [
            f"1. Ceiling: {ceiling_['rows']:,} crossing rows (body_json {ceiling_['body_json_bytes_mean']} bytes on "
            f"average) in batches of {ceiling_['batch']}, straight into the crossing table",
            "",
        ]
        for name, figure in ceiling_.items():
            if isinstance(figure, dict):
                lines.append(
                    f"   {name:<26}{figure['rows_per_s']:>10,.0f} rows/s  ({figure['seconds']:.2f} s)"
                )
        lines.append("")
    if runs := result.get("ingest"):
        first = runs[0]
        lines += [
            f"2. Ingest: {first['records']:,} records through POST /api/v1/crossings, {result['devices']} devices, "
            f"audit queue with {first['audit_workers']} worker(s)",
            "",
            f"   {'server workers':<16}{'records/s':>10}{'ratio':>8}{'batch ms p50':>14}{'p95':>8}"
            f"{'audited/s':>11}{'drained +s':>12}{'replay/s':>10}",
        ]
        for run in runs:
            lines.append(
                f"   {run['server_workers']:<16}{run['upload']['records_per_s']:>10,.0f}{run['ratio']:>8.1%}"
                f"{run['upload']['batch_ms_p50']:>14.0f}{run['upload']['batch_ms_p95']:>8.0f}"
                f"{run['audited_records_per_s']:>11,.0f}{run['queue_drained_after_s']:>12.1f}"
                f"{run['replay']['records_per_s']:>10,.0f}"
            )
        lines.append(
            "   checks: one row per record, each audited once by a worker, queue empty, replay all duplicate; alerts "
            + ", ".join(f"{k} {v}" for k, v in sorted(first["checks"]["alerts"].items()))
        )
        lines.append("")
    if lag_ := result.get("lag"):
        lines += [
            f"3. Lag: {lag_['rate']:,.0f} records/s planned for {lag_['planned_seconds']:.0f} s from {lag_['devices']} "
            f"devices (a batch of {lag_['batch']} every {lag_['interval_s']:.1f} s each), {lag_['server_workers']} "
            f"server worker(s), {lag_['audit_workers']} audit worker(s), {lag_['passes']:,} passes",
            f"   uploaded {lag_['records']:,} records in {lag_['upload_seconds']:.1f} s = "
            f"{lag_['achieved_records_per_s']:,.0f} records/s; sent late p95 {lag_['send_late_s_p95']:.2f} s, max "
            f"{lag_['send_late_s_max']:.2f} s; batch ms p50 {lag_['batch_ms_p50']:.0f}, p95 {lag_['batch_ms_p95']:.0f}; "
            f"kept the pace: {'yes' if lag_['kept_pace'] else 'NO'}",
            f"   queue lag (oldest entry's age, {lag_['lag_samples']} samples): p50 {lag_['queue_lag_s']['p50']:.1f} s, "
            f"p95 {lag_['queue_lag_s']['p95']:.1f} s, max {lag_['queue_lag_s']['max']:.1f} s; longest queue "
            f"{lag_['queue_length_max']:,}; empty {lag_['drained_after_last_answer_s']:.1f} s after the last answer",
            f"   received -> audited_at per crossing: p50 {lag_['received_to_audited_s']['p50']:.1f} s, p95 "
            f"{lag_['received_to_audited_s']['p95']:.1f} s, max {lag_['received_to_audited_s']['max']:.1f} s",
            "",
        ]
    for goal in result["goals"]:
        lines.append(
            f"{'PASS' if goal['ok'] else 'MISS'}  {goal['name']}: {goal['value']:,.3g} (goal {goal['goal']})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--records", type=int, default=24_000, help="records of parts 1 and 2 (default 24000)"
    )
    parser.add_argument(
        "--batch", type=int, default=500, help="records per upload and per INSERT (default 500)"
    )
    parser.add_argument(
        "--devices", type=int, default=8, help="devices uploading at once in part 2 (default 8)"
    )
    parser.add_argument("--connections", default="1,4", help="ceiling's client connections (default 1,4)")
    parser.add_argument("--server-workers", default="1,2,4", help="part 2's server workers (default 1,2,4)")
    parser.add_argument("--audit-workers", type=int, default=1, help="checkpass worker processes (default 1)")
    parser.add_argument("--audit-batch", type=int, default=500, help="queue entries per audit (default 500)")
    parser.add_argument("--rate", type=float, default=1200.0, help="part 3's records/s (default 1200)")
    parser.add_argument("--seconds", type=int, default=60, help="part 3's duration (default 60)")
    parser.add_argument("--lag-devices", type=int, default=60, help="part 3's devices (default 60)")
    parser.add_argument(
        "--lag-passes",
        type=int,
        default=0,
        help="part 3's passes per device (default 0: one per record, so no pass is seen twice and the audit "
        "checks every signature; 100 reuses each pass every 100 records)",
    )
    parser.add_argument(
        "--lag-batch", type=int, default=100, help="part 3's records per upload (default 100)"
    )
    parser.add_argument(
        "--lag-server-workers", type=int, default=2, help="part 3's server workers (default 2)"
    )
    parser.add_argument("--skip-ingest", action="store_true", help="skip parts 1 and 2")
    parser.add_argument("--skip-lag", action="store_true", help="skip part 3")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is missed")
    args = parser.parse_args(argv)
    if (
        not 1 <= args.batch <= 500
        or not 1 <= args.lag_batch <= 500
        or args.records < args.batch * args.devices
    ):
        parser.error("need 1 <= --batch, --lag-batch <= 500 and --records >= batch x devices")
    result: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": bench_ingest.environment(),
        "devices": args.devices,
        "goals": [],
    }
    share = args.records // args.devices
    if not args.skip_ingest:
        runs = []
        for number, workers in enumerate(int(n) for n in args.server_workers.split(",")):
            print(f"ingest with {workers} server worker(s)", file=sys.stderr)

            def run(site: Site, workers: int = workers, first: bool = number == 0) -> dict[str, Any]:
                site.serve(workers)
                if first:  # the ceiling, on the same database and devices, before anything is uploaded
                    connections = [int(n) for n in args.connections.split(",")]
                    result["ceiling"] = ceiling(site, args.batch, connections)
                return ingest(site, workers, args.audit_workers, args.batch, args.audit_batch)

            runs.append(with_site(args.devices, share, run))
        best = result["ceiling"]["best_insert_rows_per_s"]
        for run_ in runs:
            run_["ratio"] = run_["upload"]["records_per_s"] / best
        result["ingest"] = runs
        top = max(runs, key=lambda r: r["ratio"])
        result["goals"].append(
            goal(
                f"ingest / INSERT ceiling ({top['server_workers']} server workers)",
                top["ratio"],
                f">= {GOAL_RATIO:.0%}",
                top["ratio"] >= GOAL_RATIO,
            )
        )
    if not args.skip_lag:
        print(f"sustained {args.rate:,.0f} records/s for {args.seconds} s", file=sys.stderr)
        per_device = int(args.rate * args.seconds / args.lag_devices) // args.lag_batch * args.lag_batch
        if per_device < args.lag_batch:
            parser.error("--rate x --seconds must give each device at least one batch")
        result["lag"] = with_site(
            args.lag_devices,
            per_device,
            lambda site: (
                site.serve(args.lag_server_workers),
                lag(
                    site,
                    args.lag_server_workers,
                    args.audit_workers,
                    args.lag_batch,
                    args.audit_batch,
                    args.rate,
                ),
            )[1],
            passes=args.lag_passes or per_device,
        )
        p95 = result["lag"]["queue_lag_s"]["p95"]
        kept = result["lag"]["kept_pace"]
        result["goals"] += [
            goal(
                f"audit lag p95 at {args.rate:,.0f} records/s, s",
                p95,
                f"<= {GOAL_LAG_P95_S:.0f} s",
                p95 <= GOAL_LAG_P95_S,
            ),
            goal("uploader kept the pace (1 = yes)", float(kept), "1", kept),
        ]
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else report(result))
    return 1 if args.check and not all(goal["ok"] for goal in result["goals"]) else 0


if __name__ == "__main__":
    sys.exit(main())
