"""The dashboard's and the daily summary's numbers, each a few aggregate queries (GROUP BY in the database).

Crossings are counted from the roll-ups (``server.audit.rollup``): the whole hours (days) in the middle of the
range from ``crossing_hour`` (``crossing_enterprise_day``), the ragged edges from the crossing table, one query
per part with the same grouping, their rows added up. A quarter of a busy city is then a few hundred thousand
roll-up rows at most, whatever the number of crossings. Escort requests and conflicting uploads are read from
their own tables: they are few, and an escort's wait keeps changing until the vehicle is handed over.

Python only reshapes the aggregated rows (a few thousand at most), never the crossings themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, case, cast, func
from sqlmodel import Session, col, select

from passcore.reasons import OUTCOMES
from server.audit import rollup
from server.audit.rollup import Source
from server.audit.sqltime import bucket_key, local_bucket, minutes_between, offset_minutes
from server.checkpoints.models import Checkpoint
from server.crossings.models import CrossingConflict, EscortRequest
from server.enterprises.models import Enterprise

__all__ = [
    "FEVER_OUTCOME",
    "WAIT_BIN_MINUTES",
    "Span",
    "checkpoint_names",
    "daily_summary",
    "escort_waits",
    "fever_by_day",
    "outcomes_over_time",
    "per_hour_by_checkpoint",
    "top_enterprises",
    "totals",
]

FEVER_OUTCOME = "MEDICAL_HOLD"  # precedence 1 of the rules: a fever and nothing else holds a vehicle
WAIT_BIN_MINUTES = 15
WAIT_BINS = 16  # 0–15, 15–30, … and a last bin for four hours and more


@dataclass(frozen=True)
class Span:
    """The dashboard's time range (start inclusive, end exclusive) and the zone its buckets are cut in."""

    start: datetime
    end: datetime
    zone: str

    @property
    def unit(self) -> str:
        """Hours for a range of up to three days, else days: a readable number of bars either way."""
        return "hour" if self.end - self.start <= timedelta(days=3) else "day"

    def bucket(self, column: object, unit: str | None = None) -> local_bucket:
        return local_bucket(column, unit or self.unit, self.zone, offset_minutes(self.zone, self.start))

    def key(self, value: object, unit: str | None = None) -> str:
        return bucket_key(value, unit or self.unit, self.zone)

    def hourly(self) -> list[Source]:
        """The range as parts that can be grouped by checkpoint, outcome and local hour or day."""
        return rollup.hour_parts(self.start, self.end, self.zone)

    def daily(self) -> list[Source]:
        """The range as parts that can be grouped by enterprise and outcome."""
        return rollup.day_parts(self.start, self.end)


def _counted(
    session: Session,
    parts: Sequence[Source],
    group: Callable[[Source], tuple[Any, ...]],
    where: Callable[[Source], list[Any]] = lambda _: [],
) -> Iterator[tuple[Any, ...]]:
    """(*group, crossings) rows of every part; the same group can come from several parts (callers add them)."""
    for part in parts:
        columns = group(part)
        query = select(*columns, part.count).where(*part.within(), *where(part)).group_by(*columns)
        for *key, count in session.exec(query):  # type: ignore[call-overload]
            yield (*key, int(count or 0))


def checkpoint_names(session: Session) -> dict[int, str]:
    return {cid: name for cid, name in session.exec(select(Checkpoint.id, Checkpoint.name)) if cid}


def totals(session: Session, span: Span, wait_limit: int, now: datetime) -> dict[str, int]:
    """Crossings by outcome, escort requests (and those over the limit), conflicting uploads in the range."""
    found = {outcome: 0 for outcome in OUTCOMES}
    for outcome, count in _counted(session, span.hourly(), lambda part: (part.outcome,)):
        found[outcome] = found.get(outcome, 0) + count
    waited = minutes_between(
        col(EscortRequest.requested_at), func.coalesce(col(EscortRequest.handed_over_at), now)
    )
    escorts, over = session.exec(
        select(func.count(), func.coalesce(func.sum(case((waited > wait_limit, 1), else_=0)), 0)).where(
            col(EscortRequest.requested_at) >= span.start, col(EscortRequest.requested_at) < span.end
        )
    ).one()
    conflicts = session.exec(
        select(func.count())
        .select_from(CrossingConflict)
        .where(col(CrossingConflict.received_at) >= span.start, col(CrossingConflict.received_at) < span.end)
    ).one()
    return found | {
        "total": sum(found.values()),
        "escorts": int(escorts),
        "escorts_over": int(over),
        "conflicts": int(conflicts),
    }


def per_hour_by_checkpoint(session: Session, span: Span) -> dict[int, dict[str, int]]:
    """checkpoint id -> local hour ("2026-02-10 16") -> crossings."""
    found: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = _counted(session, span.hourly(), lambda part: (part.checkpoint_id, span.bucket(part.time, "hour")))
    for checkpoint_id, bucket, count in rows:
        found[checkpoint_id][span.key(bucket, "hour")] += count
    return {checkpoint_id: dict(hours) for checkpoint_id, hours in found.items()}


