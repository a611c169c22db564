"""Checkpoints, their one-time enrolment codes and the devices enrolled at them."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db import UTCDateTime


class Checkpoint(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    region: str = Field(max_length=6)
    location: str = Field(default="", max_length=200)
    latitude: float | None = None
    longitude: float | None = None
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    # What the public status page says about traffic here (server/checkpoints/traffic.py), set by an admin.
    traffic: str = Field(default="open", max_length=12)
    traffic_note: str = Field(default="", max_length=200)
    traffic_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EnrolmentCode(SQLModel, table=True):
    __tablename__ = "enrolment_code"

    code_hash: str = Field(primary_key=True, max_length=64)
    checkpoint_id: int = Field(foreign_key="checkpoint.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    device_id: str | None = Field(default=None, max_length=32)


class Device(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=32)
    checkpoint_id: int = Field(foreign_key="checkpoint.id", index=True)
    name: str = Field(default="", max_length=100)
    enrolled_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
