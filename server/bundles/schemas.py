"""Response bodies of the trust-bundle API."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["BundleDelta"]


class BundleDelta(BaseModel):
    from_version: int = Field(description="the version the client holds (the `since` asked for)")
    to_version: int = Field(description="the current version")
    revoked: list[str] = Field(
        description="pass ids revoked in `to_version` that `from_version` does not list"
    )
    full_required: bool = Field(
        description="true when something a delta cannot carry changed (keys, policy, enterprises), or "
        "`from_version` is no longer kept: fetch the full bundle"
    )
