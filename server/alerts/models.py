"""Alerts the audit raises: one row per finding, worked from open to acknowledged to closed."""

from datetime import datetime

from sqlalchemy import Text
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
