"""Decision replay: recompute a crossing's decision from its recorded inputs under the policy and trust-bundle
versions it was made with, and say whether the uploaded decision matches.

The inputs are the record's own (plate, occupants with temperatures and origins, the officer's checks, the
verification code), the pass as the server issued it (its QR text, verified again at the decision's instant
against the bundle version the device used, so a revocation that bundle listed counts), and that bundle's policy
and enterprise directory. A forged pass cannot be verified again (its text was never kept): its recorded
verification code is taken as given, which is safe because it can only lead to REFUSE.

Which bundle and instant those are is the server's choice (``server.alerts.context``): the record's claim when
the bundles served to the device bear it out (every honest record), else the bundle the device held by then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from passcore import bus_rules, crossing, rules, trust
from passcore.errors import CheckpassError, InputError
from passcore.keys import PublicKey
from passcore.policy import Policy
from server.alerts import chains
from server.alerts.context import Claim, DecisionContext, History, Identity, Serving, choose
from server.alerts.rules import ChainLink
from server.bundles import servings
from server.bundles.models import BundleVersion
from server.checkpoints.models import Device
from server.crossings.models import Crossing
from server.db import is_in
from server.keyring.models import ROLE_ROOT, KeyRecord
from server.passes.models import IssuedPass
from server.policy.models import PolicyVersion

__all__ = ["ReplayContext", "ReplayResult", "replay_body", "replay_crossing"]

# Codes that say why a replay does not match (stable: they appear in alerts and the API).
MATCHES, OUTCOME_DIFFERS, REASONS_DIFFER = "", "OUTCOME_DIFFERS", "REASONS_DIFFER"
# A bus (issue 14): the same outcome and reasons, but a passenger's disposition differs (released where the rules
# quarantine them, say): what a tampered laptop would change to let someone slip past the follow-up.
PASSENGERS_DIFFER = "PASSENGERS_DIFFER"
PURGED, BUNDLE_UNKNOWN, POLICY_UNKNOWN = "PURGED", "BUNDLE_UNKNOWN", "POLICY_UNKNOWN"
POLICY_NOT_BUNDLED, PASS_NOT_ISSUED, INPUT_INCOMPLETE = (
    "POLICY_NOT_BUNDLED",
    "PASS_NOT_ISSUED",
    "INPUT_INCOMPLETE",
)
NOT_A_RECORD = "NOT_A_RECORD"  # the stored body does not fit the crossing-record contract (passcore.crossing)
PASS_PURGED = "PASS_PURGED"  # noqa: S105 (a result code) — retention blanked the QR text: not verifiable
# A mismatch is a finding; these only say the replay cannot be done any more.
NOT_REPLAYABLE = frozenset({PURGED, PASS_PURGED})
_WITH_CLAIMS = frozenset({"PASS_VALID", "PASS_EXPIRED", "PASS_NOT_YET_VALID", "PASS_REVOKED"})
_BUNDLE_CACHE: dict[tuple[int, str], trust.TrustBundle] = {}  # signed versions never change
# trust.authenticate's results, kept across replay contexts (a worker's batches): a pass seen again under the same
# bundle is not checked again (its signature check was half an audit's time). Keyed by the bundle's version and the
# pass text and kept with the bundle object it was computed with, which _BUNDLE_CACHE hands out the same for a
# version: a result for another object of that version is computed afresh. Cleared when full, like _BUNDLE_CACHE.
_AUTHENTICATED: dict[tuple[int, str], tuple[trust.TrustBundle, trust.Verification]] = {}
MAX_AUTHENTICATED = 10_000
MAX_ENROLMENTS = (
    10  # of one laptop followed back through its chain (each enrolment is an administrator's act)
)


@dataclass(frozen=True)
class ReplayResult:
    matches: bool
    outcome: str | None  # the replayed outcome; None when no decision could be made
    reasons: tuple[str, ...]
    detail: str  # "" when it matches, else one of the codes above
    recorded_outcome: str = ""
    recorded_reasons: tuple[str, ...] = ()
    policy_version: int = 0
    bundle_version: int = 0
    verification: str | None = None  # the verification code the replay arrived at
    message: str = field(default="", compare=False)  # for people: what went wrong, in English
    context: DecisionContext | None = (
        None  # the bundle and instant replayed under, and why (None: not chosen)
    )
    # A bus's passengers' dispositions, in manifest order: replayed and as recorded (() for freight).
    passengers: tuple[str, ...] = ()
    recorded_passengers: tuple[str, ...] = ()

    @property
    def replayable(self) -> bool:
        return self.detail not in NOT_REPLAYABLE

    def to_dict(self) -> dict[str, Any]:
        return {
            "matches": self.matches,
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "detail": self.detail,
            "recorded_outcome": self.recorded_outcome,
            "recorded_reasons": list(self.recorded_reasons),
            "policy_version": self.policy_version,
            "bundle_version": self.bundle_version,
            "verification": self.verification,
            "message": self.message,
            "context": self.context.to_dict() if self.context else None,
            "passengers": list(self.passengers),
            "recorded_passengers": list(self.recorded_passengers),
        }


class ReplayContext:
    """Bundles, policies and passes looked up once for many replays (an ingest batch, a CLI run)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._policies: dict[int, Policy | None] = {}
        self._passes: dict[str, str | None] = {}
        self._purged_passes: set[str] = set()
        self._roots: list[PublicKey] | None = None
        self._bundles: dict[int, trust.TrustBundle | None] = {}
        self._histories: dict[str, History] = {}
        self._manifests: dict[str, str | None] = {}

    def prefetch_passes(self, pass_ids: set[str]) -> None:
        wanted = pass_ids - self._passes.keys()
        if wanted:
            query = select(IssuedPass.pass_id, IssuedPass.qr_text, IssuedPass.purged_at).where(
                is_in(self.session, col(IssuedPass.pass_id), wanted)
            )
            found = {
                pass_id: (qr_text, purged_at) for pass_id, qr_text, purged_at in self.session.exec(query)
            }
            self._passes |= {pass_id: found.get(pass_id, (None, None))[0] for pass_id in wanted}
            self._purged_passes |= {pass_id for pass_id, (_, purged_at) in found.items() if purged_at}

    def issued_manifests(self, pass_ids: set[str]) -> dict[str, str | None]:
        """The manifest digest (hex) the bureau signed into each of these passes; None for a freight pass. Read
        from the stored claims, which keep it after retention (it names nobody). A pass never issued is left out."""
        wanted = pass_ids - self._manifests.keys()
        if wanted:
            query = select(IssuedPass.pass_id, IssuedPass.claims_json).where(
                is_in(self.session, col(IssuedPass.pass_id), wanted)
            )
            for pass_id, text in self.session.exec(query):
                try:
                    bus = json.loads(text).get("bus")
                except (ValueError, AttributeError):
                    bus = None
                self._manifests[pass_id] = bus.get("manifest") if isinstance(bus, dict) else None
        return {p: self._manifests[p] for p in pass_ids if p in self._manifests}

    def qr_text(self, pass_id: str) -> str | None:
        self.prefetch_passes({pass_id})
        return self._passes[pass_id]

    def pass_purged(self, pass_id: str) -> bool:
        self.prefetch_passes({pass_id})
        return pass_id in self._purged_passes

    def policy(self, version: int) -> Policy | None:
        if version not in self._policies:
            row = self.session.get(PolicyVersion, version)
            self._policies[version] = Policy.from_dict(json.loads(row.body_json)) if row else None
        return self._policies[version]

    def verify(self, qr_text: str, bundle: trust.TrustBundle, at: datetime) -> trust.Verification:
        """``trust.verify_pass``, the signature checked once per pass and bundle however often it was seen."""
        key = (bundle.version, qr_text)
        known = _AUTHENTICATED.get(key)
        if known is None or known[0] is not bundle:
            if len(_AUTHENTICATED) >= MAX_AUTHENTICATED:
                _AUTHENTICATED.clear()
            known = _AUTHENTICATED[key] = (bundle, trust.authenticate(qr_text, bundle))
        return trust.at_instant(known[1], at)

    def history(self, device_id: str) -> History:
        """The laptop's enrolments (this device and those its chain continues) with what each was served."""
        if device_id not in self._histories:
            devices = self._enrolments(device_id)
            served = servings.served_to(self.session, [d.id for d in devices])
            self._histories[device_id] = History(
                tuple(
                    Identity(d.id, d.enrolled_at, tuple(Serving(*row) for row in served[d.id]))
                    for d in reversed(devices)
                )
            )
        return self._histories[device_id]

    def _enrolments(self, device_id: str) -> list[Device]:
        """The device, then the device its chain continues, and so on (newest first)."""
        found: list[Device] = []
        current = self.session.get(Device, device_id)
        while current is not None and len(found) < MAX_ENROLMENTS and current not in found:
            found.append(current)
            query = (
                select(Crossing.seq, Crossing.prev_hash)
                .where(Crossing.device_id == current.id)
                .order_by(col(Crossing.seq))
                .limit(1)
            )
            first = self.session.exec(query).first()
            link = ChainLink(first[0], "", first[1], "", None) if first else None
            previous = chains.continued_from(self.session, current.id, link) if link else None
            current = self.session.get(Device, previous) if previous else None
        return found

    def decision_context(self, crossing: Crossing) -> DecisionContext:
        claim = Claim(
            crossing.bundle_version, crossing.policy_version, crossing.decided_at, crossing.received_at
        )
        return choose(claim, self.history(crossing.device_id))

    def bundle(self, version: int) -> trust.TrustBundle | None:
        if version not in self._bundles:
            self._bundles[version] = self._load_bundle(version)
        return self._bundles[version]

    def _load_bundle(self, version: int) -> trust.TrustBundle | None:
        row = self.session.get(BundleVersion, version)
        if row is None:
            return None
        key = (row.version, row.digest)
        if key not in _BUNDLE_CACHE:
            if self._roots is None:
                query = select(KeyRecord.public_key_pem).where(KeyRecord.role == ROLE_ROOT)
                self._roots = [PublicKey.from_pem(pem.encode()) for pem in self.session.exec(query)]
            for root in self._roots:
                try:
                    bundle = trust.load_bundle(bytes(row.signed), root=root, now=None)
                except CheckpassError:
                    continue
                if len(_BUNDLE_CACHE) > 64:
                    _BUNDLE_CACHE.clear()
                _BUNDLE_CACHE[key] = bundle
                break
            else:
                return None
        return _BUNDLE_CACHE[key]


