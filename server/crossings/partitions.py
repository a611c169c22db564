"""The day partitions of ``crossing`` on PostgreSQL (issue 15; migration 0027 made the table partitioned).

One partition per UTC day of ``received_at`` (the server's clock: a device cannot make its rows land in 1970 or
2099), named ``crossing_pYYYYMMDD``, and ``crossing_default`` for rows of a day nobody has made a partition for yet,
so ingest never fails on a missing day. ``ensure`` makes today's and the next days' partitions ahead of time
(`checkpass worker` every hour, `checkpass serve` at start, `checkpass partitions`); when the default partition
holds rows of a day it makes (the workers were down), it moves them into the new partition in the same
transaction. The retention purge replaces a whole old day at once (``replace``; server/retention/service.py).

Every partition is made the same way: a plain table LIKE crossing, filled if there is anything to fill, checked
against its bounds, then ATTACHed. ATTACH takes only a SHARE UPDATE EXCLUSIVE lock on crossing (reads and ingest
go on), where CREATE TABLE ... PARTITION OF would take an ACCESS EXCLUSIVE one and queue every query behind it.

SQLite keeps one plain table (a single site): everything here does nothing there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Table, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from server.crossings.models import Crossing

__all__ = [
    "DAYS_AHEAD",
    "DEFAULT",
    "LOCK_TIMEOUT_MS",
    "Keeper",
    "Partition",
    "ensure",
    "is_partition",
    "listing",
    "name_of",
    "partitioned",
    "replace",
    "whole_days_before",
]

logger = logging.getLogger(__name__)
DAYS_AHEAD = 7  # a week of partitions ahead: the workers can be down that long before rows go to the default
DEFAULT = "crossing_default"
PREFIX = "crossing_p"
_NAME = re.compile(r"^crossing_p(\d{8})$")
LOCK = "checkpass:partitions"  # every change to the set of partitions takes turns on it (several workers)
COPY_BATCH = 2000
LOCK_TIMEOUT_MS = 2000  # ensure's default wait for a lock (see there)


@dataclass(frozen=True)
class Partition:
    name: str
    day: date | None  # None: the default partition
    rows: int  # exact for the default partition, PostgreSQL's estimate (reltuples, -1: never analysed) for a day

    @property
    def lower(self) -> datetime | None:
        return None if self.day is None else datetime.combine(self.day, time(), UTC)

    @property
    def upper(self) -> datetime | None:
        return None if self.day is None else datetime.combine(self.day + timedelta(days=1), time(), UTC)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["day"] = None if self.day is None else self.day.isoformat()
        data["lower"] = None if self.lower is None else self.lower.isoformat()
        data["upper"] = None if self.upper is None else self.upper.isoformat()
        return data


def name_of(day: date) -> str:
    return f"{PREFIX}{day:%Y%m%d}"


def is_partition(name: str) -> bool:
    return name == DEFAULT or _NAME.match(name) is not None


def _day(name: str) -> date | None:
    found = _NAME.match(name)
    return None if found is None else datetime.strptime(found.group(1), "%Y%m%d").date()


def _bound(day: date) -> str:
    # A literal with its zone: the bound means UTC midnight whatever the session's TimeZone.
    return f"'{day.isoformat()} 00:00:00+00'"


def _range(day: date) -> str:
    return f"FROM ({_bound(day)}) TO ({_bound(day + timedelta(days=1))})"


def partitioned(connection: Connection) -> bool:
    """Is ``crossing`` a partitioned table here (PostgreSQL at migration 0027 or later)?"""
    if connection.dialect.name != "postgresql":
        return False
    kind = connection.execute(
        text("SELECT relkind FROM pg_class WHERE oid = to_regclass('crossing')")
    ).scalar()
    return kind == "p"


def _lock(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": LOCK})


def _exists(connection: Connection, name: str) -> bool:
    return connection.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar() is not None


def _like(connection: Connection, name: str, day: date) -> None:
    """A plain table shaped like crossing, held to ``day`` by a CHECK that lets ATTACH skip its validating scan."""
    connection.execute(text(f"CREATE TABLE {name} (LIKE crossing INCLUDING DEFAULTS)"))
    lower, upper = _bound(day), _bound(day + timedelta(days=1))
    connection.execute(
        text(
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_bounds"
            f" CHECK (received_at IS NOT NULL AND received_at >= {lower} AND received_at < {upper})"
        )
    )


def _attach(connection: Connection, name: str, day: date) -> None:
    connection.execute(text(f"ALTER TABLE crossing ATTACH PARTITION {name} FOR VALUES {_range(day)}"))
    connection.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_bounds"))  # the bound says it now


def _make(connection: Connection, day: date) -> int:
    """Make ``day``'s partition, moving its rows out of the default partition; how many moved."""
    name = name_of(day)
    # No insert reaches the default partition while its rows of the day move (else one could land there after
    # the move, and ATTACH would find it). Taken first, before crossing's own lock, as ingest takes them.
    connection.execute(text(f"LOCK TABLE {DEFAULT} IN EXCLUSIVE MODE"))
    _like(connection, name, day)
    lower, upper = _bound(day), _bound(day + timedelta(days=1))
    # Names and bounds made here from a date, never from input.
    move = f"WITH moved AS (DELETE FROM {DEFAULT} WHERE received_at >= {lower} AND received_at < {upper}"  # noqa: S608
    into = f" RETURNING *) INSERT INTO {name} SELECT * FROM moved"  # noqa: S608
    moved = connection.execute(text(move + into)).rowcount
    _attach(connection, name, day)
    return int(moved)


