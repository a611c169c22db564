"""Crash safety: a process recording decisions is killed with SIGKILL at random moments, again and again.

The child (this file run as a module) records decisions in a loop and prints each id only after
``record_decision`` returned — the moment the officer would see the verdict. The parent kills it at random
points (often in the middle of a transaction), starts it again on the same store, and at the end checks that
every acknowledged decision is there, SQLite's integrity check passes and the chain verifies from seq 1.
Heavy on purpose (about a minute): ≥ 20 kills and ≥ 10,000 acknowledged writes, each one fsync'd.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIN_KILLS, MIN_ACKNOWLEDGED = 20, 10_000


def _child(path: Path) -> None:
    from checkpoint_client import station
    from checkpoint_client.store import Store
    from tests import factories

    text, key = factories.signed()
    bundle = factories.make_bundle([factories.issuer(key)])
    observed = {"plate": "苏E·A1234", "identity_confirmed": True, "licence_confirmed": True}
    crew = [
        {"role": "driver", "name": "张伟", "temperature_c": 36.5},
        {"role": "escort", "name": "李娜", "temperature_c": 36.7},
    ]
    made = []
    for origin in (
        None,
        "420100",
    ):  # a release, and a hard-hit vehicle (an escort row in the same transaction)
        scenario = station.parse_scenario(
            {"pass": text, "observed": observed, "occupants": crew, "vehicle_origin": origin}
        )
        verification, decision = station.evaluate(scenario, bundle, now=factories.NOW)
        made.append((scenario, verification, decision))
    checks = {"identity_confirmed": True, "licence_confirmed": True, "id_last4_matched": None}
    store = Store.open(path)
    for n in range(10**9):
        scenario, verification, decision = made[n % 10 == 0]
        stored = store.record_decision(
            replace(decision, decided_at=factories.NOW + timedelta(seconds=n)),
            occupants=scenario.occupants,
            verification=verification.code,
            checks=checks,
            vehicle_origin=scenario.vehicle_origin,
        )
        sys.stdout.write(stored.id + "\n")  # acknowledged: the decision would now be on the screen
        sys.stdout.flush()


def _run_and_kill(path: Path, rng: random.Random) -> tuple[list[str], bool]:
    """One child life: the ids it acknowledged before a SIGKILL at a random moment; whether it was killed."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.test_store_crash", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    acknowledged = []
    for _ in range(rng.randint(80, 900)):
        line = child.stdout.readline()
        if not line.endswith(b"\n"):
            child.kill()
            raise AssertionError(f"the writer died by itself: {child.stderr.read().decode()[-2000:]}")
        acknowledged.append(line.decode().strip())
    # A random fraction of a write later (one takes ~4 ms), so the kill lands anywhere: inside a transaction,
    # during the fsync, between the commit and the print.
    time.sleep(rng.random() * 0.006)
    child.send_signal(signal.SIGKILL)
    rest = child.stdout.read()  # printed before the kill: acknowledged too
    child.wait()
    acknowledged += [line for line in rest.decode().split("\n")[:-1]]  # a cut-off last line is not an ack
    return acknowledged, child.returncode == -signal.SIGKILL


def test_no_acknowledged_decision_is_lost_across_sigkills(tmp_path):
    path = tmp_path / "db" / "checkpoint.sqlite3"
    rng = random.Random()
    acknowledged: list[str] = []
    kills = 0
    while kills < MIN_KILLS or len(acknowledged) < MIN_ACKNOWLEDGED:
        ids, killed = _run_and_kill(path, rng)
        acknowledged += ids
        kills += killed
    print(f"{kills} kills, {len(acknowledged)} acknowledged writes")

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {rid for (rid,) in conn.execute("SELECT id FROM crossing")}
        outbox = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        escorts = conn.execute("SELECT count(*) FROM escort").fetchone()[0]
        escort_crossings = conn.execute(
            "SELECT count(*) FROM crossing WHERE outcome = 'ESCORT_REQUIRED'"
        ).fetchone()[0]
    assert len(set(acknowledged)) == len(acknowledged)
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged decisions lost"
    # At most the write in flight at each kill committed without being acknowledged.
    assert len(stored) - len(acknowledged) <= kills
    # Nothing partial: every crossing has its outbox row, every escort decision its escort row.
    assert outbox == len(stored) and escorts == escort_crossings > 0

    from checkpoint_client.store import Store

    store = Store.open(path)
    try:
        assert store.verify() == len(stored)  # seq 1..n without gaps, links and hashes intact
        assert store.pending_count() == len(stored)
    finally:
        store.close()


if __name__ == "__main__":
    _child(Path(sys.argv[1]))
