"""The dashboard and the daily summary read from the roll-ups answer exactly what counting every crossing one by
one answers (``expected``, in Python from the stored rows), on both databases: for ranges on and off the hour,
in hourly and daily buckets, in a zone off the whole hour, across a daylight-saving change, and before and after
the purge."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from server.audit import rollup, stats
from server.crossings import escorts
from server.crossings.models import Crossing, EscortRequest
from server.retention import service as retention
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.test_audit_rollup import OUTCOMES, T0, crossing, direct, mixed, statuses, stored

device_factory = checkpoint_devices.device_factory  # the fixture, for this module


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


def test_escort_waits_fall_in_the_bin_they_started(app, device_factory, api):
    device = device_factory(make_checkpoint(app))
    waits = [0, 14, 15, 16, 59.9, 61, 600]  # minutes; bins of 15, the last from four hours on
    records = [crossing(device, T0 + timedelta(hours=i), "ESCORT_REQUIRED") for i in range(len(waits))]
    assert statuses(device.upload(*records)) == {"accepted": len(waits)}
    with Session(app.state.engine) as session:
        for escort in session.exec(select(EscortRequest).order_by(EscortRequest.requested_at)).all():
            at = escort.requested_at + timedelta(minutes=waits.pop(0))
            escorts.hand_over(session=session, escort=escort, at=at, now=datetime.now(UTC))
    board = (
        api("auditor")
        .get("/api/v1/audit/dashboard", params={"from": "2026-02-10", "to": "2026-02-11"})
        .json()
    )
    assert board["escort_waits"] == [2, 2, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert board["totals"]["escorts"] == 7 and board["totals"]["escorts_over"] == 2  # 61 and 600 minutes
