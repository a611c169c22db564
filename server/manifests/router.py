"""The manifest templates for the portal's users (the apply form links them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from server.deps import CurrentUser, PrincipalDep
from server.manifests.api import template_response
from server.web.templating import lang_of

__all__ = ["web"]

web = APIRouter(include_in_schema=False)


@web.get("/applications/manifest-template.{kind}")
def manifest_template(
    kind: Annotated[str, Path(pattern="^(csv|xlsx)$")],
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
) -> Response:
    """The template in the user's language."""
    return template_response(kind, lang_of(request, principal))
