"""Signed trust-bundle versions, kept so any version an audit names can be produced again."""

from datetime import datetime

from sqlalchemy import LargeBinary
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
