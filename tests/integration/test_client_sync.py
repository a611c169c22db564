"""Sync against a real `checkpass serve` (SQLite and PostgreSQL): decisions reach the server exactly once, even
when the server is SIGKILLed mid-batch and every batch is replayed; records the server refuses are kept and not
resent; escort answers come back and hand-overs go up; sync runs beside the screen recording decisions.
(Bundles, retries and revoked devices: test_client_sync_trust.py.)"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select
from sqlmodel import Session

from checkpoint_client import station
from checkpoint_client.sync import SyncError, SyncReport
from passcore.chain import canonical, check_chain, record_hash
from passcore.crossing import CHECK_KEYS
from server.crossings.models import Crossing, CrossingConflict, EscortRequest
from tests.integration import client_helpers
from tests.integration.client_helpers import Checkpoint, ServerProcess, enrol_checkpoint

# The fixtures, for this module: a real server per database, its bureau, and a freshly enrolled laptop.
bureau_server, bureau, checkpoint = (
    client_helpers.bureau_server,
    client_helpers.bureau,
    client_helpers.checkpoint,
)


def server_rows(server: ServerProcess, device_id: str) -> list[Crossing]:
    engine = server.engine()
    try:
        with Session(engine) as session:
            query = select(Crossing).where(Crossing.device_id == device_id).order_by(Crossing.seq)
            return list(session.exec(query).scalars())
    finally:
        engine.dispose()


def count(server: ServerProcess, model: Any, **where: Any) -> int:
    engine = server.engine()
    try:
        with Session(engine) as session:
            query = select(func.count()).select_from(model).filter_by(**where)
            return int(session.exec(query).scalar_one())
    finally:
        engine.dispose()


def assert_server_holds_exactly(server: ServerProcess, checkpoint: Checkpoint, expected: int) -> None:
    """One row per local record, byte for byte, and the device's chain intact on the server too."""
    rows = server_rows(server, checkpoint.device.device_id)
    local = {c.id: c for c in checkpoint.store.recent(expected + 10)}
    assert len(rows) == len(local) == expected
    assert {row.id for row in rows} == set(local)
    for row in rows:
        assert hashlib.sha256(row.body_json.encode()).hexdigest() == row.record_hash == local[row.id].hash
        assert (
            row.body_json
            == canonical({k: v for k, v in local[row.id].record.items() if k != "hash"}).decode()
        )
    assert check_chain(json.loads(row.body_json) | {"hash": row.record_hash} for row in rows) == expected
    assert checkpoint.store.verify() == expected


def test_decisions_go_up_once_and_the_report_says_so(bureau_server, checkpoint):
    made = [checkpoint.decide(name) for name in sorted(checkpoint.scenarios)]
    assert {c.record["outcome"] for c in made} == {"RELEASE", "MEDICAL_HOLD", "ESCORT_REQUIRED", "REFUSE"}
    report = checkpoint.sync()
    assert (report.uploaded, report.duplicate, report.pending, report.batches, report.refused) == (
        5,
        0,
        0,
        1,
        [],
    )
    assert (
        report.bundle["status"] == "unchanged" and report.bundle["stale"] is False and not report.clock_skew
    )
    assert report.escorts_received == 1 and report.server_time is not None
    assert_server_holds_exactly(bureau_server, checkpoint, 5)
    again = checkpoint.sync()
    assert (again.uploaded, again.batches, again.bundle["status"]) == (0, 0, "unchanged")
    [escort] = checkpoint.store.escorts()
    assert escort["status"] == "open" and escort["server_id"] is not None and escort["own"]
    assert escort["enterprise"]["name"] == "武汉长江物流有限公司"


