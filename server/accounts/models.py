"""People and machines that use the server: users with roles, web sessions, API tokens, sign-in and registration
attempts (what throttling counts)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

ROLE_ENTERPRISE, ROLE_REVIEWER, ROLE_AUDITOR, ROLE_ADMIN = "enterprise", "reviewer", "auditor", "admin"
ROLE_DEPARTMENT = "department"  # staff of a department problems are passed to (server/departments)
ROLES = (ROLE_ENTERPRISE, ROLE_REVIEWER, ROLE_AUDITOR, ROLE_ADMIN, ROLE_DEPARTMENT)
BUREAU_ROLES = (ROLE_REVIEWER, ROLE_AUDITOR, ROLE_ADMIN)


class User(SQLModel, table=True):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=50)  # stored lower-case
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=12)
    enterprise_uscc: str | None = Field(
        default=None, foreign_key="enterprise.uscc", index=True, max_length=18
    )
    display_name: str = Field(default="", max_length=50)
    # A department user's department. A plain id: SQLite cannot add a foreign key to a table without copying it.
    department_id: int | None = Field(default=None, index=True)
    lang: str = Field(default="zh", max_length=2)
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    # For notices and password resets (issue 13); "" when the user gave none.
    email: str = Field(default="", max_length=254, index=True)


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"

    token_hash: str = Field(
        primary_key=True, max_length=64
    )  # SHA-256 of the cookie value; the value is not kept
    user_id: int = Field(foreign_key="app_user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    device_id: str | None = Field(default=None, foreign_key="device.id", index=True, max_length=32)
    name: str = Field(default="", max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # a user's token; a device's never
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginAttempt(SQLModel, table=True):
    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, max_length=50)
    client: str = Field(index=True, max_length=64)  # the client address
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    success: bool = False


class RegistrationAttempt(SQLModel, table=True):
    __tablename__ = "registration_attempt"

    id: int | None = Field(default=None, primary_key=True)
    client: str = Field(index=True, max_length=64)  # the client address
    at: datetime = Field(sa_type=UTCDateTime, index=True)
