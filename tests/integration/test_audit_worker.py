"""The audit queue and `checkpass worker` (issue 15), on SQLite and PostgreSQL: ingest stores records and their
audit work in one transaction; in the queue mode (this module's app) an upload is only stored and queued and a
worker audits it; in the inline mode the uploading request audits its own entries; the sweep queues and audits
what was left behind; the migration queues crossings stored before it. The SIGKILL test of several worker
processes is test_audit_worker_kill.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from server import db
from server.alerts import queue, rules, worker
from server.alerts import service as alerts
from server.alerts.models import Alert, AuditQueueEntry
from server.checkpoints.models import Device as DeviceRow
from server.config import get_settings
from server.crossings import service as crossings
from server.crossings.models import Crossing
from tests import logscan
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.client_helpers import BIN

device_factory = checkpoint_devices.device_factory

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
FORGED = {
    "outcome": "REFUSE",
    "reasons": ["PASS_SIGNATURE_INVALID"],
    "verification": "PASS_SIGNATURE_INVALID",
    "pass_id": None,
}


@pytest.fixture
def app_settings(tmp_path, database_url):
    """The queue mode: uploads are stored and queued, and only a worker audits them."""
    return get_settings(home=tmp_path, database_url=database_url, audit_mode="queue")


def traffic(app, device_factory) -> tuple[list[dict], dict[str, list[str]]]:
    """Uploads with known findings: a forged pass, a gap in a device's chain (seq 4 never sent) and a record id
    taken by another device (a conflict). Returns the first device's records and the crossing id each finding
    names, by kind."""
    first = device_factory(make_checkpoint(app))
    second = device_factory(make_checkpoint(app, name="G2 苏州西卡口", latitude=31.32, longitude=120.45))
    at = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    sent = [first.record(decided_at=at), first.record(**FORGED, decided_at=at), first.record(decided_at=at)]
    first.record(decided_at=at)  # seq 4: lost on the way
    sent += [first.record(decided_at=at), first.record(decided_at=at)]
    assert first.upload(*sent).json()["accepted"] == 5
    stolen = second.record(id=sent[0]["id"], decided_at=at)
    assert second.upload(stolen).json()["conflict"] == 1
    return sent, {
        rules.PASS_FORGED: [sent[1]["id"]],
        rules.CHAIN_GAP: [sent[3]["id"]],
        rules.UPLOAD_CONFLICT: [sent[0]["id"]],
    }


def findings(app) -> dict[str, list[str]]:
    """The alerts by kind (the crossing ids they name), leaving out the replay's verdicts on these synthetic
    records (no real pass behind them)."""
    with Session(app.state.engine) as session:
        rows = session.exec(select(Alert).where(col(Alert.kind) != rules.DECISION_DIFFERS)).all()
    found: dict[str, list[str]] = {}
    for alert in rows:
        found.setdefault(alert.kind, []).append(alert.crossing_id or "")
    return {kind: sorted(ids) for kind, ids in found.items()}


def unaudited(app) -> int:
    with Session(app.state.engine) as session:
        query = select(func.count()).select_from(Crossing).where(col(Crossing.audited_at).is_(None))
        return session.exec(query).one()


def queued(app) -> int:
    with Session(app.state.engine) as session:
        return queue.stats(session, datetime.now(UTC)).length


def test_stats_give_the_length_and_the_lag_of_the_oldest_entry(app):
    with Session(app.state.engine, expire_on_commit=False) as session:
        assert queue.stats(session, T0) == queue.QueueStats(0, None, 0.0)
        queue.enqueue(session, device_id="d1", crossings=["a", "b"], conflicts=[], now=T0)
        queue.enqueue(
            session,
            device_id="d1",
            crossings=[],
            conflicts=[queue.Conflict("a", "CONTENT_DIFFERS", "{}")],
            now=T0 + timedelta(seconds=30),
        )
        session.commit()
        found = queue.stats(session, T0 + timedelta(seconds=42.5))
    assert found == queue.QueueStats(3, T0, 42.5)
    assert found.to_dict() == {"length": 3, "oldest_enqueued_at": T0.isoformat(), "lag_seconds": 42.5}
    with Session(app.state.engine) as session:  # a clock behind the writer's: no negative lag
        assert queue.stats(session, T0 - timedelta(seconds=5)).lag_seconds == 0.0


def test_in_the_queue_mode_an_upload_is_only_queued_and_a_worker_audits_it_once(app, device_factory):
    sent, expected = traffic(app, device_factory)
    # Stored and acknowledged, nothing audited yet: five crossings and one conflict wait in the queue.
    assert findings(app) == {} and unaudited(app) == 5 and queued(app) == 6
    with Session(app.state.engine) as session:
        oldest = queue.stats(session, T0).oldest_enqueued_at
        entries = session.exec(select(AuditQueueEntry).order_by(col(AuditQueueEntry.id))).all()
    assert oldest is not None
    assert [(e.kind, e.crossing_id) for e in entries] == [("crossing", r["id"]) for r in sent] + [
        ("conflict", sent[0]["id"])
    ]
    assert entries[-1].code == "OTHER_DEVICE" and len(entries[-1].digest or "") == 16  # never the body
    events: list[worker.Claimed | worker.Done] = []
    audited = worker.run(
        app.state.engine,
        size=4,
        limits=alerts.Limits.of(app.state.settings),
        idle_seconds=1,
        once=True,
        stop=threading.Event(),
        clock=lambda: oldest + timedelta(seconds=30),
        report=events.append,
    )
    assert audited == 6
    # Two batches (4 + 2), each reported when claimed and when committed, with the lag of its oldest entry.
    assert [type(e).__name__ for e in events] == ["Claimed", "Done", "Claimed", "Done"]
    assert events[0] == worker.Claimed(4, entries[0].id, entries[3].id, 30.0)
    assert events[3] == worker.Done(
        entries=2, crossings=1, conflicts=1, alerts=events[3].alerts, lag_seconds=30.0
    )
    assert findings(app) == expected
    assert unaudited(app) == 0 and queued(app) == 0
    with Session(app.state.engine) as session:
        marks = set(session.exec(select(Crossing.audited_at)))
    assert marks == {oldest + timedelta(seconds=30)}  # the worker's clock, one transaction per batch
    # Nothing left: another run claims nothing and raises nothing again.
    assert (
        worker.work_batch(
            app.state.engine, size=10, limits=alerts.Limits(), clock=lambda: T0, report=events.append
        )
        is None
    )


def test_a_batch_rolled_back_half_way_leaves_everything_queued(app, device_factory):
    """What a worker killed mid-batch leaves behind: its transaction rolled back, so no alert, no audited_at and
    every entry still queued; the next claim audits them all."""
    _, expected = traffic(app, device_factory)
    with Session(app.state.engine, expire_on_commit=False) as session:
        claimed = queue.claim(session, limit=100)
        assert len(claimed) == 6
        assert alerts.audit_entries(session, claimed, datetime.now(UTC), alerts.Limits()) >= 3
        assert session.exec(select(func.count()).select_from(AuditQueueEntry)).one() == 0  # within it
        session.rollback()  # the process died: its connection's transaction ends without a commit
    assert findings(app) == {} and unaudited(app) == 5 and queued(app) == 6
    done = worker.work_batch(
        app.state.engine,
        size=100,
        limits=alerts.Limits(),
        clock=lambda: datetime.now(UTC),
        report=lambda e: None,
    )
    assert done is not None and done.entries == 6
    assert findings(app) == expected and unaudited(app) == 0 and queued(app) == 0


def test_an_audit_whose_entries_were_already_deleted_never_commits(app, device_factory):
    """The guard behind "exactly once": deleting fewer entries than were claimed (another auditor's commit got
    there first, which the claim's locks rule out) refuses the whole batch."""
    traffic(app, device_factory)
    with Session(app.state.engine, expire_on_commit=False) as session:
        claimed = queue.claim(session, limit=100)
        gone = claimed[2].id
        session.execute(sa.delete(AuditQueueEntry).where(col(AuditQueueEntry.id) == gone))
        with pytest.raises(queue.QueueRace, match="1 of 6 claimed entries were already audited"):
            alerts.audit_entries(session, claimed, datetime.now(UTC), alerts.Limits())
        session.rollback()
    assert findings(app) == {} and unaudited(app) == 5 and queued(app) == 6


def test_two_auditors_never_hold_the_same_entries(app, device_factory):
    """PostgreSQL: a second claim skips the rows the first holds and takes the next. SQLite: the second cannot
    claim at all until the first has committed (one writer), so no entry is audited by both either."""
    traffic(app, device_factory)
    engine = app.state.engine
    with Session(engine, expire_on_commit=False) as first:
        held = queue.claim(first, limit=2)
        assert len(held) == 2
        if engine.dialect.name == "postgresql":
            with Session(engine) as second:
                rest = queue.claim(second, limit=100)
                assert len(rest) == 4
                assert {e.id for e in held}.isdisjoint(e.id for e in rest)
        else:
            with engine.connect() as other:
                other.exec_driver_sql("PRAGMA busy_timeout=50")  # the test need not wait the default 10 s
                with pytest.raises(OperationalError, match="locked"), Session(bind=other) as second:
                    queue.claim(second, limit=100)
        first.rollback()


def test_the_inline_mode_audits_in_the_uploading_request(app, device_factory):
    checkpoint = make_checkpoint(app)
    device = device_factory(checkpoint)
    record = device.record(**FORGED, decided_at=(T0 - timedelta(minutes=5)).isoformat())
    with Session(app.state.engine, expire_on_commit=False) as session:
        row = session.get(DeviceRow, device.device_id)
        outcomes = crossings.ingest(
            session=session, device=row, records=[record], now=T0, audit_mode=queue.INLINE
        )
        assert [o.status for o in outcomes] == ["accepted"]
        assert session.exec(select(Crossing.audited_at)).all() == [T0]
    assert findings(app) == {rules.PASS_FORGED: [record["id"]]} and queued(app) == 0


def test_the_sweep_queues_crossings_stored_without_an_entry_and_audits_leftovers(app, device_factory):
    """Crossings stored before the queue existed, or by something other than ingest, are queued by the sweep at
    their time of receipt; in the inline mode (work=True) it audits what the queue still holds after a minute."""
    _, expected = traffic(app, device_factory)
    with Session(app.state.engine) as session:
        session.execute(sa.delete(AuditQueueEntry).where(col(AuditQueueEntry.kind) == "crossing"))
        session.commit()
        received = session.exec(select(func.max(Crossing.received_at))).one()
    assert queued(app) == 1  # the conflict's
    limits = alerts.Limits.of(app.state.settings)
    with Session(app.state.engine, expire_on_commit=False) as session:
        alerts.sweep(session=session, now=received + timedelta(seconds=30), limits=limits, work=False)
        assert queued(app) == 1  # within a minute of receipt: left to its own upload
        alerts.sweep(session=session, now=received + timedelta(minutes=2), limits=limits, work=False)
        assert (
            queued(app) == 6 and unaudited(app) == 5
        )  # queued, not audited: the queue mode's workers do that
        entries = session.exec(select(AuditQueueEntry).where(col(AuditQueueEntry.kind) == "crossing")).all()
        assert {e.enqueued_at for e in entries} == {received}
        alerts.sweep(session=session, now=received + timedelta(minutes=3), limits=limits, work=False)
        assert queued(app) == 6  # never queued twice
        alerts.sweep(session=session, now=received + timedelta(minutes=4), limits=limits)
    assert findings(app) == expected and unaudited(app) == 0 and queued(app) == 0


def test_the_alerts_page_shows_the_audit_queue(app, device_factory, portal):
    auditor = portal("auditor")
    assert "审计队列：所有上传均已审计。" in auditor.get("/audit/alerts").text
    traffic(app, device_factory)
    assert "审计队列：6 条上传待审计，最早的已等待" in auditor.get("/audit/alerts").text


def _alembic(engine, action, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


CHECKPOINT_0004 = ("id", "name", "region", "location", "active", "created_at")
DEVICE_0004 = ("id", "checkpoint_id", "name", "enrolled_at")
CROSSING_0004 = (
    "id", "device_id", "checkpoint_id", "seq", "prev_hash", "record_hash", "decided_at", "received_at",
    "outcome", "plate", "enterprise_uscc", "policy_version", "bundle_version", "body_json", "audited_at",
)  # fmt: skip


def test_the_migration_queues_the_crossings_never_audited(tmp_path, database_url):
    engine = db.make_engine(get_settings(home=tmp_path, database_url=database_url))
    _alembic(engine, command.upgrade, "0023")
    with engine.begin() as connection:  # the tables as 0023 has them, through their 0004 columns only
        connection.execute(
            sa.insert(sa.table("checkpoint", *map(sa.column, CHECKPOINT_0004))),
            [{"id": 1, "name": "卡口", "region": "320583", "location": "", "active": True, "created_at": T0}],
        )
        connection.execute(
            sa.insert(sa.table("device", *map(sa.column, DEVICE_0004))),
            [{"id": "d" * 32, "checkpoint_id": 1, "name": "", "enrolled_at": T0}],
        )
        rows = [
            dict(
                id=f"00000000-0000-4000-8000-{seq:012d}", device_id="d" * 32, checkpoint_id=1, seq=seq,
                prev_hash="0" * 64, record_hash="1" * 64, decided_at=T0, received_at=T0 + timedelta(minutes=seq),
                outcome="RELEASE", plate="苏EA1234", enterprise_uscc=None, policy_version=1, bundle_version=1,
                body_json="{}", audited_at=T0 + timedelta(hours=1) if seq == 2 else None,
            )
            for seq in (1, 2, 3)
        ]  # fmt: skip
        connection.execute(sa.insert(sa.table("crossing", *map(sa.column, CROSSING_0004))), rows)
    _alembic(engine, command.upgrade, "0024")
    with Session(engine) as session:
        entries = session.exec(select(AuditQueueEntry).order_by(col(AuditQueueEntry.id))).all()
    assert [(e.kind, e.crossing_id, e.device_id, e.enqueued_at) for e in entries] == [
        ("crossing", rows[0]["id"], "d" * 32, T0 + timedelta(minutes=1)),
        ("crossing", rows[2]["id"], "d" * 32, T0 + timedelta(minutes=3)),
    ]
    _alembic(engine, command.downgrade, "0023")
    assert "audit_queue" not in sa.inspect(engine).get_table_names()
    _alembic(engine, command.upgrade, "head")
    engine.dispose()


def _worker_env(app) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPASS_", "CHECKPOINT_"))}
    settings = app.state.settings
    env["CHECKPASS_HOME"] = str(settings.home)
    if settings.database_url:
        env["CHECKPASS_DATABASE_URL"] = settings.database_url
    return env


def _keep(app, stderr: bytes) -> None:
    """A worker's log lines (JSON on stderr), kept and scanned for personal data when the session ends."""
    with logscan.track(app.state.settings.home / "worker.log").open("ab") as log:
        log.write(stderr)


def audit_status(app) -> dict:
    done = subprocess.run(
        [str(BIN / "checkpass"), "audit", "status", "--json"],
        env=_worker_env(app),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def test_checkpass_worker_once_audits_the_queue_and_prints_each_batch(app, device_factory):
    _, expected = traffic(app, device_factory)
    waiting = audit_status(app)
    assert waiting["length"] == 6 and waiting["lag_seconds"] >= 0 and waiting["oldest_enqueued_at"]
    done = subprocess.run(
        [str(BIN / "checkpass"), "worker", "--once", "--batch", "4", "--json"],
        env=_worker_env(app),
        capture_output=True,
        timeout=300,
    )
    _keep(app, done.stderr)
    assert done.returncode == 0, done.stderr.decode()
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [(line["event"], line["entries"]) for line in lines] == [
        ("claimed", 4),
        ("audited", 4),
        ("claimed", 2),
        ("audited", 2),
    ]
    assert all(line["lag_seconds"] >= 0 for line in lines)
    assert findings(app) == expected and unaudited(app) == 0 and queued(app) == 0
    assert audit_status(app) == {"length": 0, "oldest_enqueued_at": None, "lag_seconds": 0.0}


def test_checkpass_worker_refuses_a_bad_batch_size(app):
    done = subprocess.run(
        [str(BIN / "checkpass"), "worker", "--batch", "0"],
        env=_worker_env(app),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 2 and b"--batch" in done.stderr and done.stdout == b""


def test_sigterm_stops_an_idle_worker_with_exit_0(app, device_factory):
    _, expected = traffic(app, device_factory)
    process = subprocess.Popen(
        [str(BIN / "checkpass"), "worker", "--batch", "100", "--idle-seconds", "0.2"],
        env=_worker_env(app),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    seen = Counter()
    for raw in process.stdout:
        word = raw.decode().split(" ", 1)[0]
        seen[word] += 1
        if word == "audited":  # the queue is empty now: the worker idles, looking again every 0.2 s
            process.send_signal(signal.SIGTERM)
            break
    out, errors = process.communicate(timeout=120)
    _keep(app, errors)
    rest = out.decode()
    assert process.returncode == 0
    assert seen == {"checkpass": 1, "claimed": 1, "audited": 1}
    assert rest.strip() == "checkpass worker: stopped after auditing 6 entries"
    assert findings(app) == expected and queued(app) == 0
