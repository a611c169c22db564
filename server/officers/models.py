"""A checkpoint's officers: a number unique at the checkpoint, a name, a PIN kept only as its hash."""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

__all__ = ["Officer"]


class Officer(SQLModel, table=True):
    __tablename__ = "checkpoint_officer"
    __table_args__ = (UniqueConstraint("checkpoint_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    checkpoint_id: int = Field(foreign_key="checkpoint.id", index=True)
    number: str = Field(max_length=16)
    name: str = Field(max_length=50)
    pin_hash: str = Field(max_length=200)  # passcore.pins: scrypt with its salt and parameters
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)  # any change, the PIN's included: what sync compares
    pin_set_at: datetime = Field(sa_type=UTCDateTime)
    deactivated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
