"""The bureau accounts JSON API (administrators): create a reviewer, auditor or administrator, and generate a
one-time password for any account; each password is in that one answer only."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from server.accounts import bureau
from server.accounts.deps import AdminUser
from server.accounts.schemas import UserAdmin
from server.deps import ClockDep, SessionDep

__all__ = ["bureau_api"]

bureau_api = APIRouter(tags=["accounts"])  # included in server.accounts.api, under its /api/v1


class BureauAccountCreate(BaseModel):
    username: str = Field(max_length=100)
    display_name: str = Field(max_length=200)
    role: str = Field(max_length=20, description="reviewer, auditor or admin")


class OneTimePassword(BaseModel):
    user: UserAdmin
    password: str = Field(description="shown this once; only its hash is kept")


@bureau_api.post(
    "/users", response_model=OneTimePassword, status_code=201, responses={401: {}, 403: {}, 409: {}, 422: {}}
)
def api_bureau_user_create(
    body: BureauAccountCreate, admin: AdminUser, session: SessionDep, now: ClockDep
) -> OneTimePassword:
    """Create a bureau account (administrators) with a generated password, returned in this answer only."""
    user, password = bureau.create_bureau_user(
        session=session, username=body.username, role=body.role, display_name=body.display_name, now=now
    )
    return OneTimePassword(user=UserAdmin.of(user, 0), password=password)


@bureau_api.post(
    "/users/{username}/password/generate",
    response_model=OneTimePassword,
    responses={401: {}, 403: {}, 404: {}},
)
def api_generate_password(
    username: str, admin: AdminUser, session: SessionDep, now: ClockDep
) -> OneTimePassword:
    """Replace the account's password by a generated one (administrators), returned in this answer only; every
    session and token of the account ends."""
    user, password = bureau.reset_with_generated(session=session, username=username, now=now)
    return OneTimePassword(user=UserAdmin.of(user, 0), password=password)
