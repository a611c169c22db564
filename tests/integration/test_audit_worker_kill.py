"""`checkpass worker` processes killed with SIGKILL mid-batch, on PostgreSQL (issue 15): every record is audited
exactly once.

A simulated day of traffic with real passes and planted cloned passes (tests/clone_traffic.py), plus lost records
(gaps in a laptop's chain) and records sent again with other content (conflicts), is stored and queued through the
real ingest in the queue mode. Then real worker processes share the queue:

- three rounds in which the test holds a SHARE lock on ``crossing``: two workers claim a batch each and stop at
  the batch's last write (marking the crossings audited); one is SIGKILLed there, certainly half-way, and the
  other gets SIGTERM, which lets it finish its batch once the lock is gone and exit 0;
- a round of three workers each SIGKILLed right after its second "claimed" line, wherever it then is;
- workers run with --once until the queue is empty.

Proof that no record's audit was committed twice: triggers the test installs log, in the auditing transaction
itself, every update of a crossing's ``audited_at`` and every deletion of a queue entry, with the transaction's
id. A killed batch's log rows roll back with it; a committed one's stay. Each crossing has exactly one such row
and each queue entry exactly one deletion. The alerts are exactly what a fresh audit of the whole day finds
(computed at the end in a transaction that is rolled back), each once, and every planted clone, gap and conflict
is among them.

PostgreSQL only: FOR UPDATE SKIP LOCKED is what lets several workers share the queue; SQLite has one writer.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlmodel import Session, col, func, select

from passcore.chain import record_hash
from server.alerts import chains, facts, queue, rules
from server.alerts.facts import Limits
from server.alerts.models import Alert, AuditQueueEntry
from server.alerts.replay import ReplayContext
from server.checkpoints.models import Device
from server.config import get_settings
from server.crossings import service as crossings
from server.crossings.models import Crossing, CrossingConflict, EscortRequest
from tests import clone_traffic, logscan
from tests.integration.client_helpers import BIN

VEHICLES, CLONES, GAPS, CONFLICTS = 60, 5, 3, 3
BATCH = 25
BLOCKED_ROUNDS = 3

PROOF = """
CREATE TABLE audit_proof (crossing_id varchar(36) NOT NULL, tx bigint NOT NULL);
CREATE TABLE dequeue_proof (entry_id bigint NOT NULL, tx bigint NOT NULL);
CREATE FUNCTION log_audited() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_proof VALUES (NEW.id, txid_current()); RETURN NEW; END $$;
CREATE TRIGGER audited AFTER UPDATE OF audited_at ON crossing FOR EACH ROW EXECUTE FUNCTION log_audited();
CREATE FUNCTION log_dequeued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO dequeue_proof VALUES (OLD.id, txid_current()); RETURN OLD; END $$;
CREATE TRIGGER dequeued AFTER DELETE ON audit_queue FOR EACH ROW EXECUTE FUNCTION log_dequeued();
"""


@pytest.fixture
def database_url(postgres_url):
    return postgres_url


@pytest.fixture
def app_settings(tmp_path, database_url):
    return get_settings(home=tmp_path, database_url=database_url, audit_mode="queue")


class Worker:
    """A `checkpass worker` process; its stdout read line by line, its stderr kept in a file."""

    def __init__(self, app, log: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPASS_", "CHECKPOINT_"))}
        env["CHECKPASS_HOME"] = str(app.state.settings.home)
        env["CHECKPASS_DATABASE_URL"] = app.state.settings.database_url
        # Kept for a failing test's post-mortem, and scanned for personal data when the session ends.
        with logscan.track(log).open("ab") as errors:
            self.process = subprocess.Popen(
                [str(BIN / "checkpass"), "worker", "--json", "--batch", str(BATCH), *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=errors,
            )

    def next_claim(self) -> dict | None:
        """Lines up to the next "claimed" one (None: the worker ended without another claim)."""
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = json.loads(raw)
            if line["event"] == "claimed":
                return line
        return None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=60)

    def finish(self) -> list[dict]:
        """The rest of its lines, once it has exited."""
        out, _ = self.process.communicate(timeout=600)
        return [json.loads(line) for line in out.splitlines()]


def plant(day, chained, seed: int) -> tuple[list[str], list[dict]]:
    """Lose GAPS records on their way (the ids of the records after them, which the gap alerts name) and make
    CONFLICTS records that reuse a stored record's id with other content (sent at the end)."""
    rng = random.Random(seed)
    referenced = {record.get("repeat_of") for items in chained.values() for _, record in items}
    laptops = sorted(laptop for laptop, items in chained.items() if len(items) >= 4)
    after_gap, conflicts = [], []
    for laptop in rng.sample(laptops, GAPS):
        items = chained[laptop]
        index = next(
            i
            for i in range(1, len(items) - 1)
            if items[i][1]["id"] not in day.clones
            and items[i][1]["id"] not in referenced
            and items[i][1].get("repeat_of") is None
        )
        del items[index]
        after_gap.append(items[index][1]["id"])
    for laptop in rng.sample(laptops, CONFLICTS):
        _, original = chained[laptop][0]
        later = datetime.fromisoformat(original["decided_at"]) + timedelta(seconds=1)
        edited = {k: v for k, v in original.items() if k != "hash"} | {"decided_at": later.isoformat()}
        conflicts.append(edited | {"hash": record_hash(edited)})
    return after_gap, conflicts


