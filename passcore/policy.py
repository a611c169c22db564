"""The signed release policy: every knob of the release rules, versioned and dated.

A policy travels inside the trust bundle, so a checkpoint decides with exactly the version the bureau signed.
``from_dict`` treats its input as hostile (it comes from bundles, files and forms).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from passcore import ids
from passcore.errors import InputError
from passcore.reasons import ESCORT_REQUIRED, REFUSE

__all__ = [
    "BUS_FEVER_HOLD_BUS",
    "BUS_FEVER_RELEASE_OTHERS",
    "IDENTITY_CONFIRM",
    "IDENTITY_ID_LAST4",
    "MAX_FEVER_REFERRALS",
    "MAX_REFERRAL",
    "MISUSE_AS_NO_PASS",
    "MISUSE_REFUSE",
    "Policy",
    "parse_temperature",
]

IDENTITY_CONFIRM, IDENTITY_ID_LAST4 = "confirm", "id_last4"
MISUSE_REFUSE, MISUSE_AS_NO_PASS = "refuse", "as_no_pass"
MAX_FEVER_REFERRALS, MAX_REFERRAL = 10, 60
# Knobs added after policies were first signed (issue 12). ``to_dict`` leaves each out while it has its default,
# so a policy signed before reads and hashes the same, and an older checkpoint still reads a newer bundle.
_LATER_KNOBS = (
    "pass_misuse",
    "repeat_window_minutes",
    "fever_referrals",
    "service_hotline",
    "bus_fever",
    "bus_occupancy_percent",
    "quarantine_confirm_hours",
)
# What a fever aboard a bus holds (issue 14): the whole bus, or the person only while the others are judged on.
BUS_FEVER_HOLD_BUS, BUS_FEVER_RELEASE_OTHERS = "HOLD_BUS", "RELEASE_OTHERS"
MAX_HOTLINE = 30
_HOTLINE_CHARS = frozenset("0123456789-+() ")
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def parse_temperature(value: Any, what: str = "temperature") -> Decimal:
    """A temperature in °C as a Decimal, so 37.3 compares with 37.3 exactly."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise InputError(f"{what} must be a number in °C", code="TEMPERATURE_INVALID")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as err:
        raise InputError(f"{what} {value!r} is not a number", code="TEMPERATURE_INVALID") from err
    if not number.is_finite():
        raise InputError(f"{what} must be a finite number", code="TEMPERATURE_INVALID")
    return number


