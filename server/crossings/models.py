"""Crossing records uploaded by checkpoint devices, conflicting repeats, escort requests, and the roll-ups
that count crossings for the dashboard."""

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

ESCORT_OPEN, ESCORT_ANSWERED, ESCORT_HANDED_OVER, ESCORT_CANCELLED = (
    "open",
    "answered",
    "handed_over",
    "cancelled",
)

KIND_FREIGHT, KIND_PERSONNEL = "freight", "personnel"  # a crossing's vehicle: freight, or a bus (issue 14)

PLATE_TRIGRAM_INDEX = "ix_crossing_plate_trgm"  # PostgreSQL only: see Crossing.__table_args__
DEVICE_SEQ_INDEX = (
    "ix_crossing_device_seq"  # PostgreSQL only: the partitioned table's (device_id, seq) lookup
)
DEVICE_SEQ_UNIQUE = "uq_crossing_device_id_seq"  # SQLite only: crossing_key holds it on both (issue 15)


class CrossingKey(SQLModel, table=True):
    """One row per stored crossing, unpartitioned, written in the crossing's own transaction on both databases.

    On PostgreSQL ``crossing`` is partitioned by ``received_at`` (server/crossings/partitions.py), and a
    partitioned table cannot keep a unique constraint that leaves out its partition key: the device-made id, and a
    device's counter, would only be unique within one day. This table keeps them unique across all days, so a
    retry arriving days later, or another device's reuse of an id, still meets an IntegrityError and the ingest's
    lookup (``_existing``) finds it in one small index. The escort requests and quarantine tasks point here, so
    a whole day's partition can be dropped and replaced by the retention purge."""

    __tablename__ = "crossing_key"
    __table_args__ = (UniqueConstraint("device_id", "seq", name="uq_crossing_key_device_id_seq"),)

    id: str = Field(primary_key=True, max_length=36)
    device_id: str = Field(foreign_key="device.id", max_length=32)
    seq: int
    record_hash: str = Field(
        max_length=64
    )  # a duplicate (same hash) from a conflict, without reading crossing
    received_at: datetime = Field(sa_type=UTCDateTime)  # the crossing's partition key: where its row is