def fresh_audit(session: Session, now: datetime, limits: Limits) -> set[str]:
    """The dedupe keys of everything an audit of the whole stored day finds, device by device (what
    service._audit does for one batch). Reads only."""
    context = ReplayContext(session)
    keys: set[str] = set()
    for device in session.exec(select(Device)).all():
        stored = list(
            session.exec(select(Crossing).where(Crossing.device_id == device.id).order_by(col(Crossing.seq)))
        )
        if not stored:
            continue
        found = facts.crossing_findings(session, stored, context) + facts.clone_findings(
            session, stored, limits
        )
        wanted = [c.id for c in stored if c.outcome == "ESCORT_REQUIRED"]
        if wanted:
            escorts = session.exec(select(EscortRequest).where(col(EscortRequest.crossing_id).in_(wanted)))
            found += facts.escort_findings(session, escorts, now, context)
        found += chains.check_around(session, device, {c.seq for c in stored}, now)[0]
        keys |= {finding.dedupe_key for finding in found}
    for conflict in session.exec(select(CrossingConflict)).all():
        digest = queue.digest(conflict.body_json)
        keys.add(f"{rules.UPLOAD_CONFLICT}:{conflict.device_id}:{conflict.crossing_id}:{digest}")
    return keys


def scalar(engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def test_workers_killed_mid_batch_leave_every_record_audited_exactly_once(app, tmp_path):
    engine, settings = app.state.engine, app.state.settings
    limits = Limits.of(settings)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)  # passes issued the hour before
    day = clone_traffic.simulate(vehicles=VEHICLES, clones=CLONES, seed=21, start=start, reach=limits.reach)
    with Session(engine, expire_on_commit=False) as session:
        world = clone_traffic.prepare(session, settings, day, VEHICLES)
        chained = clone_traffic.records(day, world)
        after_gap, conflicting = plant(day, chained, seed=21)
        sent = clone_traffic.uploads(day, chained, seed=21)
        last = sent[-1][0]
        by_id = {record["id"]: laptop for laptop, items in chained.items() for _, record in items}
        sent += [(last + timedelta(minutes=1), by_id[c["id"]], [c]) for c in conflicting]
        statuses: Counter[str] = Counter()
        for when, laptop, batch in sent:
            outcomes = crossings.ingest(
                session=session, device=world.devices[laptop], records=batch, now=when, audit_mode=queue.QUEUE
            )
            statuses.update(o.status for o in outcomes)
        entry_ids = set(session.exec(select(AuditQueueEntry.id)))
    stored = len(day.events) - GAPS
    assert statuses == {"accepted": stored, "conflict": CONFLICTS}
    assert len(entry_ids) == stored + CONFLICTS
    assert scalar(engine, "SELECT count(*) FROM alert") == 0  # the queue mode: ingest audited nothing
    with engine.begin() as connection:
        connection.exec_driver_sql(PROOF)

    log = tmp_path / "workers.log"
    plain_url = settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    interrupted = 0
    for _ in range(BLOCKED_ROUNDS):
        before = scalar(engine, "SELECT count(*) FROM audit_queue")
        with psycopg.connect(plain_url) as blocker:
            # Held until the workers have claimed: their audit stops at its UPDATE of crossing.audited_at.
            blocker.execute("LOCK TABLE crossing IN SHARE MODE")
            killed, stopped = Worker(app, log), Worker(app, log)
            claims = [killed.next_claim(), stopped.next_claim()]
            assert all(claims)
            killed.kill()
            stopped.process.send_signal(signal.SIGTERM)
            # Neither batch has committed: every entry is still queued, the killed one's included.
            assert scalar(engine, "SELECT count(*) FROM audit_queue") == before
            blocker.rollback()
        lines = stopped.finish()
        assert stopped.process.returncode == 0  # SIGTERM: the batch in hand finished, then a clean exit
        assert [line["event"] for line in lines] == ["audited"] and lines[0]["entries"] == claims[1][
            "entries"
        ]
        assert killed.process.returncode == -signal.SIGKILL
        interrupted += 1
    assert interrupted == BLOCKED_ROUNDS

    # Killed wherever they happen to be: claiming, auditing, committing or between batches.
    waiting = scalar(engine, "SELECT count(*) FROM audit_queue")
    assert waiting > 6 * BATCH  # enough left for each of the three to claim twice
    loose = [Worker(app, log, "--once") for _ in range(3)]
    cut = 0
    for worker in loose:
        if worker.next_claim() is not None and worker.next_claim() is not None:
            worker.kill()
            cut += 1
        else:
            worker.finish()
    assert cut >= 1
    # Whatever is left: a killed worker's batch is free again once PostgreSQL has ended its connection.
    for _ in range(50):
        if scalar(engine, "SELECT count(*) FROM audit_queue") == 0:
            break
        finisher = Worker(app, log, "--once")
        finisher.finish()
        assert finisher.process.returncode == 0
    assert scalar(engine, "SELECT count(*) FROM audit_queue") == 0

    with Session(engine) as session:
        crossing_ids = set(session.exec(select(Crossing.id)))
        assert session.exec(select(func.count()).where(col(Crossing.audited_at).is_(None))).one() == 0
        audits = Counter(session.execute(text("SELECT crossing_id FROM audit_proof")).scalars())
        dequeued = Counter(session.execute(text("SELECT entry_id FROM dequeue_proof")).scalars())
        alert_keys = Counter(session.exec(select(Alert.dedupe_key)))
        by_kind: dict[str, set[str]] = {}
        for kind, crossing_id in session.exec(select(Alert.kind, Alert.crossing_id)):
            by_kind.setdefault(kind, set()).add(crossing_id or "")
        result = clone_traffic.score(session, day)
        expected = fresh_audit(session, datetime.now(UTC), limits)
        session.rollback()
    # Exactly once: each crossing's audit committed in one transaction, each entry deleted by one.
    assert set(audits) == crossing_ids and set(audits.values()) == {1}
    assert set(dequeued) == entry_ids and set(dequeued.values()) == {1}
    # Each expected alert once, and nothing else.
    kinds = {key.split(":", 1)[0] for key in expected}
    assert {rules.CLONED_PASS, rules.CHAIN_GAP, rules.UPLOAD_CONFLICT, rules.FEVER} <= kinds
    assert set(alert_keys.values()) == {1}
    assert set(alert_keys) == expected
    assert result.found == CLONES and result.missed == 0 and result.false_alerts == 0
    assert by_kind[rules.CHAIN_GAP] == set(after_gap)
    assert by_kind[rules.UPLOAD_CONFLICT] == {c["id"] for c in conflicting}