@dataclass(frozen=True)
class Policy:
    version: int = 1
    effective_from: datetime = _EPOCH
    # GB/T 2260 codes; a province or city code covers everything under it.
    hard_hit: tuple[str, ...] = ()
    fever_threshold_c: Decimal = Decimal("37.3")
    pass_mandatory: bool = False
    # What happens to a hard-hit vehicle that no enterprise will receive.
    hard_hit_without_enterprise: str = REFUSE
    identity_check: str = IDENTITY_CONFIRM
    escort_wait_limit_minutes: int = 60
    # How long the bureau may take to answer an application (Wujiang service discipline: 3 working days).
    review_answer_hours: int = 72
    max_validity_days: int = 30
    temperature_min_c: Decimal = Decimal("34.0")
    temperature_max_c: Decimal = Decimal("43.0")
    bundle_stale_hours: int = 24
    retention_days: int = 28
    note: str = field(default="", compare=False)
    # What a misused pass (forged, revoked, not matching the vehicle or its people) means: refused, or judged as a
    # vehicle without a pass (the misuse still recorded and alerted).
    pass_misuse: str = MISUSE_REFUSE
    # A pass decided at the same checkpoint within this many minutes is a repeat, not a new vehicle.
    repeat_window_minutes: int = 15
    # Where an officer may send a person with fever; empty: the referral is free text.
    fever_referrals: tuple[str, ...] = ()
    # The bureau's 24-hour transport service centre (seed 003): printed on every pass and shown on the officer's
    # screen, which gets it offline through the signed bundle. Empty: none is printed or shown.
    service_hotline: str = ""
    # Personnel transport (issue 14). A fever aboard a bus: HOLD_BUS holds everyone (MEDICAL_HOLD); RELEASE_OTHERS
    # holds the person and judges the others on (a fever of the driver or the manager still holds the bus).
    bus_fever: str = BUS_FEVER_HOLD_BUS
    # Seat occupancy (客座率): passengers plus the manager may fill at most this share of a bus's seats (Suzhou: 50 %).
    bus_occupancy_percent: int = 50
    # An enterprise confirms each quarantine arrival within this many hours, or an alert is raised.
    quarantine_confirm_hours: int = 24

    def __post_init__(self) -> None:
        _check(type(self.version) is int and self.version >= 1, "version must be a positive integer")
        _check(self.effective_from.tzinfo is not None, "effective_from must carry a time zone")
        object.__setattr__(self, "hard_hit", tuple(sorted({ids.validate_region(c) for c in self.hard_hit})))
        for name in ("fever_threshold_c", "temperature_min_c", "temperature_max_c"):
            object.__setattr__(self, name, parse_temperature(getattr(self, name), name))
        _check(
            self.temperature_min_c < self.fever_threshold_c <= self.temperature_max_c,
            "fever threshold must lie inside the plausible temperature range",
        )
        _check(type(self.pass_mandatory) is bool, "pass_mandatory must be true or false")
        _check(
            self.hard_hit_without_enterprise in (REFUSE, ESCORT_REQUIRED),
            f"hard_hit_without_enterprise must be {REFUSE} or {ESCORT_REQUIRED}",
        )
        _check(
            self.identity_check in (IDENTITY_CONFIRM, IDENTITY_ID_LAST4),
            f"identity_check must be {IDENTITY_CONFIRM} or {IDENTITY_ID_LAST4}",
        )
        for name in (
            "escort_wait_limit_minutes",
            "max_validity_days",
            "bundle_stale_hours",
            "retention_days",
        ):
            value = getattr(self, name)
            _check(type(value) is int and 0 < value <= 10_000, f"{name} must be a positive whole number")
        _check(
            isinstance(self.note, str) and len(self.note) <= 500,
            "note must be text of at most 500 characters",
        )
        _check(
            self.pass_misuse in (MISUSE_REFUSE, MISUSE_AS_NO_PASS),
            f"pass_misuse must be {MISUSE_REFUSE} or {MISUSE_AS_NO_PASS}",
        )
        _check(
            type(self.repeat_window_minutes) is int and 1 <= self.repeat_window_minutes <= 1440,
            "repeat_window_minutes must be a whole number from 1 to 1440",
        )
        _check(
            isinstance(self.fever_referrals, list | tuple)
            and len(self.fever_referrals) <= MAX_FEVER_REFERRALS,
            f"fever_referrals must be a list of at most {MAX_FEVER_REFERRALS} places",
        )
        for place in self.fever_referrals:
            _check(
                isinstance(place, str)
                and 1 <= len(place.strip()) <= MAX_REFERRAL
                and len(place) <= MAX_REFERRAL
                and ids.usable_text(place),
                f"each fever referral must be a place name of 1–{MAX_REFERRAL} characters",
            )
        referrals = tuple(place.strip() for place in self.fever_referrals)
        _check(len(set(referrals)) == len(referrals), "fever referrals must differ from each other")
        object.__setattr__(self, "fever_referrals", referrals)
        _check(
            isinstance(self.service_hotline, str)
            and len(self.service_hotline) <= MAX_HOTLINE
            and set(self.service_hotline) <= _HOTLINE_CHARS
            and (not self.service_hotline.strip() or any(ch.isdigit() for ch in self.service_hotline)),
            f"service_hotline must be a phone number of at most {MAX_HOTLINE} characters (digits, spaces, - + ( ))",
        )
        object.__setattr__(self, "service_hotline", " ".join(self.service_hotline.split()))
        _check(
            self.bus_fever in (BUS_FEVER_HOLD_BUS, BUS_FEVER_RELEASE_OTHERS),
            f"bus_fever must be {BUS_FEVER_HOLD_BUS} or {BUS_FEVER_RELEASE_OTHERS}",
        )
        _check(
            type(self.bus_occupancy_percent) is int and 1 <= self.bus_occupancy_percent <= 100,
            "bus_occupancy_percent must be a whole number from 1 to 100",
        )
        _check(
            type(self.quarantine_confirm_hours) is int and 1 <= self.quarantine_confirm_hours <= 720,
            "quarantine_confirm_hours must be a whole number from 1 to 720",
        )

    def bus_seat_limit(self, seats: int) -> int:
        """How many people (passengers and the manager; the driver not counted) a bus of ``seats`` may carry."""
        return seats * self.bus_occupancy_percent // 100

    def covers(self, code: str | None) -> str | None:
        """The hard-hit code that covers ``code``, if any."""
        if not code:
            return None
        return next((area for area in self.hard_hit if ids.covers(area, code)), None)

    def next_version(self, *, effective_from: datetime, **changes: Any) -> Policy:
        return replace(self, version=self.version + 1, effective_from=effective_from, **changes)

    def to_dict(self, *, every_knob: bool = False) -> dict[str, Any]:
        """The policy as signed (the later knobs left out at their defaults); ``every_knob``: all of them, for
        people to read (pages, the API, the CLI)."""
        data = asdict(self)
        data["hard_hit"] = list(self.hard_hit)
        data["effective_from"] = self.effective_from.astimezone(UTC).isoformat().replace("+00:00", "Z")
        for name in ("fever_threshold_c", "temperature_min_c", "temperature_max_c"):
            data[name] = str(data[name])
        data["fever_referrals"] = list(self.fever_referrals)
        for name in _LATER_KNOBS:
            if not every_knob and getattr(self, name) == _DEFAULTS[name]:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Policy:
        if not isinstance(data, dict):
            raise InputError("policy must be an object", code="POLICY_INVALID")
        known = set(cls.__dataclass_fields__)
        if unknown := set(data) - known:
            raise InputError(
                f"unknown policy field(s): {', '.join(sorted(map(str, unknown)))}", code="POLICY_INVALID"
            )
        values = dict(data)
        if "effective_from" in values:
            values["effective_from"] = _parse_time(values["effective_from"])
        if "hard_hit" in values:
            hard_hit = values["hard_hit"]
            _check(isinstance(hard_hit, list | tuple) and len(hard_hit) <= 5000, "hard_hit must be a list")
            values["hard_hit"] = tuple(hard_hit)
        if "fever_referrals" in values:
            referrals = values["fever_referrals"]
            _check(isinstance(referrals, list | tuple), "fever_referrals must be a list")
            values["fever_referrals"] = tuple(referrals)
        try:
            return cls(**values)
        except InputError as err:
            raise InputError(f"policy: {err.message}", code="POLICY_INVALID") from err


_DEFAULTS = {name: Policy.__dataclass_fields__[name].default for name in _LATER_KNOBS}


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(f"policy: {message}", code="POLICY_INVALID")


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise InputError("policy: effective_from must be an ISO time", code="POLICY_INVALID")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise InputError(f"policy: {value!r} is not an ISO time", code="POLICY_INVALID") from err
    if moment.tzinfo is None:
        raise InputError("policy: effective_from must carry a time zone", code="POLICY_INVALID")
    return moment
