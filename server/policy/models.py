"""Release-policy versions: each change is a new row, never an update."""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime


class PolicyVersion(SQLModel, table=True):
    __tablename__ = "policy_version"

    version: int = Field(primary_key=True)
    body_json: str = Field(sa_type=Text)  # passcore.policy.Policy.to_dict()
    effective_from: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str = Field(default="", max_length=100)
