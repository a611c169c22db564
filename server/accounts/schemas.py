"""Request and response bodies of the accounts API."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["TokenRequest", "TokenResponse"]


class TokenRequest(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=200)
    name: str = Field(default="api", max_length=100)


class TokenResponse(BaseModel):
    token: str
    role: str
