"""Request and response bodies of the accounts API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from server.accounts.models import ApiToken, User

__all__ = ["PasswordReset", "TokenPublic", "TokenRequest", "TokenResponse", "UserAdmin"]


class TokenRequest(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=200)
    name: str = Field(default="api", max_length=100)


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
