"""The crossing roll-ups on both databases: ingest keeps them equal to the crossings stored (mixed batches,
duplicates, conflicts, concurrent batches), the purge leaves them alone, the migration fills them from crossings
already stored, and the dashboard and daily summary read from them answer exactly what counting every crossing
one by one answers (``expected`` below, in Python from the stored rows), for ranges on and off the hour."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.config import Config
from sqlmodel import Session, select

from passcore.chain import record_hash
from passcore.reasons import OUTCOMES as OUTCOME_WORDS
from server import db
from server.audit import rollup, stats
from server.checkpoints.models import Checkpoint
from server.checkpoints.models import Device as DeviceRow
from server.config import get_settings
from server.crossings.models import Crossing, CrossingEnterpriseDay, CrossingHour, EscortRequest
from server.retention import service as retention
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import Device, make_checkpoint
from tests.integration.conftest import DEMO_USCC, OTHER_USCC

device_factory = checkpoint_devices.device_factory  # the fixture, for this module

T0 = datetime(2026, 2, 10, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
UNKNOWN_USCC = "91310000MA1FL8TQ36"  # a valid code no enterprise here registered
ENTERPRISES = (DEMO_USCC, OTHER_USCC, UNKNOWN_USCC, None)
OUTCOMES = tuple(OUTCOME_WORDS)
# No pass, so one vehicle seen many times raises no cloned-pass alerts; reasons that fit each outcome.
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


def expected(engine, start: datetime, end: datetime, zone: str) -> dict:
    """The dashboard and the daily summary counted one crossing at a time (every escort here is still open)."""
    local, unit = ZoneInfo(zone), "hour" if end - start <= timedelta(days=3) else "day"
    with Session(engine) as session:
        rows = session.exec(
            select(Crossing.decided_at, Crossing.checkpoint_id, Crossing.outcome, Crossing.enterprise_uscc)
        ).all()
        escorts = session.exec(select(EscortRequest.requested_at, EscortRequest.checkpoint_id)).all()
    key = {"hour": "%Y-%m-%d %H", "day": "%Y-%m-%d"}
    per_hour, fever = defaultdict(Counter), defaultdict(Counter)
    outcomes = {o: Counter() for o in OUTCOMES}
    firms, daily = defaultdict(Counter), defaultdict(Counter)
    for at, cp, outcome, uscc in rows:
        if not start <= at < end:
            continue
        there = at.astimezone(local)
        per_hour[cp][there.strftime(key["hour"])] += 1
        outcomes[outcome][there.strftime(key[unit])] += 1
        if outcome == "MEDICAL_HOLD":
            fever[cp][there.strftime(key["day"])] += 1
        if uscc:
            firms[uscc][outcome] += 1
        daily[there.strftime(key["day"]), cp][outcome] += 1
    made = Counter((at.astimezone(local).strftime(key["day"]), cp) for at, cp in escorts if start <= at < end)
    totals = Counter(o for at, _, o, _ in rows if start <= at < end)
    ranked = sorted(firms, key=lambda uscc: (-sum(firms[uscc].values()), uscc))[:10]
    return {
        "totals": {o: totals[o] for o in OUTCOMES} | {"total": sum(totals.values())},
        "escorts": sum(made.values()),
        "per_hour": {cp: dict(c) for cp, c in per_hour.items()},
        "outcomes": {o: dict(c) for o, c in outcomes.items()},
        "fever": {cp: dict(c) for cp, c in fever.items()},
        "top": [(uscc, {o: firms[uscc][o] for o in OUTCOMES}) for uscc in ranked],
        "daily": [
            (day, cp, {o: daily[day, cp][o] for o in OUTCOMES}, made[day, cp], made[day, cp])
            for day, cp in sorted(daily)
        ],
    }


@pytest.fixture
def traffic(app, device_factory):
    """Five days of crossings at two checkpoints, every outcome, some on the hour, three enterprises or none."""
    rng = random.Random(11)
    here, there = make_checkpoint(app), make_checkpoint(app, "G50 武汉卡口", region="420100")
    for device in (device_factory(here), device_factory(there), device_factory(here, "laptop 2")):
        assert (
            statuses(device.upload(*mixed(device, rng, 90, T0 - timedelta(hours=10), 5 * 24)))["accepted"]
            == 90
        )
    return app


RANGES = [  # local times in Shanghai unless a zone is given
    ("2026-02-10", "2026-02-12"),  # whole local days: hourly buckets, whole UTC hours only
    ("2026-02-10T03:17:25", "2026-02-12T21:43:30"),  # ragged edges at both ends
    ("2026-02-11T10:05", "2026-02-11T10:55"),  # inside one hour: the crossing table alone
    ("2026-02-09T20:00:00+00:00", "2026-02-14T23:59:59+00:00"),  # daily buckets
    ("2026-02-09", "2026-03-01"),  # longer than the data
]


@pytest.mark.parametrize(("start", "end"), RANGES)
def test_the_dashboard_and_daily_summary_equal_counting_every_crossing(traffic, api, start, end):
    auditor, params = api("auditor"), {"from": start, "to": end}
    board = auditor.get("/api/v1/audit/dashboard", params=params).json()
    first, last = datetime.fromisoformat(board["start"]), datetime.fromisoformat(board["end"])
    want = expected(traffic.state.engine, first, last, "Asia/Shanghai")
    assert board["totals"] == want["totals"] | {
        "escorts": want["escorts"],
        "escorts_over": want["escorts"],  # open since February: far over the limit
        "conflicts": 0,
    }
    assert board["per_hour_by_checkpoint"] == {str(cp): v for cp, v in want["per_hour"].items()}
    assert board["outcomes"] == want["outcomes"]
    assert board["fever_by_day"] == {str(cp): v for cp, v in want["fever"].items()}
    assert [(e["uscc"], e["outcomes"]) for e in board["top_enterprises"]] == want["top"]
    assert board["escort_waits"][-1] == want["escorts"] == sum(board["escort_waits"])
    daily = auditor.get("/api/v1/audit/daily", params=params).json()
    assert [
        (r["day"], r["checkpoint_id"], r["outcomes"], r["escorts"], r["escorts_over"]) for r in daily
    ] == want["daily"]
    assert all(r["total"] == sum(r["outcomes"].values()) for r in daily)


def test_a_zone_off_the_whole_hour_is_counted_from_the_crossings(traffic):
    """Local hours in Asia/Kolkata (+5:30) straddle UTC hours: the roll-up cannot cut them, the crossings can."""
    start, end = datetime(2026, 2, 10, 1, 0, tzinfo=UTC), datetime(2026, 2, 12, 5, 0, tzinfo=UTC)
    span = stats.Span(start, end, "Asia/Kolkata")
    want = expected(traffic.state.engine, start, end, "Asia/Kolkata")
    with Session(traffic.state.engine) as session:
        assert stats.per_hour_by_checkpoint(session, span) == want["per_hour"]
        assert stats.outcomes_over_time(session, span) == want["outcomes"]
        assert stats.fever_by_day(session, span) == want["fever"]
        now = datetime.now(UTC)
        daily = stats.daily_summary(session, span, 60, now)
        assert [(r.day, r.checkpoint_id, r.counts, r.escorts, r.escorts_over) for r in daily] == want["daily"]


def test_the_purge_changes_no_count(traffic, api):
    auditor, params = api("auditor"), {"from": "2026-02-09", "to": "2026-02-16"}
    before = (
        auditor.get("/api/v1/audit/dashboard", params=params).json(),
        auditor.get("/api/v1/audit/daily", params=params).json(),
        stored(traffic.state.engine),
    )
    with Session(traffic.state.engine) as session:
        report = retention.purge(session=session, now=datetime.now(UTC))
    assert report.crossings == 270  # everything here is from February: far past 28 days
    after = (
        auditor.get("/api/v1/audit/dashboard", params=params).json(),
        auditor.get("/api/v1/audit/daily", params=params).json(),
        stored(traffic.state.engine),
    )
    assert after == before and after[2] == direct(traffic.state.engine)


def _alembic(engine, action, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def test_the_migration_counts_crossings_already_stored(tmp_path, database_url):
    engine = db.make_engine(get_settings(home=tmp_path, database_url=database_url))
    _alembic(engine, command.upgrade, "0004")
    rng, now = random.Random(3), datetime.now(UTC)
    with Session(engine) as session:
        session.add(Checkpoint(id=1, name="卡口", region="320583", created_at=now))
        session.add(DeviceRow(id="d" * 32, checkpoint_id=1, enrolled_at=now))
        for seq in range(1, 201):
            at = T0 + timedelta(minutes=rng.randrange(3 * 24 * 60), seconds=rng.random() * 60)
            uscc = rng.choice(ENTERPRISES)
            session.add(Crossing(
                id=f"00000000-0000-4000-8000-{seq:012d}", device_id="d" * 32, checkpoint_id=1, seq=seq,
                prev_hash="0" * 64, record_hash="1" * 64, decided_at=at, received_at=now,
                outcome=rng.choice(OUTCOMES), plate="苏EA1234", enterprise_uscc=uscc,
                policy_version=1, bundle_version=1, body_json="{}",
            ))  # fmt: skip
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


def test_the_dashboard_sums_the_rollup_for_whole_hours_only(traffic, api):
    """Counts are read from the roll-up where the range covers an hour whole, and from the crossings where it
    covers part of one: a roll-up row made wrong on purpose shows in the first case and not in the second."""
    auditor, params = api("auditor"), {"from": "2026-02-10T03:17:25", "to": "2026-02-11T21:43:30"}
    before = auditor.get("/api/v1/audit/dashboard", params=params).json()["totals"]["total"]
    whole, ragged = datetime(2026, 2, 10, 4, tzinfo=UTC), datetime(2026, 2, 9, 19, tzinfo=UTC)  # 12:00, 03:00
    fake = {"checkpoint_id": 1, "outcome": "REFUSE", "enterprise_uscc": None}
    with Session(traffic.state.engine) as session:
        rollup.add(session, [fake | {"decided_at": hour} for hour in (whole, ragged) for _ in range(1000)])
        session.commit()
    after = auditor.get("/api/v1/audit/dashboard", params=params).json()["totals"]["total"]
    assert after == before + 1000


def test_a_range_is_steady_when_its_zone_keeps_one_offset():
    def span(start: str, end: str, zone: str) -> stats.Span:
        return stats.Span(datetime.fromisoformat(start), datetime.fromisoformat(end), zone)

    assert span("2026-01-01T00:00+00:00", "2026-04-03T00:00+00:00", "Asia/Shanghai").steady
    assert span("2026-01-01T00:00+00:00", "2026-04-03T00:00+00:00", "Asia/Kolkata").steady
    assert span("2026-01-01T00:00+00:00", "2026-03-29T00:59+00:00", "Europe/Berlin").steady
    assert not span("2026-01-01T00:00+00:00", "2026-03-29T01:00+00:00", "Europe/Berlin").steady
    assert not span("2026-03-28T00:00+00:00", "2026-03-30T00:00+00:00", "Europe/Berlin").steady


# PostgreSQL only: SQLite has no zone rules and cuts local buckets at the range's first offset (sqltime.py).
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_daylight_saving_change_inside_the_range_is_cut_by_the_zone_rules(app, device_factory):
    device, rng = device_factory(make_checkpoint(app)), random.Random(13)
    switch = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # Berlin goes from +1 to +2
    assert (
        statuses(device.upload(*mixed(device, rng, 80, switch - timedelta(hours=30), 60)))["accepted"] == 80
    )
    start, end = switch - timedelta(hours=29, minutes=13), switch + timedelta(hours=28, minutes=41)
    span = stats.Span(start, end, "Europe/Berlin")
    assert not span.steady
    want = expected(app.state.engine, start, end, "Europe/Berlin")
    with Session(app.state.engine) as session:
        assert stats.per_hour_by_checkpoint(session, span) == want["per_hour"]
        assert stats.outcomes_over_time(session, span) == want["outcomes"]
        daily = stats.daily_summary(session, span, 60, datetime.now(UTC))
        assert [(r.day, r.checkpoint_id, r.counts, r.escorts, r.escorts_over) for r in daily] == want["daily"]
