"""Request dependencies of the alerts: the alert named in the path (404 when there is none) and the list's
query parameters, shared by the pages and the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from server.alerts import actions
from server.alerts.models import Alert
from server.deps import SessionDep

__all__ = ["AlertDep", "AlertId", "Before", "KindFilter", "StatusFilter", "get_alert"]

AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Before = Annotated[
    int | None, Query(ge=1, le=2**31 - 1, description="id of the last alert of the previous page")
]
StatusFilter = Annotated[str | None, Query(max_length=20, description="open, acknowledged or closed")]
KindFilter = Annotated[str | None, Query(max_length=40, description="an alert kind, e.g. cloned_pass")]


def get_alert(alert_id: AlertId, session: SessionDep) -> Alert:
    return actions.get_alert(session, alert_id)


AlertDep = Annotated[Alert, Depends(get_alert)]
