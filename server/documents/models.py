"""Uploaded documents: the vehicle licence (行驶证) and the driving licence (驾驶证) of an application, and the
enterprise's business licence (营业执照). The file itself lives under ``<home>/documents/`` (``storage``), never in
the database; the row says whose it is, what it is and how to serve it."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

VEHICLE_LICENCE, DRIVING_LICENCE, BUSINESS_LICENCE = "vehicle_licence", "driving_licence", "business_licence"
KINDS = (VEHICLE_LICENCE, DRIVING_LICENCE, BUSINESS_LICENCE)
APPLICATION_KINDS = (VEHICLE_LICENCE, DRIVING_LICENCE)


class Document(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    # The enterprise it belongs to (an application's, or the registering one's): who besides the bureau may see it.
    enterprise_uscc: str = Field(foreign_key="enterprise.uscc", index=True, max_length=18)
    application_id: int | None = Field(default=None, foreign_key="application.id", index=True)
    stored_name: str = Field(
        unique=True, max_length=64
    )  # random; the client's file name never reaches the disk
    display_name: str = Field(default="", max_length=100)  # the client's name, sanitised, only ever shown
    media_type: str = Field(max_length=20)  # image/jpeg | image/png | application/pdf, from the content
    size: int
    uploaded_by: int | None = Field(default=None, foreign_key="app_user.id")
    uploaded_at: datetime = Field(sa_type=UTCDateTime)
