"""A small simulated day through the real ingest and audit, on SQLite and PostgreSQL: repeats, returns,
re-measures and plausible drives raise no cloned-pass alert, and every planted clone is found
(tests/clone_traffic.py; the full day is bench/bench_clones.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, func, select

from server.alerts.facts import Limits
from server.crossings.models import Crossing
from tests import clone_traffic

VEHICLES, CLONES = 80, 6


def test_a_simulated_day_raises_an_alert_for_every_planted_clone_and_no_other(app):
    limits = Limits.of(app.state.settings)
    # The day starts after the fixture made the keys: passes are issued the hour before it.
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    day = clone_traffic.simulate(vehicles=VEHICLES, clones=CLONES, seed=12, start=start, reach=limits.reach)
    # What makes the day worth judging: every kind of innocent repeat is in it.
    assert day.count("repeat") > 0 and day.count("remeasure") > 0 and len(day.clones) == CLONES
    with Session(app.state.engine, expire_on_commit=False) as session:
        world = clone_traffic.prepare(session, app.state.settings, day, VEHICLES)
        chained = clone_traffic.records(day, world)
        sent = clone_traffic.uploads(day, chained, seed=12)
        accepted = clone_traffic.ingest_day(session, world, sent, limits)
        assert accepted == len(day.events)
        unaudited = select(func.count()).select_from(Crossing).where(col(Crossing.audited_at).is_(None))
        assert session.exec(unaudited).one() == 0
        result = clone_traffic.score(session, day)
    assert result.false_pairs == [] and result.false_alerts == 0
    assert result.found == CLONES and result.missed == 0
    assert result.true_alerts >= CLONES