def test_server_killed_mid_batch_then_every_batch_replayed_three_times(bureau_server, bureau, tmp_path):
    checkpoint = enrol_checkpoint(bureau_server, bureau, tmp_path / "cp", sync_attempts=2, sync_timeout_s=120)
    # 2,500 vehicles (five batches): the five demo cases in turn, each vehicle with a pass of its own.
    start, bundle = datetime.now(UTC), checkpoint.bundle()
    cases = []
    for name in sorted(checkpoint.scenarios):
        parsed = station.parse_scenario(checkpoint.scenarios[name])
        cases.append((parsed, *station.evaluate(parsed, bundle, now=start)))
    for n in range(2500):
        parsed, verification, decision = cases[n % 5]
        checkpoint.store.record_decision(
            replace(
                decision,
                decided_at=start + timedelta(milliseconds=n),
                pass_id=secrets.token_hex(12) if decision.pass_id else None,
            ),
            occupants=parsed.occupants,
            verification=verification.code if verification else None,
            checks=dict.fromkeys(CHECK_KEYS, True if verification else None),
            vehicle_origin=parsed.vehicle_origin,
        )
    in_flight = threading.Event()

    def on_request(request: httpx.Request) -> None:
        if request.url.path == "/api/v1/crossings":
            in_flight.set()

    rng, cut_off, kills = random.Random(), 0, 0
    with httpx.Client(event_hooks={"request": [on_request]}) as client:
        while cut_off < 3 and checkpoint.store.pending_count() and kills < 12:
            in_flight.clear()
            outcome: list[Any] = []
            worker = threading.Thread(target=lambda: outcome.append(_sync_catching(checkpoint, client)))
            worker.start()
            assert in_flight.wait(30), "sync never sent a batch"
            threading.Event().wait(rng.uniform(0, 0.3))  # somewhere in the batch: reading, storing, answering
            bureau_server.kill()
            kills += 1
            worker.join(60)
            cut_off += isinstance(outcome[0], SyncError)
            if isinstance(outcome[0], SyncError):
                assert outcome[0].code == "SERVER_UNREACHABLE" and "cannot be reached" in outcome[0].message
            bureau_server.start()
        assert cut_off >= 3, f"only {cut_off} of {kills} kills landed during a sync"
        # Then sync as the screen would, again until the outbox is empty (a slow server may still be finishing
        # a batch a killed connection sent: a retry then waits for its lock, and the next sync finds duplicates).
        for _ in range(10):
            final = _sync_catching(checkpoint, client)
            if isinstance(final, SyncReport) and final.pending == 0:
                break
    assert isinstance(final, SyncReport) and final.pending == 0 and final.refused == []
    # Replay: every batch three more times, concurrently, as a confused network might deliver them.
    records = [c.record for c in reversed(checkpoint.store.recent(3000))]
    batches = [records[i : i + 500] for i in range(0, len(records), 500)]
    headers = {"Authorization": f"Bearer {checkpoint.device.token}"}
    with httpx.Client(base_url=bureau_server.url, headers=headers, timeout=60) as client:

        def send(batch: list[dict]) -> dict:
            answer = client.post("/api/v1/crossings", json={"records": batch})
            assert answer.status_code == 200, answer.text
            return answer.json()

        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(send, [batch for batch in batches for _ in range(3)]))
    assert all(a["duplicate"] == len(a["results"]) and a["accepted"] == a["conflict"] == 0 for a in answers)
    assert_server_holds_exactly(bureau_server, checkpoint, 2500)
    assert count(bureau_server, CrossingConflict, device_id=checkpoint.device.device_id) == 0
    escort_ids = [r["id"] for r in records if r["outcome"] == "ESCORT_REQUIRED"]
    engine = bureau_server.engine()
    with Session(engine) as session:  # one escort request per hard-hit crossing, however often it was sent
        query = select(EscortRequest.crossing_id).where(
            EscortRequest.checkpoint_id == checkpoint.device.checkpoint["id"]
        )
        requested = list(session.exec(query).scalars())
    engine.dispose()
    assert len(escort_ids) == 500 and sorted(requested) == sorted(escort_ids)
    checkpoint.store.close()


def _sync_catching(checkpoint: Checkpoint, client: httpx.Client) -> SyncReport | SyncError:
    try:
        return checkpoint.sync(client=client)
    except SyncError as err:
        return err


