"""Applications for passes and every change of their state."""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

DRAFT, SUBMITTED, APPROVED, REJECTED, ISSUED, REVOKED, EXPIRED = (
    "draft",
    "submitted",
    "approved",
    "rejected",
    "issued",
    "revoked",
    "expired",
)
STATUSES = (DRAFT, SUBMITTED, APPROVED, REJECTED, ISSUED, REVOKED, EXPIRED)


class Application(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    enterprise_uscc: str = Field(foreign_key="enterprise.uscc", index=True, max_length=18)
    created_by: int = Field(foreign_key="app_user.id")
    status: str = Field(default=DRAFT, index=True, max_length=10)
    # ApplicationCreate as JSON with ID and licence numbers masked; the full numbers are sealed in people_sealed
    # (server.applications.people). NULL there: a row from before sealing, full numbers still in the body.
    body_json: str = Field(sa_type=Text)
    people_sealed: str | None = Field(default=None, sa_type=Text)
    plate: str = Field(index=True, max_length=10)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    reason: str = Field(default="", max_length=500)
    pass_id: str | None = Field(default=None, foreign_key="issued_pass.pass_id", unique=True, max_length=24)
    # Set when retention blanked the people in body_json (server/retention): what statistics need stays.
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApplicationEvent(SQLModel, table=True):
    __tablename__ = "application_event"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None, foreign_key="app_user.id")
    from_status: str = Field(default="", max_length=10)
    to_status: str = Field(max_length=10)
    reason: str = Field(default="", max_length=500)


class PersonHash(SQLModel, table=True):
    """A keyed hash (HMAC-SHA256, a data key's) of the ID number of a person on an application or an issued pass:
    finds the same person elsewhere without storing the number."""

    __tablename__ = "person_hash"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int | None = Field(default=None, foreign_key="application.id", index=True)
    pass_id: str | None = Field(default=None, foreign_key="issued_pass.pass_id", index=True, max_length=24)
    role: str = Field(max_length=8)  # driver | escort
    position: int = 0  # the escort's place in the list; 0 for the driver
    kid: str = Field(max_length=8)  # the data key that hashed it
    digest: str = Field(index=True, max_length=64)
