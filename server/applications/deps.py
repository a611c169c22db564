"""Request dependencies of the applications: the id in the path, the role guards, bringing run-out passes'
applications to expired before anything is shown, and the portal's apply form as posted."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Path

from server.accounts.models import ROLE_ENTERPRISE, User
from server.applications import service
from server.applications.forms import ApplicationForm
from server.deps import ClockDep, CurrentUser, SessionDep, require

__all__ = ["ActionDep", "ApplicationId", "ClerkDep", "FormDep", "ReviewerDep", "expired_first", "read_form"]

ApplicationId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # the database's integer range
ClerkDep = Annotated[User, Depends(require(ROLE_ENTERPRISE))]
ReviewerDep = Annotated[User, Depends(require(*service.REVIEW_ROLES))]
_Text = Annotated[str, Form(max_length=500)]


def expired_first(user: CurrentUser, session: SessionDep, now: ClockDep) -> None:
    """Bring run-out passes' applications to expired before anything is shown (signed-in users only)."""
    service.expire_due(session=session, now=now)


def read_form(
    plate: _Text = "",
    plate_colour: _Text = "blue",
    driver_name: _Text = "",
    driver_id_number: _Text = "",
    driver_licence_number: _Text = "",
    driver_phone: _Text = "",
    escort_name: Annotated[list[str] | None, Form()] = None,
    escort_id_number: Annotated[list[str] | None, Form()] = None,
    escort_rows: _Text = "",
    origin: _Text = "",
    destination: _Text = "",
    travel_history: _Text = "",
    cargo: _Text = "",
    valid_from: _Text = "",
    valid_until: _Text = "",
) -> ApplicationForm:
    values = {k: v for k, v in locals().items() if isinstance(v, str) and k != "escort_rows"}
    return ApplicationForm.posted(
        values=values,
        escort_names=[v[:500] for v in (escort_name or [])][:20],
        escort_ids=[v[:500] for v in (escort_id_number or [])][:20],
        rows=escort_rows,
    )


FormDep = Annotated[ApplicationForm, Depends(read_form)]
ActionDep = Annotated[str, Form(max_length=20)]
