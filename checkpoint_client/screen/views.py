"""What the page shows, as JSON: a vehicle with its verification, a decision, escorts, recent decisions.

Views carry codes, not words: the page translates them (its words include passcore.reasons' messages), so one
view serves both languages. Times are shown in local time (docs/design.md, "Conventions"), plates in their usual form.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from passcore import evidence, ids, rules, trust, wire
from passcore.claims import PassClaims

__all__ = [
    "decision_view",
    "escort_view",
    "local",
    "recent_view",
    "region",
    "repeat_view",
    "vehicle_view",
]

EXCERPT = 80


def local(moment: datetime | None, zone: str, fmt: str = "%Y-%m-%d %H:%M") -> str | None:
    return moment.astimezone(ZoneInfo(zone)).strftime(fmt) if moment else None


def region(code: str | None) -> dict[str, str] | None:
    return {"code": code, "name": ids.region_name(code)} if code else None


def _plate(plate: str | None) -> str | None:
    if not plate:
        return None
    try:
        return ids.format_plate(plate)
    except Exception:  # a record from elsewhere with an odd plate is still shown as it is
        return plate


def claims_view(claims: PassClaims, bundle: trust.TrustBundle | None, zone: str) -> dict[str, Any]:
    known = bundle.enterprises.get(claims.enterprise) if bundle else None
    return {
        "pass_id": claims.pass_id,
        "serial": claims.serial,
        "plate": _plate(claims.plate),
        "plate_colour": claims.plate_colour,
        "driver": {
            "name": claims.driver.name,
            "id_number": claims.driver.id_masked,
            "licence_number": claims.driver.licence_masked,
        },
        "escorts": [{"name": p.name, "id_number": p.id_masked} for p in claims.escorts],
        "enterprise": {"uscc": claims.enterprise, "name": known.name if known else None},
        "origin": region(claims.origin),
        "destination": region(claims.destination),
        "travel_history": [region(code) for code in claims.travel_history],
        "valid_from": local(claims.valid_from, zone),
        "valid_until": local(claims.valid_until, zone),
        "kind": claims.kind,
        "bus": None if claims.bus is None else _bus(claims.bus),
    }


def _bus(bus: Any) -> dict[str, Any]:
    return {
        "seats": bus.seats,
        "departure": bus.departure,
        "arrival": bus.arrival,
        "manager": {"name": bus.manager.name, "id_number": bus.manager.id_masked},
        "pages": bus.pages,
        "passengers": bus.passengers,
    }


def vehicle_view(
    text: str | None,
    bundle: trust.TrustBundle | None,
    *,
    now: datetime,
    zone: str,
    on_bus: Callable[[PassClaims], Any] | None = None,
) -> dict[str, Any]:
    """The page's picture of a scan: not a pass at all, a pass that could not be checked, or a verified pass.
    ``on_bus`` hears of a valid personnel-transport pass (the manifest book collects its pages)."""
    view: dict[str, Any]
    if text is None:
        view = {"kind": "nopass"}
    elif not text.startswith(wire.PREFIX):
        view = {"kind": "not_pass", "excerpt": text[:EXCERPT]}
    elif bundle is None:
        view = {"kind": "pass", "checked": False, "valid": False, "code": "BUNDLE_MISSING"}
    else:
        result = trust.verify_pass(text, bundle, now=now)
        view = {
            "kind": "pass",
            "checked": True,
            "valid": result.valid,
            "code": result.code,
            "misuse": result.misuse,
            "claims": claims_view(result.claims, bundle, zone) if result.claims else None,
            # What a pass that does not verify says of itself: shown marked untrusted, kept as evidence.
            "claimed": None if result.valid or result.claims else evidence.claimed(text, result),
        }
        if (
            result.valid
            and result.claims is not None
            and result.claims.bus is not None
            and on_bus is not None
        ):
            on_bus(result.claims)
    view["verified_at"] = time.monotonic()  # with the scan's captured_at: the frame-to-verdict latency
    return view


def repeat_view(stored: Any, *, zone: str) -> dict[str, Any]:
    """An earlier decision of this device for the pass in front of the officer (a repeat)."""
    record = stored.record
    return {
        "id": stored.id,
        "seq": stored.seq,
        "outcome": record.get("outcome"),
        "reasons": record.get("reasons", []),
        "plate": _plate(record.get("plate")),
        "decided_at": local(_when(record.get("decided_at")), zone, "%H:%M"),
        "referral": record.get("referral"),
    }


def decision_view(
    decision: rules.Decision,
    occupants: tuple[rules.Occupant, ...],
    *,
    crossing: Any,
    zone: str,
) -> dict[str, Any]:
    record = crossing.record
    return {
        "recorded": True,
        "outcome": decision.outcome,
        "reasons": list(decision.reasons),
        "fever": [occupants[i].name for i in decision.fever],
        "fever_people": [
            {"name": occupants[i].name, "temperature_c": str(occupants[i].temperature_c)}
            for i in decision.fever
        ],
        "referral": record.get("referral"),
        "unlisted": [occupants[i].name for i in getattr(decision, "unlisted", ())],
        "absent": list(getattr(decision, "absent", ())),
        "repeat_of": record.get("repeat_of"),
        "plate": _plate(decision.plate),
        "hard_hit": [region(code) for code in decision.hard_hit],
        "decided_at": local(decision.decided_at, zone, "%H:%M:%S"),
        "crossing": {"id": crossing.id, "seq": crossing.seq},
        "policy_version": decision.policy_version,
        "bundle_version": decision.bundle_version,
    }


def _when(value: Any) -> datetime | None:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def escort_view(row: dict[str, Any], *, zone: str, bundle: trust.TrustBundle | None = None) -> dict[str, Any]:
    """An escort request as the panel shows it. The contact person and phone come from the server's escort
    answer only (the public bundle carries neither); before it answers, the bundle's directory names the
    enterprise."""
    decided = _when(row.get("decided_at"))
    enterprise = dict(row.get("enterprise") or {}) or None
    known = bundle.enterprises.get(enterprise.get("uscc") or "") if bundle and enterprise else None
    if enterprise and known and not enterprise.get("name"):
        enterprise["name"] = known.name
    return {
        "crossing_id": row["crossing_id"],
        "plate": _plate(row.get("plate")),
        "status": row.get("status"),
        "decided_at": decided.isoformat() if decided else None,  # the page ticks the waiting time from it
        "decided_local": local(decided, zone, "%H:%M"),
        "enterprise": {
            "name": enterprise.get("name"),
            "contact": enterprise.get("contact"),
            "phone": enterprise.get("phone"),
        }
        if enterprise
        else None,
        "staff_name": row.get("staff_name"),
        "staff_phone": row.get("staff_phone"),
        "eta": local(_when(row.get("eta")), zone, "%H:%M"),
        "handed_over_at": local(_when(row.get("handed_over_at")), zone, "%H:%M"),
        **_handover(row, decided),
    }


def _handover(row: dict[str, Any], decided: datetime | None) -> dict[str, Any]:
    """Who took the vehicle over, the officer, the total wait (decision to hand-over) and whether the server has it."""
    at = _when(row.get("handed_over_at"))
    return {
        "handover": {
            "staff_name": row.get("handover_staff_name") or "",
            "staff_id_last4": row.get("handover_staff_id_last4") or "",
            "officer": row.get("handover_officer"),
            "waited_s": max(int((at - decided).total_seconds()), 0) if decided else None,
            "synced": bool(row.get("handover_synced")),
            "error": row.get("handover_error"),
        }
        if at
        else None
    }


def recent_view(stored: Any, *, zone: str) -> dict[str, Any]:
    record = stored.record
    return {
        "id": stored.id,
        "seq": stored.seq,
        "synced": stored.synced,
        "plate": _plate(record.get("plate")),
        "outcome": record.get("outcome"),
        "reasons": record.get("reasons", []),
        "people": len(record.get("occupants", [])),
        "decided_at": local(_when(record.get("decided_at")), zone, "%H:%M"),
    }
