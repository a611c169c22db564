"""A quarantine task: one passenger of a bus released into the enterprise's quarantine (disposition QUARANTINE,
reason QUARANTINE_BY_ENTERPRISE), whose arrival at the quarantine place the enterprise confirms."""

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

OPEN, CONFIRMED = "open", "confirmed"
STATUSES = (OPEN, CONFIRMED)


class QuarantineTask(SQLModel, table=True):
    __tablename__ = "quarantine_task"
    __table_args__ = (
        # One task per passenger of a crossing, however often the record is uploaded or the ingest retried.
        UniqueConstraint("crossing_id", "passenger", name="uq_quarantine_task_crossing_id_passenger"),
        # The lists and the sweep: open tasks by deadline, of one enterprise or of all.
        Index("ix_quarantine_task_status_due", "status", "due_at"),
        Index("ix_quarantine_task_enterprise_due", "enterprise_uscc", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    crossing_id: str = Field(foreign_key="crossing_key.id", max_length=36)
    passenger: int  # the passenger's number on the manifest (1-based), as the record has it
    # The pass's enterprise: it arranges the quarantine (Kunshan item 7, "由复工企业落实人员隔离相关要求").
    # NULL only when the record named a pass this server never issued (the audit flags that record anyway).
    enterprise_uscc: str | None = Field(default=None, foreign_key="enterprise.uscc", max_length=18)
    pass_id: str | None = Field(default=None, index=True, max_length=24)
    checkpoint_id: int = Field(foreign_key="checkpoint.id")
    plate: str = Field(max_length=10)
    name: str = Field(default="", max_length=50)  # personal: blanked by retention
    decided_at: datetime = Field(sa_type=UTCDateTime)  # released at the checkpoint: arrival is not before it
    due_at: datetime = Field(sa_type=UTCDateTime)  # decided_at + policy.quarantine_confirm_hours
    status: str = Field(default=OPEN, max_length=12)
    place: str = Field(default="", max_length=100)  # where the person is quarantined; personal
    arrived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirmed_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # name and place blanked