def _recorded_passengers(body: dict[str, Any]) -> tuple[str, ...]:
    bus = body.get("bus")
    people = bus.get("passengers") if isinstance(bus, dict) else None
    return (
        tuple(p.get("disposition", "") for p in people if isinstance(p, dict))
        if isinstance(people, list)
        else ()
    )


def _result(body: dict[str, Any], detail: str, message: str = "", **values: Any) -> ReplayResult:
    return ReplayResult(
        recorded_passengers=_recorded_passengers(body),
        matches=detail == MATCHES,
        outcome=values.pop("outcome", None),
        reasons=values.pop("reasons", ()),
        detail=detail,
        recorded_outcome=body.get("outcome", ""),
        recorded_reasons=tuple(body.get("reasons", ())),
        policy_version=body.get("policy_version", 0),
        bundle_version=body.get("bundle_version", 0),
        message=message,
        **values,
    )


def _verification(
    body: dict[str, Any],
    bundle: trust.TrustBundle | None,
    qr_text: str | None,
    at: datetime,
    context: ReplayContext | None,
) -> trust.Verification | str | None:
    """The verification the device should have reached, or a code saying why it cannot be known."""
    code, pass_id = body["verification"], body["pass_id"]
    if code is None:
        return None
    if pass_id is not None and qr_text is not None and bundle is not None:
        if context is not None:
            return context.verify(qr_text, bundle, at)
        return trust.verify_pass(qr_text, bundle, now=at)
    if code in _WITH_CLAIMS:
        # A pass whose signature verified carries its id; one the bureau never issued means a key was misused.
        return PASS_NOT_ISSUED if pass_id is not None else INPUT_INCOMPLETE
    return trust.Verification(False, code, code)


