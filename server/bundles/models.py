"""Signed trust-bundle versions, kept so any version an audit names can be produced again, which of them the
server handed to which enrolled device when (the audit's knowledge of the rules a device held), and the root
statements that travel with every bundle (a bundle-signing key's certificate, root cross-signatures)."""

from datetime import datetime

from sqlalchemy import Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime


class BundleVersion(SQLModel, table=True):
    __tablename__ = "bundle_version"

    version: int = Field(primary_key=True)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    digest: str = Field(max_length=64)  # SHA-256 of the signed content, to tell whether anything changed
    policy_version: int = Field(foreign_key="policy_version.version")
    signed: bytes = Field(sa_type=LargeBinary)


class BundleServing(SQLModel, table=True):
    """A bundle version answered to an enrolled device (its token came with the fetch; a 304 counts: the device
    then holds that version). A device polling every 30 s adds a row only when the version changes or the last row
    is older than ``server.bundles.servings.GRANULARITY``: the audit needs when a device last fetched, not every poll."""

    __tablename__ = "bundle_serving"
    __table_args__ = (Index("ix_bundle_serving_device_time", "device_id", "served_at"),)

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", max_length=32)
    version: int = Field(foreign_key="bundle_version.version")
    served_at: datetime = Field(sa_type=UTCDateTime)


class BundleStatement(SQLModel, table=True):
    """What travels with every bundle besides its content (issue 15): the root's certificate of a bundle-signing
    key (``purpose`` "bundles") or a root's cross-signature of its successor ("root"), as signed, with what it
    says copied out for choosing and listing. The bytes are the authority; they were verified when installed."""

    __tablename__ = "bundle_statement"

    kid: str = Field(primary_key=True, max_length=16)  # the key the statement is about (hex)
    purpose: str = Field(max_length=8)  # passcore.keycerts.PURPOSE_BUNDLES / PURPOSE_ROOT
    signer_kid: str = Field(max_length=16)  # the root that signed it
    alg: str = Field(max_length=8)
    public_key_pem: str = Field(sa_type=Text)
    valid_from: datetime = Field(sa_type=UTCDateTime)
    valid_until: datetime | None = Field(default=None, sa_type=UTCDateTime)  # None for a root
    statement: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime)
