"""The crossing roll-ups (``crossing_hour``, ``crossing_enterprise_day``): kept up to date by ingest, read by the
dashboard and the daily summary.

Both count crossings by outcome, one column each (``COLUMNS``): a range's counts are then one row per hour and
checkpoint, not four.

Keeping them: ``add`` counts a batch's accepted crossings and adds the counts with one multi-row upsert per table
(``INSERT … ON CONFLICT DO UPDATE SET released = released + excluded.released, …``) inside the batch's own
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from passcore.reasons import ESCORT_REQUIRED, MEDICAL_HOLD, REFUSE, RELEASE
from server.audit.sqltime import offset_minutes, utc_floor
from server.crossings.models import Crossing, CrossingEnterpriseDay, CrossingHour

__all__ = ["COLUMNS", "Source", "add", "day_parts", "floor", "hour_parts", "rebuild"]

COLUMNS: dict[str, str] = {
    RELEASE: "released",
    ESCORT_REQUIRED: "escorted",
    REFUSE: "refused",
    MEDICAL_HOLD: "held",
}
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
# Both databases accept the same upsert; SQLAlchemy spells it per dialect.
_UPSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def floor(moment: datetime, unit: str) -> datetime:
    """The start of the moment's UTC hour (unit "hour") or day ("day")."""
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if unit == "day" else moment


def add(session: Session, crossings: Iterable[Mapping[str, Any]]) -> None:
    """Count crossings just inserted (rows with decided_at, checkpoint_id, outcome, enterprise_uscc)."""
    hours: dict[tuple[Any, ...], Counter[str]] = {}
    days: dict[tuple[Any, ...], Counter[str]] = {}
    for row in crossings:
        column = COLUMNS[row["outcome"]]  # ingest stores no other outcome
        hours.setdefault((floor(row["decided_at"], "hour"), row["checkpoint_id"]), Counter())[column] += 1
        if row["enterprise_uscc"]:
            days.setdefault((floor(row["decided_at"], "day"), row["enterprise_uscc"]), Counter())[column] += 1
    _upsert(session, CrossingHour, ("hour", "checkpoint_id"), hours)
    _upsert(session, CrossingEnterpriseDay, ("day", "enterprise_uscc"), days)


def _upsert(
    session: Session, model: type, keys: tuple[str, ...], counts: dict[tuple[Any, ...], Counter[str]]
) -> None:
    if not counts:
        return
    upsert = _UPSERT[session.get_bind().dialect.name]
    # Either dialect's Insert: both have on_conflict_do_update and excluded, but share no type that says so.
    statement: Any = upsert(model).values(
        [
            dict(zip(keys, key, strict=True)) | {name: counted[name] for name in COLUMNS.values()}
            for key, counted in sorted(counts.items())
        ]
    )
    table = model.__table__  # type: ignore[attr-defined]
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in COLUMNS.values()},
    )
    session.exec(statement)  # type: ignore[call-overload]


def _by_outcome() -> list[Any]:
    return [func.sum(case((col(Crossing.outcome) == outcome, 1), else_=0)) for outcome in COLUMNS]


def rebuild(session: Session) -> None:
    """Count both roll-ups afresh from the crossing table (for crossings loaded past ingest, as the benchmark's
    generator does with COPY). The caller commits."""
    session.exec(delete(CrossingHour))  # type: ignore[call-overload]
    session.exec(delete(CrossingEnterpriseDay))  # type: ignore[call-overload]
    hour = utc_floor(col(Crossing.decided_at), "hour")
    day = utc_floor(col(Crossing.decided_at), "day")
    checkpoint, uscc = col(Crossing.checkpoint_id), col(Crossing.enterprise_uscc)
    session.exec(  # type: ignore[call-overload]
        insert(CrossingHour).from_select(
            ["hour", "checkpoint_id", *COLUMNS.values()],
            select(hour, checkpoint, *_by_outcome()).group_by(hour, checkpoint),
        )
    )
    session.exec(  # type: ignore[call-overload]
        insert(CrossingEnterpriseDay).from_select(
            ["day", "enterprise_uscc", *COLUMNS.values()],
            select(day, uscc, *_by_outcome()).where(uscc.is_not(None)).group_by(day, uscc),
        )
    )


@dataclass(frozen=True)
class Source:
    """What one part of a range is counted from: its time column, the columns it can be grouped by (None where it
    has none: the hourly roll-up knows no enterprise, the daily one no checkpoint), the aggregates that count its
    crossings of each outcome and of all (``counts``, ``total``), and a condition keeping only rows that have
    crossings of one outcome (``having``)."""

    time: Any
    checkpoint_id: Any
    enterprise_uscc: Any
    counts: dict[str, Any]
    total: Any
    having: Callable[[str], ColumnElement[bool]] = field(repr=False)
    start: datetime
    end: datetime

    def within(self) -> list[ColumnElement[bool]]:
        return [self.time >= self.start, self.time < self.end]


def _crossings(start: datetime, end: datetime) -> Source:
    outcome = col(Crossing.outcome)
    return Source(
        col(Crossing.decided_at),
        col(Crossing.checkpoint_id),
        col(Crossing.enterprise_uscc),
        dict(zip(COLUMNS, _by_outcome(), strict=True)),
        func.count(),
        lambda wanted: outcome == wanted,
        start,
        end,
    )


def _rolled(model: Any, time: Any, checkpoint: Any, uscc: Any) -> Callable[[datetime, datetime], Source]:
    columns = {outcome: model.__table__.c[name] for outcome, name in COLUMNS.items()}
    released, *others = columns.values()
    return lambda start, end: Source(
        time,
        checkpoint,
        uscc,
        {outcome: func.sum(column) for outcome, column in columns.items()},
        func.sum(sum(others, released)),
        lambda wanted: columns[wanted] > 0,
        start,
        end,
    )


_hours = _rolled(CrossingHour, col(CrossingHour.hour), col(CrossingHour.checkpoint_id), None)
_days = _rolled(
    CrossingEnterpriseDay, col(CrossingEnterpriseDay.day), None, col(CrossingEnterpriseDay.enterprise_uscc)
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