class Crossing(SQLModel, table=True):
    # The audit lists crossings newest first in keyset pages of (decided_at, id): each filter has an index ending in
    # those two columns, so the database reads one page in order whatever the table's size (server/audit/queries.py).
    # PostgreSQL: partitioned by received_at, its primary key is (id, received_at) and (device_id, seq) only an
    # index; the uniqueness of both lives in crossing_key (migration 0027). SQLite keeps the table as it was.
    __table_args__ = (
        UniqueConstraint("device_id", "seq", name=DEVICE_SEQ_UNIQUE).ddl_if(dialect="sqlite"),
        Index(DEVICE_SEQ_INDEX, "device_id", "seq").ddl_if(dialect="postgresql"),
        # PostgreSQL also keeps what the dashboard groups by in this index, so its aggregates over a time range
        # read the index alone, never the wide rows.
        Index(
            "ix_crossing_time",
            "decided_at",
            "id",
            postgresql_include=["checkpoint_id", "outcome", "enterprise_uscc"],
        ),
        Index("ix_crossing_checkpoint_time", "checkpoint_id", "decided_at", "id"),
        Index("ix_crossing_enterprise_time", "enterprise_uscc", "decided_at", "id"),
        Index("ix_crossing_pass_time", "pass_id", "decided_at", "id"),
        Index("ix_crossing_plate_time", "plate", "decided_at", "id"),
        Index("ix_crossing_outcome_time", "outcome", "decided_at", "id"),
        Index("ix_crossing_officer_time", "officer", "decided_at", "id"),
        # Buses (issue 14) among the crossings: the audit's "personnel transport only" filter and bus waits.
        Index("ix_crossing_kind_time", "kind", "decided_at", "id"),
        # The audit's plate search matches part of a plate ("A1234" finds 苏EA1234: LIKE '%A1234%'), which no
        # b-tree serves; PostgreSQL answers it from a trigram index (pg_trgm, migration 0020). SQLite has none and
        # reads the time index instead (fine at a single site's volume).
        Index(
            PLATE_TRIGRAM_INDEX,
            "plate",
            postgresql_using="gin",
            postgresql_ops={"plate": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: str = Field(primary_key=True, max_length=36)  # made by the device, so a retried upload is recognised
    device_id: str = Field(foreign_key="device.id", index=True, max_length=32)
    checkpoint_id: int = Field(foreign_key="checkpoint.id")
    seq: int  # the device's own counter: gaps are visible
    prev_hash: str = Field(max_length=64)
    record_hash: str = Field(max_length=64)
    decided_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(sa_type=UTCDateTime, index=True)  # retention counts from it too
    outcome: str = Field(max_length=16)
    plate: str = Field(max_length=10)
    pass_id: str | None = Field(default=None, max_length=24)
    enterprise_uscc: str | None = Field(default=None, max_length=18)
    policy_version: int
    bundle_version: int
    # The officer signed in on the device when deciding (issue 12); NULL for records from devices before it.
    officer: str | None = Field(default=None, max_length=16)
    body_json: str = Field(sa_type=Text)  # the record exactly as the device hashed it
    # Set when retention anonymised the body: from then on sha256(body_json) no longer equals record_hash.
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set when the audit has raised this record's alerts; the periodic sweep audits whatever is still unset.
    audited_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    # Issue 14: a bus (personnel-transport pass) or a freight vehicle, from the record's `bus` key. The wait is
    # decided_at - bus.arrived_at (the priority lane's promise), NULL for freight or a bus without arrived_at;
    # the counts are of the manifest's passengers (no names: statistics that outlive the retention purge).
    kind: str = Field(default=KIND_FREIGHT, max_length=12)
    bus_wait_seconds: int | None = Field(default=None)
    passengers_aboard: int = 0
    passengers_absent: int = 0
    passengers_quarantined: int = 0  # disposition QUARANTINE: each one a quarantine task (server/quarantine)
    passengers_held: int = 0  # disposition MEDICAL_HOLD


class CrossingConflict(SQLModel, table=True):
    """A crossing id uploaded again with different content: refused and kept for the audit."""

    __tablename__ = "crossing_conflict"

    id: int | None = Field(default=None, primary_key=True)
    crossing_id: str = Field(index=True, max_length=36)
    device_id: str = Field(max_length=32)
    received_at: datetime = Field(sa_type=UTCDateTime, index=True)
    body_json: str = Field(sa_type=Text)
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EscortRequest(SQLModel, table=True):
    __tablename__ = "escort_request"
    # The dashboard reads every request of its range for the waits: PostgreSQL finds what it needs in the time
    # index itself, never the wider rows (half the time over a quarter's requests).
    __table_args__ = (
        Index(
            "ix_escort_request_requested_at",
            "requested_at",
            postgresql_include=["checkpoint_id", "handed_over_at"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    crossing_id: str = Field(foreign_key="crossing_key.id", unique=True, max_length=36)
    checkpoint_id: int = Field(foreign_key="checkpoint.id", index=True)
    enterprise_uscc: str | None = Field(
        default=None, foreign_key="enterprise.uscc", index=True, max_length=18
    )
    plate: str = Field(max_length=10)
    status: str = Field(default=ESCORT_OPEN, index=True, max_length=12)
    requested_at: datetime = Field(sa_type=UTCDateTime)  # the dashboard's range
    staff_name: str = Field(default="", max_length=50)
    staff_phone: str = Field(default="", max_length=30)
    eta: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_by: int | None = Field(default=None, foreign_key="app_user.id")
    handed_over_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Who took the vehicle over, as the checkpoint recorded it (issue 12): the enterprise's staff member (name and
    # the last four of their ID; personal, blanked by the retention purge) and the officer signed in ('' / None
    # for hand-overs from devices before it).
    handover_staff_name: str = Field(default="", max_length=50)
    handover_staff_id_last4: str = Field(default="", max_length=4)
    handover_officer: str | None = Field(default=None, max_length=16)


class CrossingHour(SQLModel, table=True):
    """Crossings counted per UTC hour and checkpoint, one column per outcome: the dashboard and the daily summary
    add these up instead of reading every crossing of their range (20 checkpoints: 480 rows a day, however busy).
    Ingest adds to it in the crossings' own transaction (``server.audit.rollup``); nothing else changes counts."""

    __tablename__ = "crossing_hour"

    hour: datetime = Field(sa_type=UTCDateTime, primary_key=True)  # the start of a UTC hour
    checkpoint_id: int = Field(foreign_key="checkpoint.id", primary_key=True)
    released: int = 0  # RELEASE
    escorted: int = 0  # ESCORT_REQUIRED: one escort request each
    refused: int = 0  # REFUSE
    held: int = 0  # MEDICAL_HOLD: held for fever


class CrossingEnterpriseDay(SQLModel, table=True):
    """Crossings counted per UTC day and enterprise (those without one are not counted), one column per outcome:
    the dashboard's top enterprises. By day, not hour: most enterprises cross a few times a day, so an hourly
    count would be nearly as large as the crossing table."""

    __tablename__ = "crossing_enterprise_day"

    day: datetime = Field(sa_type=UTCDateTime, primary_key=True)  # UTC midnight
    enterprise_uscc: str = Field(max_length=18, primary_key=True)
    released: int = 0
    escorted: int = 0
    refused: int = 0
    held: int = 0
