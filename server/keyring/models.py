"""Signing keys' public parts and status. The private parts are files under keys/, never in the database."""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

ROLE_ROOT, ROLE_ISSUER = "root", "issuer"


class KeyRecord(SQLModel, table=True):
    __tablename__ = "signing_key"

    kid: str = Field(primary_key=True, max_length=16)  # hex of passcore.keys.kid_for
    role: str = Field(max_length=8)
    alg: str = Field(max_length=8)
    public_key_pem: str = Field(sa_type=Text)
    status: str = Field(max_length=10)  # passcore.trust.KEY_ACTIVE / KEY_PREVIOUS / KEY_RETIRED
    valid_from: datetime = Field(sa_type=UTCDateTime)
    valid_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
