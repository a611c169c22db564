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
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from passcore.reasons import MEDICAL_HOLD, OUTCOMES
from server.audit import rollup
from server.audit.rollup import Source
from server.audit.sqltime import (
    bucket_key,
    local_bucket,
    local_number,
    minutes_between,
    offset_minutes,
    whole,
)
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

FEVER_OUTCOME = MEDICAL_HOLD  # precedence 1 of the rules: a fever and nothing else holds a vehicle
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

    @cached_property
    def steady(self) -> bool:
        """Whether the zone keeps one UTC offset over the whole range (no daylight-saving change inside it)."""
        zone, moment = ZoneInfo(self.zone), self.start
        first = moment.astimezone(zone).utcoffset()
        while moment < self.end:  # hour by hour: no zone keeps an offset for less than an hour
            if moment.astimezone(zone).utcoffset() != first:
                return False
            moment += timedelta(hours=1)
        return self.end.astimezone(zone).utcoffset() == first

    def bucket(self, column: object, unit: str | None = None) -> Any:
        """The column cut to the local hour or day, to group by and then name with ``key``: by integer
        arithmetic when the offset is steady (cheaper per row), else by the database's own zone rules."""
        offset = offset_minutes(self.zone, self.start)
        if self.steady:
            return local_number(column, unit or self.unit, offset)
        return local_bucket(column, unit or self.unit, self.zone, offset)

    def key(self, value: object, unit: str | None = None) -> str:
        return bucket_key(value, unit or self.unit, self.zone)

    def hourly(self) -> list[Source]:
        """The range as parts that can be grouped by checkpoint and local hour or day."""
        return rollup.hour_parts(self.start, self.end, self.zone)

    def daily(self) -> list[Source]:
        """The range as parts that can be grouped by enterprise."""
        return rollup.day_parts(self.start, self.end)


def _counted(
    session: Session,
    parts: Sequence[Source],
    group: Callable[[Source], tuple[Any, ...]],
    counts: Callable[[Source], list[Any]],
    where: Callable[[Source], list[Any]] = lambda _: [],
) -> Iterator[tuple[Any, ...]]:
    """(*group, *counts) rows of every part; the same group can come from several parts (callers add them)."""
    for part in parts:
        columns = group(part)
        query = select(*columns, *counts(part)).where(*part.within(), *where(part)).group_by(*columns)
        # Core rather than ORM execution: these are plain tuples, and the ORM's per-row work is measurable here.
        yield from session.connection().execute(query).all()


def _by_outcome(part: Source) -> list[Any]:
    return [part.counts[outcome] for outcome in OUTCOMES]


def checkpoint_names(session: Session) -> dict[int, str]:
    return {cid: name for cid, name in session.exec(select(Checkpoint.id, Checkpoint.name)) if cid}


def totals(session: Session, span: Span, wait_limit: int, now: datetime) -> dict[str, int]:
    """Crossings by outcome, escort requests (and those over the limit), conflicting uploads in the range."""
    found = {outcome: 0 for outcome in OUTCOMES}
    for counts in _counted(session, span.hourly(), lambda _: (), _by_outcome):
        for outcome, count in zip(OUTCOMES, counts, strict=True):
            found[outcome] += int(count or 0)  # no rows at all: one row of nulls
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
    group = lambda part: (part.checkpoint_id, span.bucket(part.time, "hour"))  # noqa: E731
    for checkpoint_id, bucket, count in _counted(session, span.hourly(), group, lambda part: [part.total]):
        found[checkpoint_id][span.key(bucket, "hour")] += count
    return {checkpoint_id: dict(hours) for checkpoint_id, hours in found.items()}


def outcomes_over_time(session: Session, span: Span) -> dict[str, dict[str, int]]:
    """outcome -> local hour or day -> crossings (only buckets with crossings of that outcome)."""
    found: dict[str, dict[str, int]] = {outcome: defaultdict(int) for outcome in OUTCOMES}
    for bucket, *counts in _counted(
        session, span.hourly(), lambda part: (span.bucket(part.time),), _by_outcome
    ):
        for outcome, count in zip(OUTCOMES, counts, strict=True):
            if count:
                found[outcome][span.key(bucket)] += count
    return {outcome: dict(buckets) for outcome, buckets in found.items()}


def fever_by_day(session: Session, span: Span) -> dict[int, dict[str, int]]:
    """checkpoint id -> local day -> crossings held for fever."""
    found: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = _counted(
        session,
        span.hourly(),
        lambda part: (part.checkpoint_id, span.bucket(part.time, "day")),
        lambda part: [part.counts[FEVER_OUTCOME]],
        lambda part: [part.having(FEVER_OUTCOME)],
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
        select(whole(waited / WAIT_BIN_MINUTES).label("bin"))
        .where(col(EscortRequest.requested_at) >= span.start, col(EscortRequest.requested_at) < span.end)
        .subquery()
    )
    counts = [0] * WAIT_BINS
    for bin_no, count in session.exec(select(inner.c.bin, func.count()).group_by(inner.c.bin)):
        counts[min(max(int(bin_no or 0), 0), WAIT_BINS - 1)] += count
    return counts


def top_enterprises(session: Session, span: Span, limit: int = 10) -> list[tuple[str, str, dict[str, int]]]:
    """The enterprises with the most crossings in the range: (USCC, name or "", outcome -> crossings).

    One pass over the range's enterprise roll-up (a few thousand enterprises at most); the ranking is of those.
    """
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {o: 0 for o in OUTCOMES})
    rows = _counted(
        session,
        span.daily(),
        lambda part: (part.enterprise_uscc,),
        _by_outcome,
        lambda part: [part.enterprise_uscc.is_not(None)],
    )
    for uscc, *counted in rows:
        for outcome, count in zip(OUTCOMES, counted, strict=True):
            counts[uscc][outcome] += count
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
    group = lambda part: (span.bucket(part.time, "day"), part.checkpoint_id)  # noqa: E731
    for row_day, checkpoint_id, *counted in _counted(session, span.hourly(), group, _by_outcome):
        counts = crossings[span.key(row_day, "day"), checkpoint_id]
        for outcome, count in zip(OUTCOMES, counted, strict=True):
            counts[outcome] += count
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
