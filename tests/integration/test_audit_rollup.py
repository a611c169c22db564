"""The crossing roll-ups on both databases: ingest keeps them equal to the crossings stored (mixed batches,
duplicates, conflicts, concurrent batches), and the migration fills them from crossings already stored. What the
dashboard reads from them: test_audit_rollup_answers.py."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlmodel import Session, select

from passcore.chain import record_hash
from passcore.reasons import OUTCOMES as OUTCOME_WORDS
from server import db
from server.audit import rollup
from server.config import get_settings
from server.crossings.models import Crossing, CrossingEnterpriseDay, CrossingHour
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import Device, make_checkpoint
from tests.integration.conftest import DEMO_USCC, OTHER_USCC

device_factory = checkpoint_devices.device_factory  # the fixture, for this module

T0 = datetime(2026, 2, 10, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
UNKNOWN_USCC = "91310000MA1FL8TQ36"  # a valid code no enterprise here registered
ENTERPRISES = (DEMO_USCC, OTHER_USCC, UNKNOWN_USCC, None)
OUTCOMES = tuple(OUTCOME_WORDS)
# No pass, so the roll-up counts nothing but outcomes; reasons that fit each outcome.
REASONS = {
    "RELEASE": ["NO_PASS"],
    "ESCORT_REQUIRED": ["NO_PASS", "HARD_HIT_VEHICLE"],
    "REFUSE": ["NO_PASS", "PASS_REQUIRED"],
    "MEDICAL_HOLD": ["NO_PASS", "FEVER"],
}
CHECKS = {"identity_confirmed": None, "licence_confirmed": None, "id_last4_matched": None}


def crossing(device: Device, when: datetime, outcome: str = "RELEASE", enterprise: str | None = DEMO_USCC):
    return device.record(
        decided_at=when.isoformat(),
        outcome=outcome,
        reasons=REASONS[outcome],
        enterprise=enterprise,
        pass_id=None,
        verification=None,
        checks=CHECKS,
    )


def mixed(device: Device, rng: random.Random, count: int, start: datetime, hours: int) -> list[dict]:
    """``count`` records at random instants of ``hours`` hours, some exactly on the hour, every outcome."""
    records = []
    for i in range(count):
        when = start + timedelta(seconds=rng.randrange(hours * 3600), microseconds=rng.randrange(10**6))
        if i % 7 == 0:
            when = when.replace(minute=0, second=0, microsecond=0)
        records.append(crossing(device, when, rng.choice(OUTCOMES), rng.choice(ENTERPRISES)))
    return records


def statuses(response) -> Counter:
    assert response.status_code == 200, response.text
    return Counter(r["status"] for r in response.json()["results"])


def direct(engine) -> tuple[dict, dict]:
    """What the roll-ups must hold, counted in Python from every stored crossing: key -> crossings by outcome."""
    with Session(engine) as session:
        rows = session.exec(
            select(Crossing.decided_at, Crossing.checkpoint_id, Crossing.outcome, Crossing.enterprise_uscc)
        ).all()
    hours, days = defaultdict(Counter), defaultdict(Counter)
    for at, checkpoint_id, outcome, uscc in rows:
        hours[rollup.floor(at, "hour"), checkpoint_id][outcome] += 1
        if uscc:
            days[rollup.floor(at, "day"), uscc][outcome] += 1
    return (
        {key: tuple(c[o] for o in OUTCOMES) for key, c in hours.items()},
        {key: tuple(c[o] for o in OUTCOMES) for key, c in days.items()},
    )


def stored(engine) -> tuple[dict, dict]:
    columns = [rollup.COLUMNS[o] for o in OUTCOMES]
    with Session(engine) as session:
        hours = {
            (r.hour, r.checkpoint_id): tuple(getattr(r, c) for c in columns)
            for r in session.exec(select(CrossingHour))
        }
        days = {
            (r.day, r.enterprise_uscc): tuple(getattr(r, c) for c in columns)
            for r in session.exec(select(CrossingEnterpriseDay))
        }
    return hours, days


def counted(table: dict) -> int:
    return sum(sum(counts) for counts in table.values())


def test_ingest_counts_every_stored_crossing_once(app, device_factory):
    engine, rng = app.state.engine, random.Random(5)
    here, there = make_checkpoint(app), make_checkpoint(app, "G50 武汉卡口", region="420100")
    ours, second, theirs = device_factory(here), device_factory(here, "laptop 2"), device_factory(there)
    edge = [
        crossing(ours, T0 + timedelta(hours=1) - timedelta(microseconds=1)),  # the last instant of an hour
        crossing(ours, T0 + timedelta(hours=1)),  # the first of the next
        crossing(ours, T0 + timedelta(hours=24), "MEDICAL_HOLD", None),  # UTC midnight, no enterprise
    ]
    first = edge + mixed(ours, rng, 40, T0, 30)
    assert statuses(ours.upload(*first)) == {"accepted": 43}
    assert stored(engine) == direct(engine) and counted(stored(engine)[0]) == 43
    assert statuses(ours.upload(*first)) == {"duplicate": 43}  # a retried upload counts nothing
    # One new record (sent twice in the batch), an old one again, an old id with new content, a bad hash.
    new = crossing(ours, T0 + timedelta(hours=2), "REFUSE")
    edited = first[5] | {"plate": "苏EB9999"}
    edited["hash"] = record_hash({k: v for k, v in edited.items() if k != "hash"})
    broken = crossing(ours, T0 + timedelta(hours=3)) | {"hash": "0" * 64}
    answer = statuses(ours.upload(new, new, first[7], edited, broken))
    assert answer == {"accepted": 1, "duplicate": 2, "conflict": 1, "invalid": 1}
    # Another device at the same checkpoint adds to the same rows; one at another checkpoint makes its own.
    others = mixed(second, rng, 30, T0, 30), mixed(theirs, rng, 30, T0, 30)
    assert statuses(second.upload(*others[0])) == statuses(theirs.upload(*others[1])) == {"accepted": 30}
    hours, days = stored(engine)
    assert (hours, days) == direct(engine)
    accepted = [*first, new, *others[0], *others[1]]
    assert counted(hours) == len(accepted) == 104
    assert counted(days) == sum(1 for record in accepted if record["enterprise"])
    with Session(engine) as session:  # counting afresh from the crossing table gives the same
        rollup.rebuild(session)
        session.commit()
    assert stored(engine) == (hours, days)


def test_concurrent_batches_are_each_counted_once(app, device_factory):
    engine, rng = app.state.engine, random.Random(7)
    here = make_checkpoint(app)
    devices = [device_factory(here, f"laptop {i}") for i in range(6)]
    # Every batch counts into the same few hours of one checkpoint, and each is sent twice at once (a retry
    # racing the original), so the same roll-up rows are upserted from many transactions together.
    batches = [(device, mixed(device, rng, 60, T0, 3)) for device in devices]

    def send(job: tuple[Device, list[dict]]) -> Counter:
        device, records = job
        with Device.__mro__[1](app, headers=dict(device.headers)) as client:
            return statuses(client.post("/api/v1/crossings", json={"records": records}))

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, [job for job in batches for _ in range(2)]))
    assert sum(answers, Counter()) == {"accepted": 360, "duplicate": 360}
    hours, days = stored(engine)
    assert (hours, days) == direct(engine) and counted(hours) == 360


def _alembic(engine, action, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


CHECKPOINT_0004 = ("id", "name", "region", "location", "active", "created_at")
DEVICE_0004 = ("id", "checkpoint_id", "name", "enrolled_at")


def test_the_migration_counts_crossings_already_stored(tmp_path, database_url):
    engine = db.make_engine(get_settings(home=tmp_path, database_url=database_url))
    _alembic(engine, command.upgrade, "0004")
    rng, now = random.Random(3), datetime.now(UTC)
    with Session(engine) as session:
        # The tables as 0004 made them: only their columns (the models have gained some since, e.g. the
        # crossing's officer in 0010, the checkpoint's traffic state in 0019), so no ORM rows.
        session.execute(
            sa.insert(sa.table("checkpoint", *map(sa.column, CHECKPOINT_0004))),
            [
                {
                    "id": 1,
                    "name": "卡口",
                    "region": "320583",
                    "location": "",
                    "active": True,
                    "created_at": now,
                }
            ],
        )
        session.execute(
            sa.insert(sa.table("device", *map(sa.column, DEVICE_0004))),
            [{"id": "d" * 32, "checkpoint_id": 1, "name": "", "enrolled_at": now}],
        )
        session.commit()
        rows = []
        for seq in range(1, 201):
            at = T0 + timedelta(minutes=rng.randrange(3 * 24 * 60), seconds=rng.random() * 60)
            uscc = rng.choice(ENTERPRISES)
            rows.append(dict(
                id=f"00000000-0000-4000-8000-{seq:012d}", device_id="d" * 32, checkpoint_id=1, seq=seq,
                prev_hash="0" * 64, record_hash="1" * 64, decided_at=at, received_at=now,
                outcome=rng.choice(OUTCOMES), plate="苏EA1234", enterprise_uscc=uscc,
                policy_version=1, bundle_version=1, body_json="{}",
            ))  # fmt: skip
        # 0004's columns only: later ones with defaults (0023's kind and passenger counts) are not there yet.
        session.execute(sa.insert(sa.table("crossing", *map(sa.column, rows[0]))), rows)
        session.commit()
    _alembic(engine, command.upgrade, "head")
    hours, days = stored(engine)
    assert (hours, days) == direct(engine) and counted(hours) == 200
    # Ingest's upserts meet the rows the migration wrote (same key, written the same way on each database).
    hour, _ = key = next(iter(hours))
    with Session(engine) as session:
        row = {"decided_at": hour, "checkpoint_id": 1, "outcome": "REFUSE", "enterprise_uscc": None}
        rollup.add(session, [row])
        session.commit()
    refused = OUTCOMES.index("REFUSE")
    assert stored(engine)[0] == hours | {key: tuple(n + (i == refused) for i, n in enumerate(hours[key]))}
    _alembic(engine, command.downgrade, "0004")
    _alembic(engine, command.upgrade, "head")
    assert stored(engine) == direct(engine)
    engine.dispose()