def replay_body(
    body: dict[str, Any],
    *,
    bundle: trust.TrustBundle | None,
    policy: Policy | None,
    qr_text: str | None,
    context: ReplayContext | None = None,
    chosen: DecisionContext | None = None,
) -> ReplayResult:
    """Replay one record's decision (``body`` is the record as uploaded) with the given versions, at the record's
    ``decided_at`` or the instant the server ``chosen`` (whose bundle, if it differs from the claim, is given)."""
    try:
        crossing.read_contents(body)
    except InputError as err:
        return _result(body, NOT_A_RECORD, err.message, context=chosen)
    own = chosen is None or not chosen.differs
    if bundle is not None:
        # The policy travels inside the bundle: the device decided under the bundle's copy. (A claim the server
        # set aside is judged by the context alerts; the replay then runs under the bundle the server chose.)
        if own and bundle.policy.version != body["policy_version"]:
            return _result(
                body, POLICY_NOT_BUNDLED, "the bundle used carries another policy version", context=chosen
            )
        policy = bundle.policy
    if policy is None:
        return _result(
            body, POLICY_UNKNOWN, f"no policy version {body['policy_version']} on this server", context=chosen
        )
    at = chosen.at if chosen is not None else datetime.fromisoformat(body["decided_at"])
    verification = _verification(body, bundle, qr_text, at, context)
    if isinstance(verification, str):
        return _result(
            body, verification, "the pass cannot be verified again from the record", context=chosen
        )
    known = bundle.enterprises.keys() if bundle is not None else None
    try:
        decision = (
            _decide_bus(body, verification, policy, at, known)
            if body.get("bus") is not None
            else rules.decide(
                verification=verification,
                observed=crossing.rules_observation(body, verification),
                occupants=[crossing.rules_occupant(person) for person in body["occupants"]],
                policy=policy,
                now=at,
                vehicle_origin=body["vehicle_origin"],
                enterprise=body["enterprise"],
                known_enterprises=known,
                bundle_version=body["bundle_version"],
            )
        )
    except CheckpassError as err:
        # The record lacks an input the decision needs: the device decided without it.
        return _result(
            body, INPUT_INCOMPLETE, err.code, verification=verification and verification.code, context=chosen
        )
    same_outcome = decision.outcome == body["outcome"]
    same_reasons = set(decision.reasons) == set(body["reasons"])
    replayed = decision.passengers if isinstance(decision, bus_rules.BusDecision) else ()
    same_passengers = replayed == _recorded_passengers(body)
    detail = (
        OUTCOME_DIFFERS
        if not same_outcome
        else REASONS_DIFFER
        if not same_reasons
        else PASSENGERS_DIFFER
        if not same_passengers
        else MATCHES
    )
    return _result(
        body,
        detail,
        outcome=decision.outcome,
        reasons=decision.reasons,
        verification=verification.code if verification else None,
        context=chosen,
        passengers=replayed,
    )


