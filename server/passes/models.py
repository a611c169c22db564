"""Issued passes, their revocations and the signed manifest pages of a personnel-transport (bus) pass."""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime


class IssuedPass(SQLModel, table=True):
    __tablename__ = "issued_pass"

    pass_id: str = Field(primary_key=True, max_length=24)
    serial: str = Field(unique=True, max_length=20)
    kid: str = Field(foreign_key="signing_key.kid", max_length=16)
    enterprise_uscc: str = Field(foreign_key="enterprise.uscc", index=True, max_length=18)
    plate: str = Field(index=True, max_length=10)
    claims_json: str = Field(sa_type=Text)  # what the QR says (masked)
    # What was applied for, ID and licence numbers masked; the full numbers are sealed in people_sealed.
    application_json: str = Field(sa_type=Text)
    people_sealed: str | None = Field(default=None, sa_type=Text)
    qr_text: str = Field(sa_type=Text)
    application_id: int | None = Field(default=None, unique=True)  # one pass per application, enforced here
    issued_at: datetime = Field(sa_type=UTCDateTime)
    valid_from: datetime = Field(sa_type=UTCDateTime)
    valid_until: datetime = Field(sa_type=UTCDateTime)
    # Set when retention blanked the people in claims_json and application_json and dropped qr_text (which
    # names them): the row stays for the revocation list, the counts and the audit (server/retention).
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Revocation(SQLModel, table=True):
    pass_id: str = Field(primary_key=True, foreign_key="issued_pass.pass_id", max_length=24)
    revoked_at: datetime = Field(sa_type=UTCDateTime, index=True)
    reason: str = Field(default="", max_length=500)
    revoked_by: str = Field(default="", max_length=100)


class ManifestPage(SQLModel, table=True):
    """One signed manifest page of a bus pass (``CPM1:`` text, passcore.manifest), signed at issue with the pass.

    Kept as signed rather than re-signed on each download: a page printed today and one printed tomorrow are the
    same page, and the pass's digest binds exactly these. Retention deletes them with the pass's people (they
    name the passengers)."""

    __tablename__ = "pass_manifest_page"

    pass_id: str = Field(primary_key=True, foreign_key="issued_pass.pass_id", max_length=24)
    number: int = Field(primary_key=True)  # 1-based, as printed ("3/5")
    text: str = Field(sa_type=Text)
