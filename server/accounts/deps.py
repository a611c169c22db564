"""Request lookups for signing in: the caller's address, which login throttling counts failures by."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

__all__ = ["ClientAddress", "client_address"]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]
