"""HTTP routes of the crossings domain: portal pages (web) and JSON API (api)."""

from fastapi import APIRouter

web = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["crossings"])
