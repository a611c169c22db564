"""Request dependencies of the documents: the id in the path and who may open documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from server.accounts.models import ROLE_ENTERPRISE, User
from server.deps import require
from server.documents.service import VIEW_ROLES

__all__ = ["ClerkDep", "DocumentId", "ViewerDep"]

DocumentId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # the database's integer range
ViewerDep = Annotated[User, Depends(require(*VIEW_ROLES))]
ClerkDep = Annotated[User, Depends(require(ROLE_ENTERPRISE))]
