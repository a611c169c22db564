"""Applications for passes and every change of their state."""

from datetime import date, datetime

from sqlalchemy import Index, Text
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
# Returned for correction (退回补正) by a reviewer: the enterprise edits it like a draft and submits it again.
RETURNED = "returned"
# Withdrawn by the enterprise before a decision (server/applications/enterprise_work.py).
WITHDRAWN = "withdrawn"
STATUSES = (DRAFT, SUBMITTED, APPROVED, REJECTED, ISSUED, REVOKED, EXPIRED, RETURNED, WITHDRAWN)


class Application(SQLModel, table=True):
    # The review queue's orders within a status (server/applications/desk_queue.py): oldest, deadline, risk first.
    __table_args__ = (
        Index("ix_application_status_submitted", "status", "submitted_at"),
        Index("ix_application_status_due_on", "status", "due_on"),
        Index("ix_application_status_risk", "status", "risk", "submitted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enterprise_uscc: str = Field(foreign_key="enterprise.uscc", index=True, max_length=18)
    created_by: int = Field(foreign_key="app_user.id")
    status: str = Field(default=DRAFT, index=True, max_length=10)
    # ApplicationCreate as JSON with ID and licence numbers masked; the full numbers are sealed in people_sealed
    # (server.applications.people). NULL there: a row from before sealing, full numbers still in the body.
    body_json: str = Field(sa_type=Text)
    people_sealed: str | None = Field(default=None, sa_type=Text)
    plate: str = Field(index=True, max_length=10)
    # "freight" | "personnel" (a chartered bus with its manifest, issue 14): the body's kind, kept for the lists.
    kind: str = Field(default="freight", max_length=10, sa_column_kwargs={"server_default": "freight"})
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    # The review desk (server/applications/desk.py). due_on: the last local day of the answer (3 working days from
    # submission, again from a resubmission). search_text: the people's names and the plate, upper-cased, kept at
    # every write so the queue finds a name without opening bodies; regions: " origin destination history… " codes
    # for the region filter. A claim: who works the application and until when (a user id, not a foreign key, so
    # SQLite adds the column in place; accounts are deactivated, never deleted).
    due_on: date | None = Field(default=None, index=True)
    search_text: str = Field(default="", sa_type=Text)
    regions: str = Field(default="", sa_type=Text)
    claimed_by: int | None = Field(default=None)
    claim_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    reason: str = Field(default="", max_length=500)
    pass_id: str | None = Field(default=None, foreign_key="issued_pass.pass_id", unique=True, max_length=24)
    # Set when retention blanked the people in body_json (server/retention): what statistics need stays.
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Risk flags (server/applications/risk.py), worked out at submission and again when the hard-hit list changes,
    # so that the queue sorts and filters by them without working them out per row: risk is the number of reasons
    # (0 = no flag), risk_reasons a JSON list of {"code": ..., "detail": ...}.
    risk: int = Field(default=0, index=True)
    risk_reasons: str = Field(default="[]", sa_type=Text)
    # The pass this application replaces (a renewal or an amendment): it does not count as a conflict of the plate,
    # and it is revoked when this application's pass is issued.
    replaces_pass_id: str | None = Field(default=None, foreign_key="issued_pass.pass_id", max_length=24)
    # What this application was made from (server/applications/enterprise_work.py): the application it copies,
    # renews or amends (a plain number: a copied draft may be deleted) and which of "copy", "renew", "amend".
    derived_from: int | None = Field(default=None)
    derivation: str = Field(default="", max_length=8)


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
    role: str = Field(max_length=10)  # driver | escort | manager | passenger (a bus's, issue 14)
    position: int = 0  # the escort's place in the list; 0 for the driver
    kid: str = Field(max_length=8)  # the data key that hashed it
    digest: str = Field(index=True, max_length=64)


class ReviewNote(SQLModel, table=True):
    """A reviewer's internal note on an application: for the bureau's reviewers and administrators only, never
    shown to the enterprise."""

    __tablename__ = "review_note"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    author_id: int = Field(foreign_key="app_user.id")
    at: datetime = Field(sa_type=UTCDateTime)
    text: str = Field(max_length=1000)
