"""The screen's header, side panels and camera hints, as JSON the page polls every few seconds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from checkpoint_client.screen import views
from checkpoint_client.store import StoreError
from passcore.policy import Policy

__all__ = ["HERE", "camera_hint", "escort", "overview"]

HERE = Path(__file__).parent
RECENT = 12
HANDED_OVER_SHOWN, HANDED_OVER_MAX = timedelta(hours=2), 5


def _bundle(screen: Any, now: Any) -> tuple[dict[str, Any], Policy, Any]:
    state = screen.trust.state(now)
    bundle = state.bundle
    if bundle is None:
        return {"state": state.problem, "detail": state.detail}, Policy(), None
    return (
        {
            "state": "expired" if state.expired else "ok",
            "version": bundle.version,
            "policy_version": bundle.policy.version,
            "issued_at": views.local(bundle.issued_at, screen.settings.timezone),
            "expires_at": views.local(bundle.expires_at, screen.settings.timezone),
            "age_s": int((now - bundle.issued_at).total_seconds()),
            "stale": state.stale,
            "stale_hours": bundle.policy.bundle_stale_hours,
            "expired": state.expired,
            "clock_skew": state.clock_skew,
        },
        bundle.policy,
        bundle,
    )


def _policy(policy: Policy) -> dict[str, Any]:
    return {
        "identity_check": policy.identity_check,
        "fever_threshold_c": str(policy.fever_threshold_c),
        "temperature_min_c": str(policy.temperature_min_c),
        "temperature_max_c": str(policy.temperature_max_c),
        "escort_wait_limit_minutes": policy.escort_wait_limit_minutes,
        "pass_mandatory": policy.pass_mandatory,
        "pass_misuse": policy.pass_misuse,  # shown on a misused pass's card: what the rules will do
        "fever_referrals": list(policy.fever_referrals),
        "repeat_window_minutes": policy.repeat_window_minutes,
        "service_hotline": policy.service_hotline,  # the service centre's phone, for a driver who disputes
        "bus_occupancy_percent": policy.bus_occupancy_percent,  # a bus's card shows its seat limit (issue 14)
        "bus_fever": policy.bus_fever,
    }


def camera_hint(screen: Any) -> dict[str, Any]:
    """What the officer should do about the picture (only the fields that change what the page says)."""
    if screen.camera is None:
        return {"present": False, "error": screen.camera_error}
    state = screen.camera.status()
    return {
        "present": True,
        "too_dark": bool(state.get("too_dark")),
        "detected_unread": bool(state.get("detected_unread")),
        "error": state.get("error"),
        "ended": bool(state.get("ended")),
    }


def escort(screen: Any, crossing_id: str) -> dict[str, Any] | None:
    """One escort as the panel shows it (the hand-over dialog's confirmation)."""
    rows = [row for row in screen.store.escorts(include_done=True) if row["crossing_id"] == crossing_id]
    return views.escort_view(rows[0], zone=screen.settings.timezone) if rows else None


def overview(screen: Any) -> dict[str, Any]:
    now = screen.now()
    zone = screen.settings.timezone
    header, policy, bundle = _bundle(screen, now)
    sync = screen.syncer.state()
    desk = screen.desk.snapshot()
    result: dict[str, Any] = {
        "bundle": header,
        "policy": _policy(policy),
        "sync": sync | {"last_at": views.local(sync["last_at"], zone, "%H:%M")},
        "queued": desk["queued"],
        "desk_version": desk["version"],
        "now": now.isoformat(),
        "store_error": None,
    }
    try:
        result["pending"] = screen.store.pending_count()
        result["escorts"] = [
            views.escort_view(row, zone=zone, bundle=bundle) for row in screen.store.escorts()
        ]
        result["recent"] = [views.recent_view(row, zone=zone) for row in screen.store.recent(RECENT)]
        # The last hand-overs stay in the escorts panel a while, with who took the vehicle and the total wait.
        result["handed_over"] = [
            views.escort_view(row, zone=zone, bundle=bundle)
            for row in screen.store.handed_over_since(now - HANDED_OVER_SHOWN, HANDED_OVER_MAX)
        ]
    except StoreError as err:  # shown in red in the header; the page keeps working for the next try
        result |= {
            "pending": None,
            "escorts": [],
            "recent": [],
            "handed_over": [],
            "store_error": err.message,
        }
    return result
