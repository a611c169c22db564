"""Enterprises that hold passes; the verified ones form the trust bundle's directory."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db import UTCDateTime


class Enterprise(SQLModel, table=True):
    uscc: str = Field(primary_key=True, max_length=18)
    name: str = Field(max_length=100)
    contact: str = Field(default="", max_length=50)
    phone: str = Field(default="", max_length=30)
    region: str = Field(default="", max_length=6)
    verified: bool = False
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    verified_by: int | None = Field(default=None)  # user id of the administrator (no FK: users come later)
    # An administrator's refusal after looking at the licence (issue 13): the enterprise sees the reason, uploads a
    # new licence and asks again, which clears it (waiting once more).
    rejected_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rejected_by: int | None = Field(default=None)  # user id of the administrator, like verified_by
    rejected_reason: str = Field(default="", max_length=500)
    created_at: datetime = Field(sa_type=UTCDateTime)