def outcomes_over_time(session: Session, span: Span) -> dict[str, dict[str, int]]:
    """outcome -> local hour or day -> crossings."""
    found: dict[str, dict[str, int]] = {outcome: {} for outcome in OUTCOMES}
    for outcome, when, count in _counted(
        session, span.hourly(), lambda part: (part.outcome, span.bucket(part.time))
    ):
        bucket = found.setdefault(outcome, {})
        bucket[span.key(when)] = bucket.get(span.key(when), 0) + count
    return found


def fever_by_day(session: Session, span: Span) -> dict[int, dict[str, int]]:
    """checkpoint id -> local day -> crossings held for fever."""
    found: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = _counted(
        session,
        span.hourly(),
        lambda part: (part.checkpoint_id, span.bucket(part.time, "day")),
        lambda part: [part.outcome == FEVER_OUTCOME],
    )
    for checkpoint_id, bucket, count in rows:
        found[checkpoint_id][span.key(bucket, "day")] += count
    return {checkpoint_id: dict(days) for checkpoint_id, days in found.items()}


def escort_waits(session: Session, span: Span, now: datetime) -> list[int]:
    """How many escort requests (made in the range) waited 0–15 min, 15–30 min, …; the last bin is open-ended.
    A request not handed over yet counts its wait until ``now``."""
    waited = minutes_between(
        col(EscortRequest.requested_at), func.coalesce(col(EscortRequest.handed_over_at), now)
    )
    inner = (
        select(cast(waited / WAIT_BIN_MINUTES, Integer).label("bin"))
        .where(col(EscortRequest.requested_at) >= span.start, col(EscortRequest.requested_at) < span.end)
        .subquery()
    )
    counts = [0] * WAIT_BINS
    for bin_no, count in session.exec(select(inner.c.bin, func.count()).group_by(inner.c.bin)):
        counts[min(max(int(bin_no or 0), 0), WAIT_BINS - 1)] += count
    return counts


def top_enterprises(session: Session, span: Span, limit: int = 10) -> list[tuple[str, str, dict[str, int]]]:
    """The enterprises with the most crossings in the range: (USCC, name or "", outcome -> crossings).

    One pass over the range's enterprise roll-up (enterprise x outcome, a few thousand groups at most); the
    ranking is of those groups.
    """
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {o: 0 for o in OUTCOMES})
    rows = _counted(
        session,
        span.daily(),
        lambda part: (part.enterprise_uscc, part.outcome),
        lambda part: [part.enterprise_uscc.is_not(None)],
    )
    for uscc, outcome, count in rows:
        counts[uscc][outcome] = counts[uscc].get(outcome, 0) + count
    top = sorted(counts, key=lambda uscc: (-sum(counts[uscc].values()), uscc))[:limit]
    names = dict(
        session.exec(select(Enterprise.uscc, Enterprise.name).where(col(Enterprise.uscc).in_(top))).all()
    )
    return [(uscc, names.get(uscc, ""), counts[uscc]) for uscc in top]


@dataclass(frozen=True)
class DailyRow:
    day: str
    checkpoint_id: int
    counts: dict[str, int]  # outcome -> crossings
    escorts: int
    escorts_over: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def daily_summary(session: Session, span: Span, wait_limit: int, now: datetime) -> list[DailyRow]:
    """One row per local day and checkpoint: crossings by outcome, escort requests and those over the limit."""
    crossings: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: {o: 0 for o in OUTCOMES})
    rows = _counted(
        session, span.hourly(), lambda part: (span.bucket(part.time, "day"), part.checkpoint_id, part.outcome)
    )
    for row_day, checkpoint_id, outcome, count in rows:
        counts = crossings[span.key(row_day, "day"), checkpoint_id]
        counts[outcome] = counts.get(outcome, 0) + count
    escort_day = span.bucket(col(EscortRequest.requested_at), "day")
    waited = minutes_between(
        col(EscortRequest.requested_at), func.coalesce(col(EscortRequest.handed_over_at), now)
    )
    over = (waited > wait_limit).label("over")
    inner = (
        select(escort_day.label("day"), col(EscortRequest.checkpoint_id).label("checkpoint_id"), over)
        .where(col(EscortRequest.requested_at) >= span.start, col(EscortRequest.requested_at) < span.end)
        .subquery()
    )
    escort_counts = {
        (span.key(row_day, "day"), checkpoint_id): (count, int(over_count or 0))
        for row_day, checkpoint_id, count, over_count in session.exec(
            select(
                inner.c.day,
                inner.c.checkpoint_id,
                func.count(),
                func.sum(case((inner.c.over, 1), else_=0)),
            ).group_by(inner.c.day, inner.c.checkpoint_id)
        )
    }
    return [
        DailyRow(row_day, checkpoint_id, counts, *escort_counts.get((row_day, checkpoint_id), (0, 0)))
        for (row_day, checkpoint_id), counts in sorted(crossings.items())
    ]
