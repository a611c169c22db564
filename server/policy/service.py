"""Release-policy versions: read the one in force, add a new one.

``revise`` validates an administrator's changes field by field (so a form can show every mistake beside its
field) and stores the new version; ``server.flows.update_policy`` signs the trust bundle that carries it in the
same commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from passcore.errors import InputError
from passcore.policy import (
    BUS_FEVER_HOLD_BUS,
    BUS_FEVER_RELEASE_OTHERS,
    ESCORT_REQUIRED,
    IDENTITY_CONFIRM,
    IDENTITY_ID_LAST4,
    MAX_FEVER_REFERRALS,
    MISUSE_AS_NO_PASS,
    MISUSE_REFUSE,
    REFUSE,
    Policy,
    parse_temperature,
)
from server.applications import risk
from server.errors import BadRequest
from server.policy.models import PolicyVersion
from server.regions import table as regions

__all__ = [
    "EDITABLE",
    "by_version",
    "current",
    "ensure_default",
    "history",
    "revise",
    "set_policy",
]


def _latest(session: Session) -> PolicyVersion | None:
    return session.exec(select(PolicyVersion).order_by(PolicyVersion.version.desc())).first()  # type: ignore[attr-defined]


def current(session: Session) -> Policy:
    row = _latest(session)
    if row is None:
        raise InputError("no policy yet: run `checkpass init`", code="POLICY_MISSING")
    return Policy.from_dict(json.loads(row.body_json))


def by_version(session: Session, version: int) -> Policy:
    row = session.get(PolicyVersion, version)
    if row is None:
        raise InputError(f"no policy version {version}", code="POLICY_MISSING")
    return Policy.from_dict(json.loads(row.body_json))


def _store(session: Session, policy: Policy, now: datetime, by: str) -> Policy:
    session.add(
        PolicyVersion(
            version=policy.version,
            body_json=json.dumps(policy.to_dict(), ensure_ascii=False),
            effective_from=policy.effective_from,
            created_at=now,
            created_by=by,
        )
    )
    session.flush()
    return policy


def ensure_default(*, session: Session, now: datetime) -> bool:
    if _latest(session) is not None:
        return False
    _store(session, Policy(version=1, effective_from=now), now, "checkpass init")
    return True


def set_policy(*, session: Session, changes: dict[str, Any], now: datetime, by: str) -> Policy:
    """A new version with ``changes`` applied, effective now; the old versions stay for replay."""
    old = current(session)
    data = old.to_dict() | changes
    data["version"] = old.version + 1
    data["effective_from"] = now.isoformat()
    policy = _store(session, Policy.from_dict(data), now, by)
    if policy.hard_hit != old.hard_hit:  # the risk flags of submitted applications follow the area in force
        risk.reassess(session=session, hard_hit=policy.hard_hit)
    return policy


def _codes(value: Any) -> list[str]:
    items = value.replace("，", ",").replace("、", ",").split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or len(items) > 5000:
        raise ValueError("a list of region codes")
    # New input: only codes in the current table (server/regions); passes still carry any well-formed code.
    return sorted({regions.check_exists(str(item)) for item in items if str(item).strip()})


def _yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "no", "true", "false"):
        return value.strip().lower() in ("yes", "true")
    raise ValueError("yes or no")


def _one_of(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"one of {', '.join(choices)}")
        return str(value)

    return check


def _whole(value: Any) -> int:
    number = int(value.strip()) if isinstance(value, str) and value.strip().isdigit() else value
    if type(number) is not int or not 1 <= number <= 10_000:
        raise ValueError("a whole number from 1 to 10000")
    return number


def _window(value: Any) -> int:
    number = int(value.strip()) if isinstance(value, str) and value.strip().isdigit() else value
    if type(number) is not int or not 1 <= number <= 1440:
        raise ValueError("a whole number of minutes from 1 to 1440")
    return number


def _ranged(low: int, high: int) -> Callable[[Any], int]:
    """A whole number from ``low`` to ``high`` (a form's text or an API's integer; not a bool, not 12.5)."""

    def check(value: Any) -> int:
        number = int(value.strip()) if isinstance(value, str) and value.strip().isdigit() else value
        if type(number) is not int or not low <= number <= high:
            raise ValueError(f"a whole number from {low} to {high}")
        return number

    return check


def _places(value: Any) -> list[str]:
    """Fever referral places: a list, or text with one place a line (semicolons also separate)."""
    if isinstance(value, str):
        value = value.replace("；", "\n").replace(";", "\n").splitlines()
    if not isinstance(value, list | tuple) or len(value) > 50:
        raise ValueError(f"at most {MAX_FEVER_REFERRALS} places")
    places = [str(place).strip() for place in value if str(place).strip()]
    Policy(fever_referrals=tuple(places))  # the policy's own limits: count, length, usable text, distinct
    return places


def _note(value: Any) -> str:
    if (
        not isinstance(value, str)
        or len(value) > 500
        or any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value)
    ):
        raise ValueError("text of at most 500 characters")
    return value.strip()


def _hotline(value: Any) -> str:
    return Policy(service_hotline=value).service_hotline  # the policy's own check: a phone number or ""


# field -> (parser, message key shown beside the field). The thresholds that are not here (plausible
# temperature range, staleness, retention) keep their defaults: no page or command changes them yet.
EDITABLE: dict[str, tuple[Callable[[Any], Any], str]] = {
    "hard_hit": (_codes, "admin_hard_hit_invalid"),
    "fever_threshold_c": (lambda v: str(parse_temperature(v)), "admin_fever_invalid"),
    "pass_mandatory": (_yes_no, "admin_choice_invalid"),
    "hard_hit_without_enterprise": (_one_of(REFUSE, ESCORT_REQUIRED), "admin_choice_invalid"),
    "identity_check": (_one_of(IDENTITY_CONFIRM, IDENTITY_ID_LAST4), "admin_choice_invalid"),
    "escort_wait_limit_minutes": (_whole, "admin_number_invalid"),
    "review_answer_hours": (_whole, "admin_number_invalid"),
    "max_validity_days": (_whole, "admin_number_invalid"),
    "note": (_note, "admin_note_invalid"),
    "pass_misuse": (_one_of(MISUSE_REFUSE, MISUSE_AS_NO_PASS), "admin_choice_invalid"),
    "repeat_window_minutes": (_window, "admin_window_invalid"),
    "fever_referrals": (_places, "admin_referrals_invalid"),
    "service_hotline": (_hotline, "admin_hotline_invalid"),
    # Personnel transport (issue 14).
    "bus_fever": (_one_of(BUS_FEVER_HOLD_BUS, BUS_FEVER_RELEASE_OTHERS), "admin_choice_invalid"),
    "bus_occupancy_percent": (_ranged(1, 100), "admin_percent_invalid"),
    "quarantine_confirm_hours": (_ranged(1, 720), "admin_quarantine_hours_invalid"),
}


def _clean(changes: Mapping[str, Any], old: Policy) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    fields: dict[str, str] = {}
    for name, value in changes.items():
        if name not in EDITABLE:
            fields[name] = "admin_field_unknown"
            continue
        parse, message = EDITABLE[name]
        try:
            clean[name] = parse(value)
        except (InputError, ValueError, TypeError):
            fields[name] = message
    fever = clean.get("fever_threshold_c")
    if fever is not None and not old.temperature_min_c < parse_temperature(fever) <= old.temperature_max_c:
        fields["fever_threshold_c"] = "admin_fever_invalid"
    if fields:
        raise BadRequest("please correct the marked fields", code="POLICY_INVALID", fields=fields)
    return clean


def revise(*, session: Session, changes: Mapping[str, Any], now: datetime, by: str) -> Policy | None:
    """A new version with an administrator's ``changes`` effective now, stored but not committed; None when the
    values given are those already in force (no new version)."""
    old = current(session)
    clean = _clean(changes, old)
    before = old.to_dict()
    try:
        if Policy.from_dict(before | clean).to_dict() == before:
            return None
        return set_policy(session=session, changes=clean, now=now, by=by)
    except InputError as err:
        raise BadRequest(err.message, code="POLICY_INVALID") from err


def history(session: Session, limit: int = 10) -> list[PolicyVersion]:
    query = select(PolicyVersion).order_by(col(PolicyVersion.version).desc()).limit(limit)
    return list(session.exec(query))
