"""The applications' portal pages: the enterprise's (``router_clerk``) and the bureau's (``router_review``)."""

from __future__ import annotations

from fastapi import APIRouter

from server.applications.router_clerk import clerk
from server.applications.router_desk import desk_routes
from server.applications.router_review import bureau
from server.applications.router_work import work

__all__ = ["web"]

web = APIRouter(include_in_schema=False)
web.include_router(clerk)
web.include_router(work)
web.include_router(bureau)
web.include_router(desk_routes)