def _days_in_default(connection: Connection) -> set[date]:
    query = f"SELECT DISTINCT (received_at AT TIME ZONE 'UTC')::date FROM {DEFAULT}"  # noqa: S608 (a constant)
    return {row[0] for row in connection.execute(text(query))}


def ensure(
    engine: Engine,
    now: datetime,
    days_ahead: int = DAYS_AHEAD,
    *,
    lock_timeout_ms: int | None = LOCK_TIMEOUT_MS,
) -> dict[str, int]:
    """Make the partitions of today and the ``days_ahead`` days after it, and of any day whose rows sit in the
    default partition; returns the partitions made, each with how many rows moved into it. Idempotent, and
    safe with several workers at once: each day is made in a transaction of its own under one advisory lock,
    and looked for again once the lock is held.

    ``lock_timeout_ms``: how long to wait for a lock (None: as long as it takes) before giving up with an
    OperationalError. A worker or a starting server must not stand behind a long transaction holding crossing
    (nor queue every query behind its own waiting lock request); the days are a week ahead, so the next try
    will do."""
    if days_ahead < 0:
        raise ValueError("days_ahead cannot be negative")
    made: dict[str, int] = {}
    with engine.connect() as connection:
        if not partitioned(connection):
            return made
        connection.rollback()
        today = now.astimezone(UTC).date()
        wanted = {today + timedelta(days=n) for n in range(days_ahead + 1)}
        with connection.begin():
            wanted |= _days_in_default(connection)
        for day in sorted(wanted):
            with connection.begin():
                if lock_timeout_ms is not None:
                    connection.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
                _lock(connection)
                if not _exists(connection, name_of(day)):
                    made[name_of(day)] = _make(connection, day)
    return made


def listing(connection: Connection) -> list[Partition]:
    """The partitions of crossing, oldest day first, the default partition last."""
    if not partitioned(connection):
        return []
    query = (
        "SELECT c.relname, c.reltuples::bigint FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'crossing'::regclass"
    )
    found = []
    for name, estimate in connection.execute(text(query)):
        rows = estimate
        if name == DEFAULT:  # should be empty or nearly: counted exactly
            rows = connection.execute(text(f"SELECT count(*) FROM {DEFAULT}")).scalar_one()  # noqa: S608
        found.append(Partition(name, _day(name), int(rows)))
    return sorted(found, key=lambda p: (p.day is None, p.day or date.min))


def whole_days_before(connection: Connection, cutoff: datetime) -> list[Partition]:
    """Day partitions entirely received before ``cutoff`` (upper bound ≤ cutoff) that still hold unpurged rows."""
    old = []
    for partition in listing(connection):
        if partition.upper is None or partition.upper > cutoff:
            continue
        # The name is a partition's, from pg_class, matching crossing_pYYYYMMDD.
        query = f"SELECT 1 FROM {partition.name} WHERE purged_at IS NULL LIMIT 1"  # noqa: S608
        unpurged = connection.execute(text(query))
        if unpurged.first() is not None:
            old.append(partition)
    return old


