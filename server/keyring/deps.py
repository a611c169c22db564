"""Request dependencies of the signing keys: only administrators see and change them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from server.accounts.models import ROLE_ADMIN, User
from server.deps import require

__all__ = ["AdminUser"]

AdminUser = Annotated[User, Depends(require(ROLE_ADMIN))]
