"""Request dependencies of the applications: the id in the path, the role guards, bringing run-out passes'
applications to expired before anything is shown, and the portal's apply form as posted."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Path, Request
from starlette.datastructures import UploadFile  # what the form parser gives (FastAPI's is a subclass of it)

from server.accounts.models import ROLE_ENTERPRISE, User
from server.applications import service
from server.applications.forms import ApplicationForm
from server.applications.schemas import MAX_PASSENGERS
from server.deps import ClockDep, CurrentUser, SessionDep, require
from server.manifests.reading import MAX_FILE_BYTES

__all__ = [
    "ActionDep",
    "ApplicationId",
    "ClerkDep",
    "FormDep",
    "ManifestFileDep",
    "ReviewerDep",
    "expired_first",
    "read_form",
]

ApplicationId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # the database's integer range
ClerkDep = Annotated[User, Depends(require(ROLE_ENTERPRISE))]
ReviewerDep = Annotated[User, Depends(require(*service.REVIEW_ROLES))]
_Text = Annotated[str, Form(max_length=500)]
_List = Annotated[list[str] | None, Form()]


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
    kind: _Text = "freight",
    bus_seats: _Text = "",
    bus_departure: _Text = "",
    bus_arrival: _Text = "",
    manager_name: _Text = "",
    manager_id_number: _Text = "",
    manager_phone: _Text = "",
    passenger_name: _List = None,
    passenger_id_number: _List = None,
    passenger_phone: _List = None,
    passenger_origin: _List = None,
    passenger_travel_history: _List = None,
    passenger_rows: _Text = "",
) -> ApplicationForm:
    skip = {"escort_rows", "passenger_rows"}
    values = {k: v for k, v in locals().items() if isinstance(v, str) and k not in skip}
    # A bus's passenger table (issue 14): one list per column, cut to the manifest's size (and a row more, so
    # that 101 filled rows are reported, not silently dropped).
    table = {
        "name": passenger_name,
        "id_number": passenger_id_number,
        "phone": passenger_phone,
        "origin": passenger_origin,
        "travel_history": passenger_travel_history,
    }
    return ApplicationForm.posted(
        values=values,
        escort_names=[v[:500] for v in (escort_name or [])][:20],
        escort_ids=[v[:500] for v in (escort_id_number or [])][:20],
        rows=escort_rows,
        passenger_columns={
            k: [v[:500] for v in (column or [])][: MAX_PASSENGERS + 1] for k, column in table.items()
        },
        passenger_rows=passenger_rows,
    )


FormDep = Annotated[ApplicationForm, Depends(read_form)]


async def _manifest_file(request: Request) -> tuple[str, bytes] | None:
    """The manifest file posted with the apply form's import button (issue 14): (its name, at most one byte more
    than the import reads, so that a larger one is refused as such); None when none was chosen."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return None
    item = (await request.form()).get("manifest_file")
    if not isinstance(item, UploadFile) or not (item.filename or item.size):
        return None
    return item.filename or "", item.file.read(MAX_FILE_BYTES + 1)


ManifestFileDep = Annotated[tuple[str, bytes] | None, Depends(_manifest_file)]
ActionDep = Annotated[str, Form(max_length=20)]