def _table(name: str) -> Table:
    """crossing's columns under another name: for reading one partition and writing its replacement."""
    return Crossing.__table__.to_metadata(Crossing.metadata.__class__(), name=name)  # type: ignore[attr-defined]


def _copy_keys_and_indexes(connection: Connection, name: str) -> None:
    """The new table gets crossing's primary key, foreign keys and every index before it is attached, so ATTACH
    adopts them instead of building them while crossing is locked."""
    connection.execute(text(f"ALTER TABLE {name} ADD PRIMARY KEY (id, received_at)"))
    foreign = text(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'crossing'::regclass AND contype = 'f'"
    )
    for (definition,) in connection.execute(foreign).all():
        connection.execute(text(f"ALTER TABLE {name} ADD {definition}"))
    indexes = text(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'crossing'::regclass"
        " AND NOT indisprimary"
    )
    for (definition,) in connection.execute(indexes).all():
        # "CREATE INDEX ix_name ON ONLY public.crossing USING ..." -> "CREATE INDEX ON public.<name> USING ..."
        body = definition.split(" ON ONLY ", 1)[1].split(" ", 1)[1]
        connection.execute(text(f"CREATE INDEX ON {name} {body}"))


def replace(
    connection: Connection,
    partition: Partition,
    rewrite: Callable[[Iterable[dict[str, Any]]], Iterator[dict[str, Any]]],
) -> int:
    """Replace a day's partition by a rewritten copy, in the caller's transaction; how many rows were copied.

    ``rewrite`` gets the rows in batches and gives back what the copy holds. The old partition is locked against
    writes while it is read, then detached and dropped: its file (and its TOAST table's) is removed whole, with
    every byte of the old rows, without VACUUM FULL of the whole table. The copy is attached under the old name."""
    if partition.day is None:
        raise ValueError("the default partition is not replaced whole")
    old, new = partition.name, f"{partition.name}_new"
    connection.execute(text(f"LOCK TABLE {old} IN SHARE MODE"))  # reads go on; no write lands in it meanwhile
    _like(connection, new, partition.day)
    source, target = _table(old), _table(new)
    copied = 0
    # On the statement, not the connection (which would keep it): only this read streams, by a server cursor.
    result = connection.execute(source.select().execution_options(yield_per=COPY_BATCH))
    for batch in result.mappings().partitions():
        rows = list(rewrite([dict(row) for row in batch]))
        if rows:
            connection.execute(target.insert(), rows)
            copied += len(rows)
    _copy_keys_and_indexes(connection, new)
    connection.execute(text(f"ALTER TABLE crossing DETACH PARTITION {old}"))
    connection.execute(text(f"DROP TABLE {old}"))
    connection.execute(text(f"ALTER TABLE {new} RENAME TO {old}"))
    connection.execute(text(f"ALTER TABLE {old} RENAME CONSTRAINT {new}_bounds TO {old}_bounds"))
    _attach(connection, old, partition.day)
    return copied


class Keeper:
    """``ensure`` at most once per ``every``, for a loop (`checkpass worker`). A failure is logged and tried again
    at the next tick: a worker keeps auditing while the default partition catches what a missing day receives."""

    def __init__(
        self, engine: Engine, every: timedelta = timedelta(hours=1), retry: timedelta = timedelta(minutes=1)
    ) -> None:
        self.engine, self.every, self.retry = engine, every, retry
        self.last: datetime | None = None

    def tick(self, now: datetime) -> None:
        if self.last is not None and now - self.last < self.every:
            return
        self.last = now
        try:
            made = ensure(self.engine, now)
        except DBAPIError as err:  # e.g. a lock not granted within the timeout: again in ``retry``
            logger.warning("crossing partitions not made: %s", type(err).__name__)
            self.last = now - self.every + self.retry
            return
        if made:
            logger.info("crossing partitions made: %s", ", ".join(made))
