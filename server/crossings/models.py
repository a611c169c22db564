"""Crossing records uploaded by checkpoint devices, conflicting repeats, and escort requests."""

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

ESCORT_OPEN, ESCORT_ANSWERED, ESCORT_HANDED_OVER, ESCORT_CANCELLED = (
    "open",
    "answered",
    "handed_over",
    "cancelled",
)


class Crossing(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("device_id", "seq", name="uq_crossing_device_id_seq"),)

    id: str = Field(primary_key=True, max_length=36)  # made by the device, so a retried upload is recognised
    device_id: str = Field(foreign_key="device.id", index=True, max_length=32)
    checkpoint_id: int = Field(foreign_key="checkpoint.id", index=True)
    seq: int  # the device's own counter: gaps are visible
    prev_hash: str = Field(max_length=64)
    record_hash: str = Field(max_length=64)
    decided_at: datetime = Field(sa_type=UTCDateTime, index=True)
    received_at: datetime = Field(sa_type=UTCDateTime)
    outcome: str = Field(index=True, max_length=16)
    plate: str = Field(index=True, max_length=10)
    pass_id: str | None = Field(default=None, index=True, max_length=24)
    enterprise_uscc: str | None = Field(default=None, index=True, max_length=18)
    policy_version: int
    bundle_version: int
    body_json: str = Field(sa_type=Text)  # the record exactly as the device hashed it


class CrossingConflict(SQLModel, table=True):
    """A crossing id uploaded again with different content: refused and kept for the audit."""

    __tablename__ = "crossing_conflict"

    id: int | None = Field(default=None, primary_key=True)
    crossing_id: str = Field(index=True, max_length=36)
    device_id: str = Field(max_length=32)
    received_at: datetime = Field(sa_type=UTCDateTime)
    body_json: str = Field(sa_type=Text)


class EscortRequest(SQLModel, table=True):
    __tablename__ = "escort_request"

    id: int | None = Field(default=None, primary_key=True)
    crossing_id: str = Field(foreign_key="crossing.id", unique=True, max_length=36)
    checkpoint_id: int = Field(foreign_key="checkpoint.id", index=True)
    enterprise_uscc: str | None = Field(
        default=None, foreign_key="enterprise.uscc", index=True, max_length=18
    )
    plate: str = Field(max_length=10)
    status: str = Field(default=ESCORT_OPEN, index=True, max_length=12)
    requested_at: datetime = Field(sa_type=UTCDateTime)
    staff_name: str = Field(default="", max_length=50)
    staff_phone: str = Field(default="", max_length=30)
    eta: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_by: int | None = Field(default=None, foreign_key="app_user.id")
    handed_over_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
