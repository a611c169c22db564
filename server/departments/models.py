"""Departments that answer problems passed on by the bureau. Their staff are users of role ``department`` whose
``department_id`` names one of these (server/accounts/models.py)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db import UTCDateTime


class Department(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name_zh: str = Field(unique=True, max_length=50)
    name_en: str = Field(default="", max_length=80)
    phone: str = Field(
        default="", max_length=30
    )  # the department's own desk, shown to the bureau's duty staff
    # A department is deactivated, never deleted: problems passed to it keep naming it.
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
