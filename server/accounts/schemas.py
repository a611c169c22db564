"""Request and response bodies of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from passcore import ids
from server.accounts.models import ApiToken, User

__all__ = [
    "BureauAccountCreate",
    "OneTimePassword",
    "PasswordReset",
    "TokenPublic",
    "TokenRequest",
    "TokenResponse",
    "UserAdmin",
]


def _usable(text: str) -> str:
    if not ids.usable_text(text):
        raise ValueError("control characters and text-direction overrides are not allowed")
    return text


class TokenRequest(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=200)
    name: Annotated[str, AfterValidator(_usable)] = Field(default="api", max_length=100)


class TokenResponse(BaseModel):
    """The secret is shown here once: only its hash is kept."""

    token: str
    role: str
    id: int
    name: str
    expires_at: datetime


class PasswordReset(BaseModel):
    password: str = Field(max_length=200)


class TokenPublic(BaseModel):
    """An API token as its owner and administrators see it: never the secret, nor its hash."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenPublic:
        return cls(
            id=token.id or 0,
            name=token.name,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            expires_at=token.expires_at,
        )


class UserAdmin(BaseModel):
    username: str
    display_name: str
    role: str
    enterprise_uscc: str | None
    active: bool
    created_at: datetime
    live_tokens: int

    @classmethod
    def of(cls, user: User, live_tokens: int) -> UserAdmin:
        return cls(
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            enterprise_uscc=user.enterprise_uscc,
            active=user.active,
            created_at=user.created_at,
            live_tokens=live_tokens,
        )


class BureauAccountCreate(BaseModel):
    username: str = Field(max_length=100)
    display_name: str = Field(max_length=200)
    role: str = Field(max_length=20, description="reviewer, auditor or admin")


class OneTimePassword(BaseModel):
    user: UserAdmin
    password: str = Field(description="shown this once; only its hash is kept")
