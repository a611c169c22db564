"""Enterprises that hold passes; the verified ones form the trust bundle's directory."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db import UTCDateTime


class Enterprise(SQLModel, table=True):
    uscc: str = Field(primary_key=True, max_length=18)
    name: str = Field(max_length=100)
    contact: str = Field(default="", max_length=50)
    phone: str = Field(default="", max_length=30)
    verified: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)
