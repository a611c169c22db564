"""Runs of the scheduled purge: one row per day, so several workers never run it twice."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db import UTCDateTime


class RetentionRun(SQLModel, table=True):
    __tablename__ = "retention_run"

    id: int | None = Field(default=None, primary_key=True)
    day: str = Field(unique=True, max_length=10)  # ISO date (UTC); the unique key is the cross-worker guard
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    crossings: int = 0  # records anonymised by this run
