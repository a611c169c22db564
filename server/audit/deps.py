"""Lookups shared by the audit routes: the session they read through, the filter's query parameters, the
dashboard's range, and a crossing by id for the bureau (any) or for an enterprise (its own; another's answers 404
like a missing one).

Every audit route is a GET that only reads (tests/integration/test_read_replica.py holds them to it), so they read
through ``ReadSessionDep``: the replica at ``CHECKPASS_READ_DATABASE_URL`` when there is one, else the primary. Who
is asking (the session cookie or token) is still looked up on the primary, where sign-in writes it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.accounts.models import ROLE_ENTERPRISE, User
from server.audit.filters import parse_range
from server.audit.stats import Span
from server.crossings.models import Crossing
from server.deps import require, require_bureau
from server.enterprises import service as enterprises
from server.errors import BadRequest, NotFound

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "BureauCrossing",
    "BureauUser",
    "EnterpriseUser",
    "OwnedCrossing",
    "RawFilter",
    "RawRange",
    "ReadEngineDep",
    "ReadSessionDep",
    "span_of",
]

DEFAULT_DAYS = 7
MAX_DAYS = 92  # a quarter: the hourly chart and the daily table stay readable


def get_read_engine(request: Request) -> Engine:
    return request.app.state.read_engine  # type: ignore[no-any-return]


def get_read_session(engine: Annotated[Engine, Depends(get_read_engine)]) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


ReadEngineDep = Annotated[Engine, Depends(get_read_engine)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
BureauUser = Annotated[User, Depends(require_bureau)]
EnterpriseUser = Annotated[User, Depends(require(ROLE_ENTERPRISE))]
CrossingId = Annotated[str, Path(max_length=36, description="the crossing's id (made by the device)")]

_TIME_HELP = "local date (2026-02-10), local date and time (2026-02-10T08:00) or ISO time with zone"


def raw_range(
    from_: Annotated[
        str, Query(alias="from", max_length=40, description=f"start, inclusive: {_TIME_HELP}")
    ] = "",
    to: Annotated[
        str, Query(max_length=40, description=f"end, exclusive (a bare date: that whole day): {_TIME_HELP}")
    ] = "",
) -> dict[str, str]:
    return {"from": from_, "to": to}


def raw_filter(
    span: Annotated[dict[str, str], Depends(raw_range)],
    checkpoint: Annotated[str, Query(max_length=12, description="checkpoint id")] = "",
    enterprise: Annotated[
        str, Query(max_length=100, description="credit code (USCC) or part of a name")
    ] = "",
    pass_: Annotated[str, Query(alias="pass", max_length=40, description="pass id or pass number")] = "",
    plate: Annotated[str, Query(max_length=20, description="plate, any usual spelling")] = "",
    outcome: Annotated[
        str, Query(max_length=20, description="RELEASE, ESCORT_REQUIRED, REFUSE or MEDICAL_HOLD")
    ] = "",
    officer: Annotated[
        str,
        Query(max_length=16, description="the officer's number (bureau only; an enterprise's is ignored)"),
    ] = "",
    kind: Annotated[
        str, Query(max_length=12, description="freight or personnel (a bus; 'bus' is accepted too)")
    ] = "",
) -> dict[str, str]:
    return span | {
        "checkpoint": checkpoint,
        "enterprise": enterprise,
        "pass": pass_,
        "plate": plate,
        "outcome": outcome,
        "officer": officer,
        "kind": kind,
    }


RawFilter = Annotated[dict[str, str], Depends(raw_filter)]
RawRange = Annotated[dict[str, str], Depends(raw_range)]


def span_of(raw: dict[str, str], *, zone: str, now: datetime) -> Span:
    """The dashboard's range: the last seven days unless asked otherwise, at most a quarter."""
    fields: dict[str, str] = {}
    clean = {key: "".join(ch for ch in value if ch.isprintable()) for key, value in raw.items()}
    asked = parse_range(clean, zone, fields)
    end = asked.end or (now if asked.start is None else min(now, asked.start + timedelta(days=MAX_DAYS)))
    start = asked.start or end - timedelta(days=DEFAULT_DAYS)
    if not fields and end - start > timedelta(days=MAX_DAYS):
        fields["from"] = "audit_range_too_long"
    if not fields and start >= end:
        fields["to"] = "audit_range_reversed"
    if fields:
        raise BadRequest("the time range cannot be used", code="AUDIT_FILTER_INVALID", fields=fields)
    return Span(start, end, zone)


def get_bureau_crossing(crossing_id: CrossingId, _: BureauUser, session: ReadSessionDep) -> Crossing:
    """Any crossing, for bureau staff (the role is checked first: others get 403, never a 404 probe)."""
    crossing = session.get(Crossing, crossing_id)
    if crossing is None:
        raise NotFound("no such crossing", code="CROSSING_NOT_FOUND")
    return crossing


def get_owned_crossing(crossing_id: CrossingId, user: EnterpriseUser, session: ReadSessionDep) -> Crossing:
    """A crossing of the signed-in user's enterprise decided since its verification; another enterprise's, or
    one from before, answers 404 like a missing one."""
    crossing = session.get(Crossing, crossing_id)
    since = enterprises.visible_since(session, user.enterprise_uscc)
    if (
        crossing is None
        or since is None
        or crossing.enterprise_uscc is None
        or crossing.enterprise_uscc != user.enterprise_uscc
        or crossing.decided_at < since
    ):
        raise NotFound("no such crossing", code="CROSSING_NOT_FOUND")
    return crossing


BureauCrossing = Annotated[Crossing, Depends(get_bureau_crossing)]
OwnedCrossing = Annotated[Crossing, Depends(get_owned_crossing)]
