"""Risk at a glance (issue 13): why a submitted application deserves a closer look.

An application is flagged when its origin, destination or a place of its travel history, its plate's province
(``ids.plate_region``) or the birthplace of one of its people (the first six digits of the ID number, which the
stored, masked body keeps) lies in the hard-hit area in force, and when its enterprise has had applications refused
or passes revoked by the bureau. ``assess`` is the rule, a pure function of the body, the hard-hit list and the
enterprise's history; the reasons are stored on the application (``risk`` = how many, ``risk_reasons`` = the list)
when it is submitted and again for every submitted application when the hard-hit list changes (``reassess``), so
that the queue sorts and filters by risk without working it out per row.

Revocations that replaced a pass by a newer one (``REPLACED_PREFIX``) and those the enterprise made itself are not
held against it: neither says anything about how it keeps the rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from passcore import ids
from passcore.errors import InputError
from server.accounts.models import User
from server.applications.models import REJECTED, SUBMITTED, Application
from server.passes.models import IssuedPass, Revocation
from server.web.i18n import translate

__all__ = [
    "REASONS",
    "REPLACED_PREFIX",
    "HardHit",
    "assess",
    "columns",
    "describe",
    "history",
    "reasons_of",
    "reassess",
]

ORIGIN, DESTINATION, TRAVEL, PLATE = "origin", "destination", "travel_history", "plate"
DRIVER_BIRTHPLACE, ESCORT_BIRTHPLACE = "driver_birthplace", "escort_birthplace"
REFUSALS, REVOCATIONS = "refusals", "revocations"
# A bus (issue 14): a passenger coming from, or having passed through, the hard-hit area.
PASSENGER_ORIGIN, PASSENGER_TRAVEL = "passenger_origin", "passenger_travel_history"
REGION_REASONS = (
    ORIGIN,
    DESTINATION,
    TRAVEL,
    PLATE,
    DRIVER_BIRTHPLACE,
    ESCORT_BIRTHPLACE,
    PASSENGER_ORIGIN,
    PASSENGER_TRAVEL,
)
REASONS = (*REGION_REASONS, REFUSALS, REVOCATIONS)
# The reason a replaced pass is revoked with ("replaced by 320583-000123"), written by the approval that replaces it.
REPLACED_PREFIX = "replaced by "
_BATCH = 500


class HardHit:
    """The hard-hit list as sets, so that testing a code costs three lookups however long the list is (the same
    rule as ``ids.covers``: a province or city code covers what is under it, a district itself)."""

    def __init__(self, codes: Sequence[str]) -> None:
        self.provinces = {c[:2] for c in codes if c.endswith("0000")}
        self.cities = {c[:4] for c in codes if c.endswith("00") and not c.endswith("0000")}
        self.districts = {c for c in codes if not c.endswith("00")}

    def covers(self, code: Any) -> bool:
        # Anything but six digits (a purged or odd body) is nothing to flag.
        if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
            return False
        return code[:2] in self.provinces or code[:4] in self.cities or code in self.districts


def _birthplace(number: Any) -> str | None:
    prefix = number[:6] if isinstance(number, str) else ""
    return prefix if len(prefix) == 6 and prefix.isdigit() else None


def _plate_province(plate: Any) -> str | None:
    try:
        return ids.plate_region(plate) if isinstance(plate, str) else None
    except (InputError, KeyError, IndexError):
        return None


def assess(
    body: Mapping[str, Any], hard_hit: Sequence[str] | HardHit, *, refusals: int = 0, revocations: int = 0
) -> list[dict[str, str]]:
    """The reasons to look closer at an application ``body`` (its JSON form; ID numbers may be masked), in a fixed
    order, each ``{"code": ..., "detail": ...}`` (a region code, or a count); none repeated."""
    found: list[tuple[str, str | None]] = [
        (ORIGIN, body.get("origin")),
        (DESTINATION, body.get("destination")),
    ]
    found += [(TRAVEL, code) for code in body.get("travel_history") or []]
    found.append((PLATE, _plate_province((body.get("vehicle") or {}).get("plate"))))
    found.append((DRIVER_BIRTHPLACE, _birthplace((body.get("driver") or {}).get("id_number"))))
    found += [(ESCORT_BIRTHPLACE, _birthplace(e.get("id_number"))) for e in body.get("escorts") or []]
    for passenger in body.get("passengers") or []:
        if isinstance(passenger, dict):
            found.append((PASSENGER_ORIGIN, passenger.get("origin")))
            found += [(PASSENGER_TRAVEL, code) for code in passenger.get("travel_history") or []]
    area = hard_hit if isinstance(hard_hit, HardHit) else HardHit(hard_hit)
    reasons: list[dict[str, str]] = []
    for code, region in found:
        reason = {"code": code, "detail": region or ""}
        if region and area.covers(region) and reason not in reasons:
            reasons.append(reason)
    if refusals:
        reasons.append({"code": REFUSALS, "detail": str(refusals)})
    if revocations:
        reasons.append({"code": REVOCATIONS, "detail": str(revocations)})
    return reasons


def history(session: Session, uscc: str) -> tuple[int, int]:
    """(refused applications, passes revoked by the bureau) of the enterprise ``uscc``."""
    refusals = session.exec(
        select(func.count())
        .select_from(Application)
        .where(Application.enterprise_uscc == uscc, Application.status == REJECTED)
    ).one()
    own_users = select(User.username).where(User.enterprise_uscc == uscc)
    revocations = session.exec(
        select(func.count())
        .select_from(Revocation)
        .join(IssuedPass, col(IssuedPass.pass_id) == col(Revocation.pass_id))
        .where(
            IssuedPass.enterprise_uscc == uscc,
            col(Revocation.reason).not_like(f"{REPLACED_PREFIX}%"),
            col(Revocation.revoked_by).not_in(own_users),
        )
    ).one()
    return int(refusals), int(revocations)


def _values(reasons: list[dict[str, str]]) -> dict[str, Any]:
    return {"risk": len(reasons), "risk_reasons": json.dumps(reasons, ensure_ascii=False)}


def columns(session: Session, application: Application, hard_hit: Sequence[str]) -> dict[str, Any]:
    """``risk`` and ``risk_reasons`` of ``application`` as stored now, for the update that submits it."""
    refusals, revocations = history(session, application.enterprise_uscc)
    body = json.loads(application.body_json)
    return _values(assess(body, hard_hit, refusals=refusals, revocations=revocations))


def reassess(*, session: Session, hard_hit: Sequence[str]) -> int:
    """Work out the flags of every submitted application again under ``hard_hit`` (not committed); returns how many
    changed. Batched by id, one query per enterprise for its history."""
    area = HardHit(hard_hit)
    histories: dict[str, tuple[int, int]] = {}
    changed, after = 0, 0
    while True:
        rows = session.exec(
            select(
                Application.id, Application.enterprise_uscc, Application.body_json, Application.risk_reasons
            )
            .where(Application.status == SUBMITTED, col(Application.id) > after)
            .order_by(col(Application.id))
            .limit(_BATCH)
        ).all()
        if not rows:
            return changed
        updates = []
        for application_id, uscc, body_json, stored in rows:
            if uscc not in histories:
                histories[uscc] = history(session, uscc)
            refusals, revocations = histories[uscc]
            values = _values(assess(json.loads(body_json), area, refusals=refusals, revocations=revocations))
            if values["risk_reasons"] != stored:
                updates.append({"id": application_id, **values})
        if updates:
            session.execute(update(Application), updates)
            changed += len(updates)
        after = rows[-1][0] or 0


def reasons_of(application: Application) -> list[dict[str, str]]:
    """The stored reasons; a value that is not a list of reasons reads as none."""
    try:
        reasons = json.loads(application.risk_reasons or "[]")
    except ValueError:
        return []
    if not isinstance(reasons, list):
        return []
    return [
        {"code": r["code"], "detail": str(r.get("detail", ""))}
        for r in reasons
        if isinstance(r, dict) and r.get("code") in REASONS
    ]


def describe(application: Application, lang: str) -> list[str]:
    """Each stored reason in words, e.g. ``始发地 湖北省 武汉市（420100）在重点疫区``."""
    texts = []
    for reason in reasons_of(application):
        code, detail = reason["code"], reason["detail"]
        if code in REGION_REASONS:
            texts.append(translate(f"risk.reason.{code}", lang, region=ids.region_name(detail), code=detail))
        else:
            texts.append(translate(f"risk.reason.{code}", lang, count=detail))
    return texts
