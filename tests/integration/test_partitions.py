"""Crossings partitioned by day of receipt (issue 15): migration 0027 converts a populated database and back, ingest
lands in the day's partition and keeps its idempotency across days (crossing_key), the default partition catches a
day nobody made and its rows move out when the day is made, partitions are made idempotently by several workers at
once, and the purge replaces a whole old day by an anonymised copy whose predecessor's file is gone."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from passcore.chain import record_hash
from server import db
from server.alerts import rules
from server.alerts.models import Alert
from server.audit import queries
from server.audit.filters import CrossingFilter
from server.checkpoints.models import Device as DeviceRow
from server.crossings import partitions
from server.crossings import service as crossings
from server.crossings.models import Crossing, CrossingKey, EscortRequest
from server.retention import schedule
from server.retention import service as retention
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.test_cli import Station
from tests.security.test_retention import OLD_NAMES, crew, leaves, table_files

device_factory = checkpoint_devices.device_factory
NOW = datetime.now(UTC)
TODAY = NOW.date()


@pytest.fixture
def device(app, device_factory):
    return device_factory(make_checkpoint(app))


def alembic(engine, verb: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, verb)(config, revision)


def move(app, crossing_id: str, moment: datetime) -> None:
    """The crossing as if received at ``moment`` (its key too: they say the same)."""
    with Session(app.state.engine) as session:
        for model in (Crossing, CrossingKey):
            session.exec(update(model).where(col(model.id) == crossing_id).values(received_at=moment))
        session.commit()


def where_is(app, crossing_id: str) -> str:
    with app.state.engine.connect() as connection:
        query = text("SELECT tableoid::regclass::text FROM crossing WHERE id = :id")
        return connection.execute(query, {"id": crossing_id}).scalar_one()


def snapshot(app) -> tuple[int, list[tuple[str, bool, int]], list[str], int]:
    """What must survive a migration: the count, every chain's verdict, the audit's first page, the escorts."""
    with Session(app.state.engine) as session:
        count = len(session.exec(select(Crossing.id)).all())
        reports = retention_free_chains(session)
        page = [row.crossing.id for row in queries.page(session, CrossingFilter(), limit=50).rows]
        escorts = len(session.exec(select(EscortRequest.id)).all())
    return count, reports, page, escorts


def retention_free_chains(session: Session) -> list[tuple[str, bool, int]]:
    from server.alerts import chains

    return sorted((r.device_id, r.ok, r.checked) for r in chains.verify_all(session))


def populate(app, device, days: int = 3) -> list[dict]:
    """A chain of crossings received over ``days`` days (one escorted), as a database running for a while holds."""
    records = [device.record(), device.escort_record(), device.record(), device.record(), device.record()]
    assert device.upload(*records).json()["accepted"] == len(records)
    for n, record in enumerate(records):
        move(app, record["id"], NOW - timedelta(days=n % days))
    return records


# ---- the migration --------------------------------------------------------------------------------------------


def test_the_migration_converts_a_populated_database_and_back(app, device, database_url):
    records = populate(app, device)
    before = snapshot(app)
    assert before[0] == 5 and all(ok for _, ok, _ in before[1]) and before[3] == 1
    engine = app.state.engine
    postgresql = engine.dialect.name == "postgresql"

    alembic(engine, "downgrade", "0026")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM crossing")).scalar_one() == 5
        if postgresql:  # a plain table again, its uniqueness back on it
            kind = connection.execute(
                text("SELECT relkind FROM pg_class WHERE relname = 'crossing'")
            ).scalar()
            assert kind == "r"
            assert partitions.listing(connection) == []
    alembic(engine, "upgrade", "head")

    assert snapshot(app) == before
    with engine.connect() as connection:
        keys = connection.execute(text("SELECT id, device_id, seq FROM crossing_key ORDER BY seq")).all()
        assert keys == [(r["id"], device.device_id, r["seq"]) for r in records]
        if postgresql:
            days = {p.day for p in partitions.listing(connection) if p.day is not None}
            assert days == {TODAY - timedelta(days=n) for n in range(3)}
            for n, record in enumerate(records):
                assert where_is(app, record["id"]) == partitions.name_of(TODAY - timedelta(days=n % 3))
            names = {
                i
                for (i,) in connection.execute(
                    text("SELECT indexname FROM pg_indexes WHERE tablename='crossing'")
                )
            }
            assert {
                "ix_crossing_time",
                "ix_crossing_plate_trgm",
                "ix_crossing_device_seq",
                "pk_crossing",
            } <= names
    # The escort request's key now points at crossing_key: a request for an unknown crossing is refused.
    with pytest.raises(Exception, match=r"(?i)foreign key"), Session(engine) as session:
        session.add(
            EscortRequest(
                crossing_id="no-such-crossing",
                checkpoint_id=device.checkpoint_id,
                plate="苏EA1234",
                requested_at=NOW,
            )
        )
        session.commit()


# ---- ingest ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_ingest_lands_in_the_day_of_its_receipt(app, device):
    record = device.record()
    assert device.upload(record).json()["accepted"] == 1
    assert where_is(app, record["id"]) == partitions.name_of(TODAY)


def test_a_retry_days_later_is_a_duplicate_and_other_content_a_conflict(
    app, device, device_factory, database_url
):
    record = device.record()
    assert device.upload(record).json()["accepted"] == 1
    move(app, record["id"], NOW - timedelta(days=5))  # stored five days ago: another partition than today's

    again = device.upload(record).json()
    assert again["results"][0]["status"] == "duplicate"
    changed = dict(record, plate="苏EB9999")
    changed["hash"] = record_hash(changed)
    refused = device.upload(changed).json()["results"][0]
    assert (refused["status"], refused["code"]) == ("conflict", "CONTENT_DIFFERS")
    # A hostile device reusing that id: refused too, whatever day it arrives.
    other = device_factory(device.checkpoint_id, "laptop 2")
    stolen = other.record(id=record["id"])
    answer = other.upload(stolen).json()["results"][0]
    assert (answer["status"], answer["code"]) == ("conflict", "OTHER_DEVICE")
    with Session(app.state.engine) as session:
        assert len(session.exec(select(Crossing).where(Crossing.id == record["id"])).all()) == 1


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_devices_racing_for_one_id_store_it_once(app, device, device_factory):
    """The second transaction waits on the first's crossing_key row, then meets the IntegrityError and looks
    again: a conflict, not a second row in another partition."""
    other = device_factory(device.checkpoint_id, "laptop 2")
    mine, theirs = device.record(), None
    theirs = other.record(id=mine["id"])
    engine = app.state.engine
    first = Session(engine, expire_on_commit=False)
    row = first.get(DeviceRow, device.device_id)
    checked = crossings._check(0, mine)
    assert isinstance(checked, crossings._Checked)
    crossings._store(first, row, [checked], NOW)  # not committed yet: holds the key
    outcome: list = []
    racer = threading.Thread(target=lambda: outcome.append(other.upload(theirs).json()["results"][0]))
    racer.start()
    with engine.connect() as watcher:  # the racer is blocked on the first's uncommitted key
        waiting = text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        while not watcher.execute(waiting).scalar_one():
            watcher.rollback()
            threading.Event().wait(0.05)
    first.commit()
    first.close()
    racer.join()
    assert (outcome[0]["status"], outcome[0]["code"]) == ("conflict", "OTHER_DEVICE")
    with Session(engine) as session:
        stored = session.exec(select(Crossing).where(Crossing.id == mine["id"])).all()
    assert [c.device_id for c in stored] == [device.device_id]


# ---- making partitions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_day_without_partition_goes_to_the_default_and_moves_out_when_made(app, device):
    later = NOW + timedelta(days=30)  # nobody made that day's partition
    record = device.record()
    with Session(app.state.engine, expire_on_commit=False) as session:
        row = session.get(DeviceRow, device.device_id)
        outcome = crossings.ingest(session=session, device=row, records=[record], now=later)
    assert outcome[0].status == crossings.ACCEPTED
    assert where_is(app, record["id"]) == partitions.DEFAULT

    made = partitions.ensure(app.state.engine, later, days_ahead=0)
    assert made == {partitions.name_of(later.date()): 1}
    assert where_is(app, record["id"]) == partitions.name_of(later.date())
    with app.state.engine.connect() as connection:
        listed = {p.name: p for p in partitions.listing(connection)}
    assert listed[partitions.DEFAULT].rows == 0
    with Session(app.state.engine) as session:  # every index still finds it
        assert session.get(Crossing, record["id"]) is not None


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_partitions_are_made_once_by_workers_at_the_same_time(app):
    start = NOW + timedelta(days=100)
    results: list[dict[str, int]] = []
    barrier = threading.Barrier(3)

    def worker() -> None:
        barrier.wait()
        results.append(partitions.ensure(app.state.engine, start, days_ahead=4))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = [name for result in results for name in result]
    wanted = {partitions.name_of(start.date() + timedelta(days=n)) for n in range(5)}
    assert sorted(made) == sorted(wanted)  # each made once, by one of them
    assert partitions.ensure(app.state.engine, start, days_ahead=4) == {}  # again: nothing to do
    with app.state.engine.connect() as connection:
        assert wanted <= {p.name for p in partitions.listing(connection)}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ensure_does_nothing_on_sqlite(app):
    assert partitions.ensure(app.state.engine, NOW) == {}


# ---- the purge -------------------------------------------------------------------------------------------------


OLD = NOW - timedelta(days=40)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_purge_replaces_a_whole_old_day_and_its_file_is_gone(app, device):
    engine = app.state.engine
    day = partitions.name_of(OLD.date())
    assert partitions.ensure(engine, OLD, days_ahead=0) == {day: 0}  # made in its time (the test goes back)
    old = [device.record(occupants=crew(OLD_NAMES[:2])) for _ in range(3)]
    recent = device.record(occupants=crew(("上官新驾",)))
    with Session(
        engine, expire_on_commit=False
    ) as session:  # received 40 days ago: into that day's partition
        row = session.get(DeviceRow, device.device_id)
        outcomes = crossings.ingest(session=session, device=row, records=old, now=OLD)
    assert [o.status for o in outcomes] == [crossings.ACCEPTED] * 3
    assert device.upload(recent).json()["accepted"] == 1
    assert {where_is(app, record["id"]) for record in old} == {day}
    with Session(engine) as session:  # one body edited after it was stored: the purge's last check catches it
        edited = json.loads(session.exec(select(Crossing.body_json).where(Crossing.id == old[0]["id"])).one())
        edited["plate"] = "苏EZ0000"
        session.exec(
            update(Crossing).where(col(Crossing.id) == old[0]["id"]).values(body_json=json.dumps(edited))
        )
        session.commit()
    with engine.connect() as connection:
        data_directory = Path(connection.execute(text("SHOW data_directory")).scalar_one())
        old_file = (
            data_directory
            / connection.execute(text("SELECT pg_relation_filepath(:t)"), {"t": day}).scalar_one()
        )
    if not data_directory.is_dir():
        message = f"PostgreSQL's data directory {data_directory} is not readable here"
        if os.environ.get("CI"):
            pytest.fail(message + " — in CI the tests run beside the server, as root")
        pytest.skip(message)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("CHECKPOINT"))
    assert OLD_NAMES[0].encode() in old_file.read_bytes()  # the search finds them where they are

    with Session(engine, expire_on_commit=False) as session:
        report = retention.purge(session=session, now=NOW)
    assert report.partitions == [day]
    assert (report.crossings, report.edited) == (3, 1)
    with Session(engine) as session:
        rows = {c.id: c for c in session.exec(select(Crossing))}
        alerts = session.exec(select(Alert).where(Alert.kind == rules.CHAIN_TAMPERED)).all()
    for record in old:
        assert rows[record["id"]].purged_at is not None
        assert not any(name in rows[record["id"]].body_json for name in OLD_NAMES)
    assert rows[recent["id"]].purged_at is None and "上官新驾" in rows[recent["id"]].body_json
    assert [(a.crossing_id, json.loads(a.detail)["problem"]) for a in alerts] == [
        (old[0]["id"], rules.BODY_EDITED)
    ]
    assert where_is(app, old[1]["id"]) == day  # the copy took the day's place

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("CHECKPOINT"))  # a dropped relation's file is unlinked at the checkpoint
        files = table_files(connection, data_directory, ["crossing"])
        assert day in leaves(connection, "crossing")
    assert not old_file.exists()
    content = b"".join(path.read_bytes() for path in files)
    assert [name for name in OLD_NAMES[:2] if name.encode() in content] == []

    with Session(engine, expire_on_commit=False) as session:
        again = retention.purge(session=session, now=NOW)
    assert (again.partitions, again.crossings) == ([], 0)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_servers_daily_round_makes_the_week_ahead(app):
    """A server without workers (the inline mode) makes them in its daily round, before the purge."""
    with Session(app.state.engine, expire_on_commit=False) as session:
        result = schedule.daily(session, NOW)
    assert result is not None
    ahead = [partitions.name_of(TODAY + timedelta(days=n)) for n in range(1, partitions.DAYS_AHEAD + 1)]
    assert result["partitions_made"] == ahead  # today's was made by the migration


def test_the_partitions_command_makes_and_lists_them(tmp_path, database_url):
    station = Station(tmp_path, database_url)
    station.run("checkpass", "init")
    listed = station.json("checkpass", "partitions", "--ahead", "2", "--json")
    if database_url is None:  # SQLite: one table, nothing to make
        assert listed == {"made": {}, "partitions": []}
        assert "not partitioned" in station.run("checkpass", "partitions").stdout
    else:
        ahead = [partitions.name_of(TODAY + timedelta(days=n)) for n in (1, 2)]
        assert listed["made"] == dict.fromkeys(ahead, 0)
        names = [p["name"] for p in listed["partitions"]]
        assert names == [partitions.name_of(TODAY), *ahead, partitions.DEFAULT]
        assert listed["partitions"][0]["lower"] == f"{TODAY.isoformat()}T00:00:00+00:00"
        assert station.json("checkpass", "partitions", "--ahead", "2", "--json")["made"] == {}
    station.run("checkpass", "partitions", "--ahead", "-1", expect=2)  # bad input: one line, nothing done


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_worker_does_not_wait_behind_a_transaction_holding_crossing(app, caplog):
    """ensure gives up on a lock held elsewhere (here a long transaction's SHARE lock on crossing) instead of
    standing in front of the worker's audit; the keeper logs it and tries again a minute later."""
    later = NOW + timedelta(days=200)
    keeper = partitions.Keeper(app.state.engine)
    with app.state.engine.connect() as blocker:
        blocker.execute(text("LOCK TABLE crossing IN SHARE MODE"))
        with pytest.raises(OperationalError):
            partitions.ensure(app.state.engine, later, days_ahead=0, lock_timeout_ms=100)
        keeper.tick(later)  # logged, not raised
        blocker.rollback()
    assert "crossing partitions not made: OperationalError" in caplog.text
    keeper.tick(later + timedelta(seconds=30))  # not yet: the retry is a minute after the failure
    with app.state.engine.connect() as connection:
        assert partitions.name_of(later.date()) not in {p.name for p in partitions.listing(connection)}
    keeper.tick(later + timedelta(minutes=1))
    with app.state.engine.connect() as connection:
        assert partitions.name_of(later.date()) in {p.name for p in partitions.listing(connection)}