def _decide_bus(
    body: dict[str, Any],
    verification: trust.Verification | None,
    policy: Policy,
    at: datetime,
    known: Any,
) -> bus_rules.BusDecision:
    """A bus record's decision again (issue 14): its crew, roll call and manifest as the record kept them
    (``crossing.bus_inputs``: the manifest counts as genuine and whole only when the record's digest is the
    signed pass's), judged by ``bus_rules.decide_bus``."""
    crew, roll, manifest = crossing.bus_inputs(body, verification.claims if verification else None)
    return bus_rules.decide_bus(
        verification=verification,
        manifest=manifest,
        observed=crossing.rules_observation(body, verification),
        crew=crew,
        roll=roll,
        policy=policy,
        now=at,
        arrived_at=datetime.fromisoformat(body["bus"]["arrived_at"]),
        known_enterprises=known,
        bundle_version=body["bundle_version"],
    )


def replay_crossing(
    session: Session, crossing: Crossing, *, context: ReplayContext | None = None
) -> ReplayResult:
    """Replay a stored crossing under the policy and bundle versions the server chose for it (its claim, when
    what the device was served bears it out)."""
    body = json.loads(crossing.body_json)
    if crossing.purged_at is not None:
        return _result(body, PURGED, "personal data was purged after the retention period")
    context = context or ReplayContext(session)
    chosen = context.decision_context(crossing)
    version = chosen.bundle_version
    bundle = context.bundle(version) if version else None
    if version and bundle is None:
        return _result(
            body, BUNDLE_UNKNOWN, f"no trust bundle version {version} on this server", context=chosen
        )
    policy = None if bundle else context.policy(crossing.policy_version)
    if crossing.pass_id and context.pass_purged(crossing.pass_id):
        return _result(body, PASS_PURGED, "the pass's personal data was purged after the retention period")
    qr_text = context.qr_text(crossing.pass_id) if crossing.pass_id else None
    return replay_body(body, bundle=bundle, policy=policy, qr_text=qr_text, context=context, chosen=chosen)