def test_escort_answer_comes_back_and_the_hand_over_goes_up(bureau_server, bureau, checkpoint):
    crossing = checkpoint.decide("hard-hit-escort")
    assert checkpoint.store.escorts()[0]["status"] == "unsent"
    checkpoint.sync()
    [escort] = checkpoint.store.escorts()
    assert escort["status"] == "open" and escort["crossing_id"] == crossing.id
    arrival = (datetime.now(UTC) + timedelta(minutes=45)).replace(second=0, microsecond=0)
    eta = arrival.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")
    bureau.answer_escort(
        "demo-enterprise-wuhan", escort["server_id"], staff="周敏", phone="138 1234 5678", eta=eta
    )
    report = checkpoint.sync()
    assert report.escorts_received == 1
    [escort] = checkpoint.store.escorts()
    assert (escort["status"], escort["staff_name"], escort["staff_phone"]) == (
        "answered",
        "周敏",
        "138 1234 5678",
    )
    assert escort["eta"] == arrival and escort["answered_at"] is not None
    # Whole seconds, not before the decision (when this runs within the second it was made in, wait for the
    # next one), and not ahead of the server's clock.
    decided = datetime.fromisoformat(crossing.record["decided_at"])
    while (handed_over := datetime.now(UTC).replace(microsecond=0)) < decided:
        time.sleep(0.05)
    checkpoint.store.record_handover(
        crossing.id, handed_over, staff_name="周敏", staff_id_last4="123X", officer="KS-0042"
    )
    assert checkpoint.store.escorts() == []  # done here, even before the server hears of it
    report = checkpoint.sync()
    assert report.handovers_sent == 1 and report.handover_errors == []
    engine = bureau_server.engine()
    with Session(engine) as session:
        row = session.exec(select(EscortRequest).where(EscortRequest.id == escort["server_id"])).scalar_one()
        assert row.status == "handed_over" and row.handed_over_at == handed_over
        assert (row.handover_staff_name, row.handover_staff_id_last4, row.handover_officer) == (
            "周敏",
            "123X",
            "KS-0042",
        )
    [done] = checkpoint.store.escorts(include_done=True)
    assert done["handover_synced"] and done["handed_over_at"] == handed_over
    assert checkpoint.sync().handovers_sent == 0  # nothing left to send
    # Sent again (an answer lost on the way back): the server keeps the first hand-over.
    with checkpoint.store._db.write("test") as conn:
        conn.execute(
            "UPDATE escort SET handover_synced = 0, handed_over_at = ?",
            ((handed_over + timedelta(minutes=3)).isoformat(),),
        )
    assert checkpoint.sync().handovers_sent == 1
    [done] = checkpoint.store.escorts(include_done=True)
    assert done["handed_over_at"] == handed_over
    engine.dispose()


def test_more_escort_requests_than_one_answer_holds_all_come_back(bureau_server, checkpoint):
    made = [checkpoint.decide("hard-hit-escort").id for _ in range(503)]  # one page is 500
    report = checkpoint.sync()
    assert report.uploaded == 503 and report.escorts_received == 503
    escorts = checkpoint.store.escorts()
    assert sorted(e["crossing_id"] for e in escorts) == sorted(made)
    assert all(e["status"] == "open" and e["server_id"] for e in escorts)
    assert checkpoint.sync().escorts_received == 0  # nothing changed since


def test_refused_records_are_kept_reported_and_not_resent(bureau_server, checkpoint):
    first, second, third = (checkpoint.decide(name) for name in ("release", "no-pass", "fever"))
    # Another version of the first record reaches the server first (e.g. from a restored backup of the laptop).
    other = first.record | {"outcome": "REFUSE"}
    other["hash"] = record_hash(other)
    headers = {"Authorization": f"Bearer {checkpoint.device.token}"}
    answer = httpx.post(f"{bureau_server.url}/api/v1/crossings", json={"records": [other]}, headers=headers)
    assert answer.json()["accepted"] == 1
    # And the third record is damaged on this laptop after it was hashed.
    with checkpoint.store._db.write("test") as conn:
        damaged = json.dumps(third.record | {"plate": "苏EB0000"}, ensure_ascii=False)
        conn.execute("UPDATE crossing SET record = ? WHERE id = ?", (damaged, third.id))
    report = checkpoint.sync()
    assert report.uploaded == 1 and report.pending == 0
    assert sorted((r["seq"], r["status"], r["code"]) for r in report.refused) == [
        (1, "conflict", "CONTENT_DIFFERS"),
        (3, "invalid", "HASH_MISMATCH"),
    ]
    assert [(c.id, c.sync_code) for c in checkpoint.store.refused()] == [
        (first.id, "CONTENT_DIFFERS"),
        (third.id, "HASH_MISMATCH"),
    ]
    assert checkpoint.store.get(second.id).synced
    again = checkpoint.sync()
    assert again.refused == [] and again.batches == 0  # not resent
    assert count(bureau_server, CrossingConflict, crossing_id=first.id) == 1


def test_background_sync_while_the_screen_records(bureau_server, checkpoint):
    stop, errors = threading.Event(), []

    def background() -> None:
        while not stop.is_set():
            try:
                checkpoint.sync()
            except BaseException as err:  # reported below
                errors.append(err)
                return

    worker = threading.Thread(target=background)
    worker.start()
    names = sorted(checkpoint.scenarios)
    for n in range(120):
        checkpoint.decide(names[n % 5])
    stop.set()
    worker.join()
    assert errors == []
    checkpoint.sync()
    assert_server_holds_exactly(bureau_server, checkpoint, 120)
