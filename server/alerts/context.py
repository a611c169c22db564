"""The context a device's record is judged in, chosen by the server from what it served the device, not from what
the record claims (pure: no database, no clock).

A checkpoint laptop can be copied or tampered with, so a record's ``bundle_version``, ``policy_version`` and
``decided_at`` are claims. The server knows which bundle versions it served to the device (and to the device it
continues, for a laptop enrolled again) and when, and when it received the record. From that:

- ``decided_at`` is *plausible* when it is no later than the receipt and no earlier than the device's enrolment,
  than the last bundle fetch before the receipt (a sync uploads first, then fetches: a record decided before a
  fetch went up with that sync, unless it was decided while the sync ran) or than the first serving of the bundle it
  claims — each within ``SKEW`` (clocks drift; a sync takes time). The replay then runs at ``decided_at``, else at
  the receipt.
- the bundle the device *held* is the newest served to it by that instant. A record claiming a bundle served to it
  and no older than that is replayed under its claim (every honest record); otherwise under the held bundle.

A device the server never served over the network (enrolled before servings were recorded, or fed by USB stick
only) has no history: its record is judged under its claim, and only what needs no history is checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.alerts import rules

__all__ = [
    "AFTER_RECEIPT",
    "BEFORE_BUNDLE",
    "BEFORE_ENROLMENT",
    "BEFORE_LAST_FETCH",
    "CLAIM_PROBLEMS",
    "NOT_SERVED",
    "NO_BUNDLE",
    "OLDER_BUNDLE",
    "OLDER_POLICY",
    "SKEW",
    "STALE_PROBLEMS",
    "TIME_PROBLEMS",
    "Claim",
    "DecisionContext",
    "History",
    "Identity",
    "Serving",
    "choose",
    "findings",
]

# Device clocks drift and a sync takes time (an outbox of thousands of records, retried with back-off): a decision
# this far on the wrong side of what the server knows is still believed. Bundle fetches are recorded at most every
# 10 minutes per version (server.bundles.servings), so the last fetch before a receipt is known to that much.
SKEW = timedelta(minutes=15)
FETCH_SLACK = SKEW + timedelta(minutes=10)

AFTER_RECEIPT, BEFORE_ENROLMENT, BEFORE_LAST_FETCH, BEFORE_BUNDLE = (
    "AFTER_RECEIPT",
    "BEFORE_ENROLMENT",
    "BEFORE_LAST_FETCH",
    "BEFORE_BUNDLE",
)
NOT_SERVED, NO_BUNDLE, OLDER_BUNDLE, OLDER_POLICY = "NOT_SERVED", "NO_BUNDLE", "OLDER_BUNDLE", "OLDER_POLICY"
TIME_PROBLEMS = (AFTER_RECEIPT, BEFORE_ENROLMENT, BEFORE_LAST_FETCH, BEFORE_BUNDLE)
CLAIM_PROBLEMS = (NOT_SERVED, NO_BUNDLE)  # a bundle the device was never given
STALE_PROBLEMS = (OLDER_BUNDLE, OLDER_POLICY)  # older rules than the device already held


@dataclass(frozen=True)
class Serving:
    version: int
    policy_version: int
    at: datetime


@dataclass(frozen=True)
class Identity:
    """One enrolment of the laptop (a device id) and the bundles served to it, oldest first."""

    device_id: str
    enrolled_at: datetime
    servings: tuple[Serving, ...] = ()


@dataclass(frozen=True)
class History:
    """The laptop's enrolments, oldest first: the device itself last, the devices its chain continues before it."""

    identities: tuple[Identity, ...]


@dataclass(frozen=True)
class Claim:
    bundle_version: int
    policy_version: int
    decided_at: datetime
    received_at: datetime


@dataclass(frozen=True)
class DecisionContext:
    """What the server replays a record under, and why when that is not what the record claims."""

    bundle_version: int  # 0: none (the claim of a device without history)
    policy_version: int | None  # the chosen bundle's policy; None when no history says it
    at: datetime  # the instant the pass is verified and the rules applied at
    claim: Claim
    problems: tuple[str, ...] = ()
    known: bool = False  # the server had served this device before the receipt
    held_version: int | None = None  # the newest bundle the device had been served by then
    held_policy: int | None = None

    @property
    def differs(self) -> bool:
        """The server chose another bundle or instant than the record claims."""
        return self.bundle_version != self.claim.bundle_version or self.at != self.claim.decided_at

    def having(self, kinds: Sequence[str]) -> tuple[str, ...]:
        return tuple(p for p in self.problems if p in kinds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bundle_version": self.bundle_version,
            "policy_version": self.policy_version,
            "at": self.at.isoformat(),
            "claimed_bundle_version": self.claim.bundle_version,
            "claimed_policy_version": self.claim.policy_version,
            "claimed_at": self.claim.decided_at.isoformat(),
            "problems": list(self.problems),
            "known": self.known,
            "held_version": self.held_version,
            "held_policy_version": self.held_policy,
        }


