"""A link the enterprise sends a pass's driver: it opens the phone page of that one pass without a password.

The link carries a random token; only its SHA-256 is kept (like an API token), so the database never holds a
usable link. The link ends with the pass (``expires_at`` is the pass's end) or when the enterprise revokes it.
"""

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

__all__ = ["DriverLink"]


class DriverLink(SQLModel, table=True):
    __tablename__ = "driver_link"

    id: int | None = Field(default=None, primary_key=True)
    pass_id: str = Field(foreign_key="issued_pass.pass_id", index=True, max_length=24)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: int = Field(foreign_key="app_user.id")
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: int | None = Field(default=None, foreign_key="app_user.id")
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # the phone's last status check
