"""Sync against a real `checkpass serve` (SQLite and PostgreSQL): decisions reach the server exactly once, even
when the server is SIGKILLed mid-batch and every batch is replayed; bundles are checked (forged, older, expired
refused; clock skew flagged); escort answers come back and hand-overs go up; a revoked device is told to enrol."""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from checkpoint_client import device as devices
from checkpoint_client import station, truststore
from checkpoint_client.config import Settings, get_settings
from checkpoint_client.records import CHECK_KEYS, check_chain
from checkpoint_client.store import Store, StoredCrossing
from checkpoint_client.sync import SyncError, SyncReport, sync_once
from passcore import trust
from passcore.chain import canonical, record_hash
from passcore.keys import generate_signing_key
from server.config import get_settings as server_settings
from server.crossings.models import Crossing, CrossingConflict, EscortRequest
from server.keyring import service as keyring
from tests.integration import client_helpers
from tests.integration.client_helpers import Bureau, ServerProcess, record_scenario

bureau_server = client_helpers.bureau_server  # the module-scoped fixture, for this module


@pytest.fixture(scope="module")
def bureau(bureau_server) -> Bureau:
    return Bureau(bureau_server.url)


@dataclass
class Checkpoint:
    """An enrolled laptop: its settings, store and held bundle; decides demo scenarios and syncs."""

    settings: Settings
    store: Store
    device: devices.Device
    scenarios: dict[str, dict[str, Any]]
    sleeps: list[float] = field(default_factory=list)

    def bundle(self, now: datetime | None = None) -> trust.TrustBundle:
        return truststore.held_bundle(self.settings, now=now or datetime.now(UTC))

    def decide(self, name: str, now: datetime | None = None) -> StoredCrossing:
        now = now or datetime.now(UTC)
        return record_scenario(self.store, self.scenarios[name], self.bundle(now), now)[2]

    def sync(self, **options: Any) -> SyncReport:
        # Back-off sleeps are recorded, not slept: the tests assert them instead of waiting for them.
        return sync_once(self.settings, self.store, sleep=self.sleeps.append, **options)


def enrol(server: ServerProcess, bureau: Bureau, home: Path, **settings: Any) -> Checkpoint:
    config = get_settings(home=home, **settings)
    code = bureau.code(bureau.checkpoint())
    done = devices.enrol(config, server=server.url, code=code, name="东卡口 笔记本 1", now=datetime.now(UTC))
    assert done.bundle_version is not None and done.bundle_problem is None
    scenarios = {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in (server.home / "demo-out" / "scenarios").glob("*.json")
    }
    return Checkpoint(config, Store.open(config.store_path), done.device, scenarios)


@pytest.fixture
def checkpoint(bureau_server, bureau, tmp_path):
    made = enrol(bureau_server, bureau, tmp_path / "checkpoint")
    yield made
    made.store.close()


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
    checkpoint = enrol(bureau_server, bureau, tmp_path / "cp", sync_attempts=2, sync_timeout_s=120)
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
    handed_over = datetime.now(UTC).replace(microsecond=0)
    checkpoint.store.record_handover(crossing.id, handed_over)
    assert checkpoint.store.escorts() == []  # done here, even before the server hears of it
    report = checkpoint.sync()
    assert report.handovers_sent == 1 and report.handover_errors == []
    engine = bureau_server.engine()
    with Session(engine) as session:
        row = session.exec(select(EscortRequest).where(EscortRequest.id == escort["server_id"])).scalar_one()
        assert row.status == "handed_over" and row.handed_over_at == handed_over
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


def test_a_newer_bundle_is_fetched_and_used(bureau_server, checkpoint):
    before = checkpoint.bundle().version
    pass_id = json.loads((bureau_server.home / "demo-out" / "kunshan" / "pass.json").read_text())["pass_id"]
    bureau_server.run("revoke", pass_id, "--reason", "测试吊销")
    report = checkpoint.sync()
    assert report.bundle["status"] == "updated" and report.bundle["version"] > before
    assert pass_id in checkpoint.bundle().revoked
    assert checkpoint.decide("release").record["outcome"] == "REFUSE"  # the revoked pass is refused now
    assert checkpoint.sync().bundle["status"] == "unchanged"  # If-None-Match: 304


class Tampering(httpx.HTTPTransport):
    """The network between the laptop and the server, changing the trust bundle on its way."""

    def __init__(self, change) -> None:
        super().__init__()
        self.change = change

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers.pop("If-None-Match", None)
        response = super().handle_request(request)
        if request.url.path != "/api/v1/trust-bundle" or response.status_code != 200:
            return response
        body = self.change(response.read())
        return httpx.Response(200, headers={"ETag": '"forged"'}, content=body)


@pytest.mark.parametrize(
    ("forgery", "code"),
    [("bit-flipped", "BUNDLE_SIGNATURE_INVALID"), ("another-root", "BUNDLE_UNKNOWN_ROOT")],
)
def test_a_forged_bundle_is_refused_and_the_held_one_kept(bureau_server, checkpoint, forgery, code):
    root = truststore.pinned_root(checkpoint.settings)

    def change(data: bytes) -> bytes:
        if forgery == "bit-flipped":
            return data[:-1] + bytes([data[-1] ^ 1])  # inside the signature
        bundle = trust.load_bundle(data, root=root, now=None)
        return trust.sign_bundle(replace(bundle, version=bundle.version + 1), generate_signing_key())

    held = checkpoint.settings.bundle_path.read_bytes()
    with httpx.Client(transport=Tampering(change)) as client:
        report = checkpoint.sync(client=client)
    assert report.bundle["status"] == "refused" and report.bundle["code"] == code
    assert checkpoint.settings.bundle_path.read_bytes() == held
    assert report.bundle["version"] == checkpoint.bundle().version