def _time_problems(claim: Claim, history: History, served: list[Serving]) -> list[str]:
    decided, received = claim.decided_at, claim.received_at
    problems = []
    # The enrolment whose device decided: the newest enrolled by then (older ones are the same laptop before).
    identity = next((i for i in reversed(history.identities) if i.enrolled_at <= decided + SKEW), None)
    if identity is None:
        problems.append(BEFORE_ENROLMENT)
    else:
        fetched = [s.at for s in identity.servings if s.at < received]
        if fetched and decided < max(fetched) - FETCH_SLACK:
            problems.append(BEFORE_LAST_FETCH)
    first = min((s.at for s in served if s.version == claim.bundle_version), default=None)
    if first is not None and decided < first - SKEW:
        problems.append(BEFORE_BUNDLE)
    return problems


def choose(claim: Claim, history: History | None) -> DecisionContext:
    """The bundle and instant to judge ``claim`` in, with the problems found on the way (codes above)."""
    problems: list[str] = []
    if claim.decided_at > claim.received_at + SKEW:
        problems.append(AFTER_RECEIPT)
    if claim.bundle_version == 0:
        problems.append(NO_BUNDLE)  # the screen never decides without a bundle
    served = sorted(
        (s for i in (history.identities if history else ()) for s in i.servings if s.at < claim.received_at),
        key=lambda s: s.at,
    )
    if history is None or not served:
        at = claim.received_at if AFTER_RECEIPT in problems else claim.decided_at
        return DecisionContext(claim.bundle_version, None, at, claim, tuple(problems))
    problems += _time_problems(claim, history, served)
    plausible = not any(p in TIME_PROBLEMS for p in problems)
    at = claim.decided_at if plausible else claim.received_at
    # A serving within SKEW before a plausible decision may not have reached the device yet by its clock.
    by = at - SKEW if plausible else at
    held = max((s for s in served if s.at <= by), key=lambda s: s.version, default=None)
    if claim.bundle_version and claim.bundle_version not in {s.version for s in served}:
        problems.append(NOT_SERVED)
    if held is not None and 0 < claim.bundle_version < held.version:
        problems.append(OLDER_BUNDLE)
    if held is not None and claim.policy_version < held.policy_version:
        problems.append(OLDER_POLICY)
    accepted = plausible and not any(p in (*CLAIM_PROBLEMS, OLDER_BUNDLE) for p in problems)
    chosen = next(s for s in served if s.version == claim.bundle_version) if accepted else (held or served[0])
    return DecisionContext(
        bundle_version=chosen.version,
        policy_version=chosen.policy_version,
        at=at,
        claim=claim,
        problems=tuple(problems),
        known=True,
        held_version=held.version if held else None,
        held_policy=held.policy_version if held else None,
    )


# alert kind -> the problems that raise it
_KINDS = (
    (rules.DECIDED_AT_IMPLAUSIBLE, TIME_PROBLEMS),
    (rules.BUNDLE_NOT_SERVED, CLAIM_PROBLEMS),
    (rules.STALE_RULES, STALE_PROBLEMS),
)


def findings(
    chosen: DecisionContext, *, crossing_id: str, device_id: str, checkpoint_id: int, pass_id: str | None
) -> list[rules.Finding]:
    """An alert for each kind of problem the record's claim has (codes, versions and times only)."""
    claim = chosen.claim
    detail = {
        "claimed_bundle": claim.bundle_version,
        "claimed_policy": claim.policy_version,
        "held_bundle": chosen.held_version,
        "held_policy": chosen.held_policy,
        "claimed_at": claim.decided_at.isoformat(),
        "received_at": claim.received_at.isoformat(),
        "judged_at": chosen.at.isoformat(),
    }
    found = []
    for kind, problems in _KINDS:
        if codes := chosen.having(problems):
            found.append(
                rules.Finding(
                    kind=kind,
                    dedupe_key=f"{kind}:{crossing_id}",
                    occurred_at=chosen.at,
                    crossing_id=crossing_id,
                    device_id=device_id,
                    pass_id=pass_id,
                    checkpoint_id=checkpoint_id,
                    detail={"problems": list(codes)} | detail,
                )
            )
    return found
