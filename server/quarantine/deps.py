"""Who may reach the quarantine routes: the enterprise for its own tasks, bureau staff for all of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from server.accounts.models import BUREAU_ROLES, ROLE_ENTERPRISE, User
from server.deps import require

__all__ = ["TaskId", "TaskViewer"]

TaskId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # beyond a 32-bit key PostgreSQL would fail, not 404
# Reading: the enterprise (its own, checked by the service) and every bureau role; departments have no part here.
TaskViewer = Annotated[User, Depends(require(ROLE_ENTERPRISE, *BUREAU_ROLES))]
