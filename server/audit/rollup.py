"""The crossing roll-ups (``crossing_hour``, ``crossing_enterprise_day``): kept up to date by ingest, read by the
dashboard and the daily summary.

Keeping them: ``add`` counts a batch's accepted crossings and adds the counts with one multi-row upsert per table
(``INSERT … ON CONFLICT DO UPDATE SET crossings = crossings + excluded.crossings``) inside the batch's own
transaction. So a crossing is counted exactly when it is stored: a duplicate or a conflicting upload is never
counted, a batch that rolls back takes its counts with it, and two batches counting the same hour at once both
land (the database serialises the row). Keys go in sorted, so concurrent batches lock shared rows in one order
and cannot deadlock each other. Retention only anonymises bodies, so the counts never change after ingest.

Reading them: ``hour_parts`` and ``day_parts`` cut a time range into the whole UTC hours (days) in its middle,
counted by a roll-up, and the ragged edges, counted from the crossing table (an hour or a day at most on each
side, read through its time index). Each part is a ``Source`` with the same columns, so a statistic is one
aggregate query per part whose rows are added up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from server.audit.sqltime import offset_minutes, utc_floor
from server.crossings.models import Crossing, CrossingEnterpriseDay, CrossingHour

__all__ = ["Source", "add", "day_parts", "floor", "hour_parts", "rebuild"]

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
# Both databases accept the same upsert; SQLAlchemy spells it per dialect.
_UPSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def floor(moment: datetime, unit: str) -> datetime:
    """The start of the moment's UTC hour (unit "hour") or day ("day")."""
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if unit == "day" else moment


def add(session: Session, crossings: Iterable[Mapping[str, Any]]) -> None:
    """Count crossings just inserted (rows with decided_at, checkpoint_id, outcome, enterprise_uscc)."""
    rows = list(crossings)
    hours = Counter((floor(r["decided_at"], "hour"), r["checkpoint_id"], r["outcome"]) for r in rows)
    days = Counter(
        (floor(r["decided_at"], "day"), r["enterprise_uscc"], r["outcome"])
        for r in rows
        if r["enterprise_uscc"]
    )
    _upsert(session, CrossingHour, ("hour", "checkpoint_id", "outcome"), hours)
    _upsert(session, CrossingEnterpriseDay, ("day", "enterprise_uscc", "outcome"), days)


def _upsert(session: Session, model: type, keys: tuple[str, ...], counts: Counter[tuple[Any, ...]]) -> None:
    if not counts:
        return
    upsert = _UPSERT[session.get_bind().dialect.name]
    statement = upsert(model).values(
        [dict(zip(keys, key, strict=True)) | {"crossings": n} for key, n in sorted(counts.items())]
    )
    table = model.__table__  # type: ignore[attr-defined]
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={"crossings": table.c.crossings + statement.excluded.crossings}
    )
    session.exec(statement)  # type: ignore[call-overload]


def rebuild(session: Session) -> None:
    """Count both roll-ups afresh from the crossing table (for crossings loaded past ingest, as the benchmark's
    generator does with COPY). The caller commits."""
    session.exec(delete(CrossingHour))  # type: ignore[call-overload]
    session.exec(delete(CrossingEnterpriseDay))  # type: ignore[call-overload]
    hour = utc_floor(col(Crossing.decided_at), "hour")
    day = utc_floor(col(Crossing.decided_at), "day")
    outcome, checkpoint, uscc = (
        col(Crossing.outcome),
        col(Crossing.checkpoint_id),
        col(Crossing.enterprise_uscc),
    )
    session.exec(  # type: ignore[call-overload]
        insert(CrossingHour).from_select(
            ["hour", "checkpoint_id", "outcome", "crossings"],
            select(hour, checkpoint, outcome, func.count()).group_by(hour, checkpoint, outcome),
        )
    )
    session.exec(  # type: ignore[call-overload]
        insert(CrossingEnterpriseDay).from_select(
            ["day", "enterprise_uscc", "outcome", "crossings"],
            select(day, uscc, outcome, func.count()).where(uscc.is_not(None)).group_by(day, uscc, outcome),
        )
    )


@dataclass(frozen=True)
class Source:
    """What one part of a range is counted from: its time column, the columns it can be grouped by (None where it
    has none: the hourly roll-up knows no enterprise, the daily one no checkpoint) and its count."""

    time: Any
    checkpoint_id: Any
    outcome: Any
    enterprise_uscc: Any
    count: Any
    start: datetime
    end: datetime

    def within(self) -> list[ColumnElement[bool]]:
        return [self.time >= self.start, self.time < self.end]


def _crossings(start: datetime, end: datetime) -> Source:
    return Source(
        col(Crossing.decided_at),
        col(Crossing.checkpoint_id),
        col(Crossing.outcome),
        col(Crossing.enterprise_uscc),
        func.count(),
        start,
        end,
    )


def _hours(start: datetime, end: datetime) -> Source:
    return Source(
        col(CrossingHour.hour),
        col(CrossingHour.checkpoint_id),
        col(CrossingHour.outcome),
        None,
        func.sum(col(CrossingHour.crossings)),
        start,
        end,
    )


def _days(start: datetime, end: datetime) -> Source:
    return Source(
        col(CrossingEnterpriseDay.day),
        None,
        col(CrossingEnterpriseDay.outcome),
        col(CrossingEnterpriseDay.enterprise_uscc),
        func.sum(col(CrossingEnterpriseDay.crossings)),
        start,
        end,
    )


def _split(
    start: datetime, end: datetime, unit: str, rolled: Callable[[datetime, datetime], Source]
) -> list[Source]:
    first = floor(start, unit)
    if first < start:
        first += HOUR if unit == "hour" else DAY
    last = floor(end, unit)
    if first >= last:
        return [_crossings(start, end)]
    parts = [rolled(first, last)]
    if start < first:
        parts.append(_crossings(start, first))
    if last < end:
        parts.append(_crossings(last, end))
    return parts


def hour_parts(start: datetime, end: datetime, zone: str) -> list[Source]:
    """[start, end) as the hourly roll-up's whole hours and the crossings at the edges.

    Local hours and days are cut from UTC hours, which holds only in a zone whose offset is whole hours (Asia/
    Shanghai, and nearly every other); in one that is not (Asia/Kolkata, +5:30) the whole range is counted from
    the crossing table, as it was before the roll-up.
    """
    if offset_minutes(zone, start) % 60 or offset_minutes(zone, end) % 60:
        return [_crossings(start, end)]
    return _split(start, end, "hour", _hours)


def day_parts(start: datetime, end: datetime) -> list[Source]:
    """[start, end) as the enterprise roll-up's whole UTC days and the crossings at the edges (for totals over the
    range, never cut into local buckets)."""
    return _split(start, end, "day", _days)