def test_an_older_bundle_from_the_server_is_refused(bureau_server, checkpoint):
    # The laptop holds a newer bundle (signed by the real root) than the server now offers, as after the server
    # was restored from an old backup: the older one must not replace it.
    root = keyring.load_root(
        server_settings(home=bureau_server.home, database_url=bureau_server.database_url)
    )
    newer = replace(checkpoint.bundle(), version=10_000)
    path = checkpoint.settings.home / "newer.cose"
    path.write_bytes(trust.sign_bundle(newer, root))
    truststore.import_bundle(checkpoint.settings, path, now=datetime.now(UTC))
    report = checkpoint.sync()
    assert report.bundle["status"] == "refused" and report.bundle["code"] == "BUNDLE_ROLLBACK"
    assert checkpoint.bundle().version == 10_000 and report.bundle["version"] == 10_000


def test_expired_bundle_refused_and_clock_skew_flagged(bureau_server, checkpoint):
    bundle = checkpoint.bundle()
    late = checkpoint.sync(now=bundle.expires_at + timedelta(days=1))  # the laptop's clock far ahead
    assert late.bundle["status"] == "refused" and late.bundle["code"] == "BUNDLE_EXPIRED"
    early = checkpoint.sync(now=bundle.issued_at - timedelta(hours=2))  # the laptop's clock behind
    assert early.clock_skew is True and early.bundle["version"] == bundle.version
    assert checkpoint.sync().clock_skew is False


def test_unreachable_server_retries_with_backoff_then_reports(bureau_server, bureau, tmp_path):
    checkpoint = enrol(
        bureau_server, bureau, tmp_path / "cp", sync_attempts=4, sync_backoff_s=0.5, sync_backoff_max_s=1.5
    )
    checkpoint.decide("release")
    dead = replace(checkpoint.device, server=f"http://127.0.0.1:{client_helpers.free_port()}")
    devices.save_device(checkpoint.settings, dead)
    with pytest.raises(SyncError) as failed:
        checkpoint.sync(rand=lambda: 1.0)
    assert failed.value.code == "SERVER_UNREACHABLE" and "cannot be reached" in failed.value.message
    assert checkpoint.sleeps == [0.5, 1.0, 1.5]  # doubling, capped; full jitter scales these by rand()
    assert failed.value.report.pending == 1 and checkpoint.store.pending_count() == 1
    # Down for two attempts, then back: the third attempt gets through.
    devices.save_device(checkpoint.settings, replace(dead, server=bureau_server.url))
    bureau_server.kill()
    checkpoint.sleeps.clear()

    def sleep(delay: float) -> None:
        checkpoint.sleeps.append(delay)
        if len(checkpoint.sleeps) == 2:
            bureau_server.start()

    report = sync_once(checkpoint.settings, checkpoint.store, sleep=sleep, rand=lambda: 0.5)
    assert report.uploaded == 1 and report.retries == 2 and checkpoint.sleeps == [0.25, 0.5]
    checkpoint.store.close()


class Overloaded(httpx.HTTPTransport):
    """A proxy in front of the server answering 503 and then 429 (with Retry-After) before letting one through."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = [httpx.Response(503), httpx.Response(429, headers={"Retry-After": "7"})]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.answers.pop(0) if self.answers else super().handle_request(request)


def test_5xx_and_429_are_retried_and_retry_after_is_honoured(bureau_server, bureau, tmp_path):
    checkpoint = enrol(bureau_server, bureau, tmp_path / "cp", sync_backoff_max_s=10)
    checkpoint.decide("no-pass")
    with httpx.Client(transport=Overloaded()) as client:
        report = checkpoint.sync(client=client, rand=lambda: 0.0)
    assert report.uploaded == 1 and report.retries == 2
    assert checkpoint.sleeps == [0.0, 7.0]  # jitter may say 0; the server's Retry-After may not be ignored
    checkpoint.store.close()


def test_revoked_device_is_told_to_enrol_again(bureau_server, bureau, checkpoint):
    checkpoint.decide("release")
    bureau.revoke(checkpoint.device.checkpoint["id"], checkpoint.device.device_id)
    with pytest.raises(SyncError) as refused:
        checkpoint.sync()
    assert refused.value.code == "DEVICE_REVOKED" and "checkpoint enroll" in refused.value.message
    assert checkpoint.device.token not in refused.value.message
    assert checkpoint.store.pending_count() == 1 and checkpoint.sleeps == []  # kept, and no pointless retries


def test_not_enrolled(tmp_path):
    settings = get_settings(home=tmp_path)
    store = Store.open(settings.store_path)
    with pytest.raises(SyncError) as refused:
        sync_once(settings, store)
    assert refused.value.code == "NOT_ENROLLED" and "checkpoint enroll" in refused.value.message
    store.close()
