"""Use cases of quarantine tasks: made at ingest from a bus record, confirmed by the enterprise, found overdue by
the audit's sweep (the lists are ``server.quarantine.listing``'s).

Who may see what: an enterprise its own tasks; bureau staff (reviewers, auditors, administrators) all of them;
anyone else gets 404, so a number reveals nothing. Only the enterprise confirms: the arrival is its statement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, update
from sqlmodel import Session, col, select

from passcore import ids
from passcore.policy import Policy
from server import workdays
from server.accounts.models import BUREAU_ROLES, ROLE_ENTERPRISE, User
from server.checkpoints.models import Checkpoint
from server.errors import BadRequest, Conflict, Forbidden, NotFound
from server.notices import service as notices
from server.passes.models import IssuedPass
from server.policy.models import PolicyVersion
from server.quarantine.models import CONFIRMED, OPEN, QuarantineTask

__all__ = [
    "MAX_PLACE",
    "OVERDUE",
    "NewCrossing",
    "confirm",
    "confirm_hours",
    "count_old",
    "create_for",
    "forget",
    "is_overdue",
    "overdue",
    "parse_local",
    "visible_task",
]

QUARANTINE = "QUARANTINE"  # a passenger's disposition (passcore.bus_rules)
OVERDUE = "overdue"  # a list filter: open and past its due time (not a stored status)
MAX_PLACE = 100


@dataclass(frozen=True)
class NewCrossing:
    """What ingest passes on about one accepted crossing (its record's body as parsed JSON)."""

    crossing_id: str
    checkpoint_id: int
    plate: str
    pass_id: str | None
    enterprise_uscc: str | None
    policy_version: int
    decided_at: datetime
    body: Mapping[str, Any]


def confirm_hours(policy: Policy | None) -> int:
    """The policy's time for the enterprise to confirm an arrival (a later knob: a policy written before it reads
    as the default, 24 hours)."""
    return (policy or Policy()).quarantine_confirm_hours


def _quarantined(body: Mapping[str, Any]) -> list[tuple[int, str]]:
    """(manifest number, name) of each passenger the record released into the enterprise's quarantine."""
    bus = body.get("bus")
    if not isinstance(bus, Mapping) or not isinstance(bus.get("passengers"), list):
        return []
    return [
        (int(p["n"]), str(p.get("name") or ""))
        for p in bus["passengers"]
        if isinstance(p, Mapping) and p.get("disposition") == QUARANTINE and isinstance(p.get("n"), int)
    ]


def _policies(session: Session, versions: set[int]) -> dict[int, Policy]:
    query = select(PolicyVersion.version, PolicyVersion.body_json).where(
        col(PolicyVersion.version).in_(versions)
    )
    return {version: Policy.from_dict(json.loads(text)) for version, text in session.exec(query)}


def _already(session: Session, earlier: set[str]) -> set[tuple[str, int]]:
    """(crossing, passenger) of tasks made from records that a re-decision repeats."""
    if not earlier:
        return set()
    query = select(QuarantineTask.crossing_id, QuarantineTask.passenger).where(
        col(QuarantineTask.crossing_id).in_(earlier)
    )
    return set(session.exec(query))


def create_for(session: Session, crossings: Sequence[NewCrossing], *, now: datetime) -> int:
    """One task per passenger with disposition QUARANTINE in these just-stored crossings, and a notice to each
    enterprise concerned; in the caller's transaction. Returns how many tasks were made.

    The enterprise is the pass's (as the bureau issued it), not the record's claim. A re-decision of a bus
    (``repeat_of``) makes no second task for a passenger its earlier record already gave one."""
    wanted = [(c, people) for c in crossings if (people := _quarantined(c.body))]
    if not wanted:
        return 0
    pass_ids = {c.pass_id for c, _ in wanted if c.pass_id}
    owners = dict(
        session.exec(
            select(IssuedPass.pass_id, IssuedPass.enterprise_uscc).where(
                col(IssuedPass.pass_id).in_(pass_ids)
            )
        ).all()
    )
    policies = _policies(session, {c.policy_version for c, _ in wanted})
    repeats = {c.crossing_id: c.body.get("repeat_of") for c, _ in wanted}
    done = _already(session, {r for r in repeats.values() if isinstance(r, str)})
    rows: list[dict[str, Any]] = []
    notices_for: dict[str, list[NewCrossing]] = {}
    for crossing, people in wanted:
        enterprise = owners.get(crossing.pass_id) if crossing.pass_id else None
        due = crossing.decided_at + timedelta(hours=confirm_hours(policies.get(crossing.policy_version)))
        earlier = repeats.get(crossing.crossing_id)
        fresh = [(n, name) for n, name in people if (earlier, n) not in done]
        rows += [
            {
                "crossing_id": crossing.crossing_id,
                "passenger": number,
                "enterprise_uscc": enterprise,
                "pass_id": crossing.pass_id,
                "checkpoint_id": crossing.checkpoint_id,
                "plate": crossing.plate,
                "name": name[:50],
                "decided_at": crossing.decided_at,
                "due_at": due,
                "status": OPEN,
                "place": "",
                "created_at": now,
            }
            for number, name in fresh
        ]
        if fresh and enterprise:
            notices_for.setdefault(enterprise, []).append(crossing)
    if rows:
        session.exec(insert(QuarantineTask), params=rows)
    for enterprise, bus_crossings in notices_for.items():
        _announce(session, enterprise, bus_crossings, rows, now=now)
    return len(rows)


def _announce(
    session: Session,
    enterprise: str,
    crossings: list[NewCrossing],
    rows: list[dict[str, Any]],
    *,
    now: datetime,
) -> None:
    """A notice per bus: how many of its passengers the enterprise must confirm, and by when (Beijing time)."""
    for crossing in crossings:
        made = [r for r in rows if r["crossing_id"] == crossing.crossing_id]
        checkpoint = session.get(Checkpoint, crossing.checkpoint_id)
        due = min(r["due_at"] for r in made).astimezone(workdays.LOCAL)
        notices.notify(
            session,
            "quarantine.assigned",
            {
                "plate": ids.format_plate(crossing.plate),
                "checkpoint": checkpoint.name if checkpoint else "",
                "n": str(len(made)),
                "due": due.strftime("%Y-%m-%d %H:%M"),
            },
            now=now,
            link="/enterprise/quarantine",
            enterprise_uscc=enterprise,
        )


def is_overdue(task: QuarantineTask, now: datetime) -> bool:
    return task.status == OPEN and task.due_at < now


def overdue(session: Session, now: datetime) -> list[QuarantineTask]:
    """Every open task past its due time, for the periodic alert sweep (oldest deadline first)."""
    query = select(QuarantineTask).where(QuarantineTask.status == OPEN, col(QuarantineTask.due_at) < now)
    return list(session.exec(query.order_by(col(QuarantineTask.due_at), col(QuarantineTask.id))))


def visible_task(*, session: Session, task_id: int, viewer: User) -> QuarantineTask:
    task = session.get(QuarantineTask, task_id)
    if task is None or not _may_see(task, viewer):
        raise NotFound("no such quarantine task", code="QUARANTINE_NOT_FOUND")
    return task


def _may_see(task: QuarantineTask, viewer: User) -> bool:
    if viewer.role == ROLE_ENTERPRISE:
        return task.enterprise_uscc is not None and task.enterprise_uscc == viewer.enterprise_uscc
    return viewer.role in BUREAU_ROLES


def parse_local(text: str, zone: str) -> datetime | None:
    """A time as a datetime-local field or the API sends it; a time without a zone is the bureau's local time.
    None when it is not a date and time."""
    try:
        moment = datetime.fromisoformat(text.strip()[:40])
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    try:
        moment.utcoffset()
    except OverflowError:
        return None
    return moment


def _released_minute(decided_at: datetime) -> datetime:
    """The release time to the minute: the precision the task page shows it and the form's datetime-local field
    types an arrival, so an arrival typed in the minute shown as the release is not refused as before it (the
    decision itself carries seconds). Truncated in UTC: every zone's offset today is whole minutes, so it is the
    same minute in the bureau's zone."""
    return decided_at.replace(second=0, microsecond=0)


def _place(value: str) -> str | None:
    text = " ".join(value.split())
    if not 2 <= len(text) <= MAX_PLACE or not ids.usable_text(text):
        return None
    return text


def confirm(
    *,
    session: Session,
    task: QuarantineTask,
    user: User,
    place: str,
    arrived_at: datetime | None,
    now: datetime,
) -> QuarantineTask:
    """The enterprise states where and when the person arrived at its quarantine place. Committed.

    422 QUARANTINE_INVALID naming each bad field (nothing is changed): the place 2–100 characters; the time given,
    not before the minute of the crossing's decision (the person left the checkpoint then; see ``_released_minute``)
    and not in the future.
    409 QUARANTINE_CONFIRMED when it was confirmed already (the first statement stands)."""
    if user.role != ROLE_ENTERPRISE or task.enterprise_uscc != user.enterprise_uscc:
        raise Forbidden(
            "only the enterprise that receives the person confirms the arrival", code="ROLE_FORBIDDEN"
        )
    if task.status != OPEN:
        raise Conflict("this arrival was confirmed already", code="QUARANTINE_CONFIRMED")
    fields: dict[str, str] = {}
    where = _place(place)
    if where is None:
        fields["place"] = "quarantine_place"
    if arrived_at is None:
        fields["arrived_at"] = "quarantine_time"
    elif arrived_at < _released_minute(task.decided_at):
        fields["arrived_at"] = "quarantine_time_before"
    elif arrived_at > now:
        fields["arrived_at"] = "quarantine_time_future"
    if fields:
        raise BadRequest("please correct the marked fields", code="QUARANTINE_INVALID", fields=fields)
    # Conditional, so two users of the enterprise confirming at once cannot both win.
    changed = session.exec(
        update(QuarantineTask)
        .where(col(QuarantineTask.id) == task.id, col(QuarantineTask.status) == OPEN)
        .values(status=CONFIRMED, place=where, arrived_at=arrived_at, confirmed_at=now, confirmed_by=user.id)
    )
    if changed.rowcount != 1:
        session.rollback()
        raise Conflict("this arrival was confirmed already", code="QUARANTINE_CONFIRMED")
    session.commit()
    session.refresh(task)
    return task


def checkpoints_by_id(session: Session, tasks: Iterable[QuarantineTask]) -> dict[int, Checkpoint]:
    wanted = {t.checkpoint_id for t in tasks}
    if not wanted:
        return {}
    return {c.id: c for c in session.exec(select(Checkpoint).where(col(Checkpoint.id).in_(wanted))) if c.id}


def _old(cutoff: datetime) -> Any:
    # Old by the crossing's decision (the device's claim) or by the task's making (the server's own clock), like
    # every other personal record (server/retention).
    return (col(QuarantineTask.decided_at) < cutoff) | (col(QuarantineTask.created_at) < cutoff)


def count_old(session: Session, cutoff: datetime) -> int:
    query = (
        select(func.count())
        .select_from(QuarantineTask)
        .where(_old(cutoff), col(QuarantineTask.purged_at).is_(None))
    )
    return int(session.exec(query).one())


def forget(session: Session, cutoff: datetime, now: datetime) -> int:
    """Blank the names and quarantine places of tasks older than ``cutoff`` (retention); the rows stay, so the
    counts of open, overdue and confirmed tasks survive. Committed; returns how many tasks were blanked."""
    result = session.execute(
        update(QuarantineTask)
        .where(_old(cutoff), col(QuarantineTask.purged_at).is_(None))
        .values(name="", place="", purged_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
