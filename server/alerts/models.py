"""Alerts the audit raises: one row per finding, worked from open to acknowledged to closed; and the audit's
queue of work (issue 15, server/alerts/queue.py)."""

from datetime import datetime

from sqlalchemy import BigInteger, Column, Integer, Text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

ALERT_OPEN, ALERT_ACKNOWLEDGED, ALERT_CLOSED = "open", "acknowledged", "closed"
ALERT_STATUSES = (ALERT_OPEN, ALERT_ACKNOWLEDGED, ALERT_CLOSED)


class Alert(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True, max_length=32)
    status: str = Field(default=ALERT_OPEN, index=True, max_length=12)
    # The same finding is raised once, however often ingest, the periodic check or a re-run meets it.
    dedupe_key: str = Field(unique=True, max_length=200)
    # Plain ids, not foreign keys: a conflicting upload names a crossing id the server never stored.
    crossing_id: str | None = Field(default=None, index=True, max_length=36)
    device_id: str | None = Field(default=None, index=True, max_length=32)
    pass_id: str | None = Field(default=None, index=True, max_length=24)
    checkpoint_id: int | None = Field(default=None, index=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime, index=True)  # when it happened: the list's order
    detail: str = Field(default="{}", sa_type=Text)  # JSON; codes and numbers, never names or ID numbers
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    acted_by: int | None = Field(default=None, foreign_key="app_user.id")
    acted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    note: str = Field(default="", max_length=500)


class AlertEvent(SQLModel, table=True):
    """Every action on an alert, so acknowledging and then closing keeps both who and why."""

    __tablename__ = "alert_event"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    action: str = Field(max_length=12)  # acknowledged | closed
    by: int = Field(foreign_key="app_user.id")
    at: datetime = Field(sa_type=UTCDateTime)
    note: str = Field(default="", max_length=500)


AUDIT_CROSSING, AUDIT_CONFLICT = "crossing", "conflict"


class AuditQueueEntry(SQLModel, table=True):
    """Work for the audit: a crossing just stored, or a conflicting upload just kept (server/alerts/queue.py).

    Written by ingest in the transaction that stores the records; deleted by the transaction that audits them.
    No foreign key to crossing: that table is to be partitioned by time, and a foreign key to a partitioned table
    needs its partition key."""

    __tablename__ = "audit_queue"

    # 64 bits on PostgreSQL (a national day is 10^7 entries; 32 bits would run out within a year); SQLite's
    # INTEGER PRIMARY KEY is 64 bits already and must stay INTEGER to number the rows itself.
    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    )
    kind: str = Field(max_length=12)  # crossing | conflict
    crossing_id: str = Field(max_length=36)
    device_id: str = Field(max_length=32)
    # A conflict: its refusal code and the first 16 hex digits of the refused body's sha256 (the alert's dedupe
    # key); never the body itself, which stays in crossing_conflict.
    code: str | None = Field(default=None, max_length=32)
    digest: str | None = Field(default=None, max_length=16)
    enqueued_at: datetime = Field(sa_type=UTCDateTime, index=True)  # the lag is now - the oldest
