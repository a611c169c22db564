"""What a pass that did not verify claimed, kept with the decision as evidence (docs/design.md "Release rules").

A forged, tampered, revoked or unknown-key pass still says something: a serial, a plate, names, the key it names.
``claimed`` reads that from the QR text without trusting it: the signature is not checked, every layer is decoded
with ``wire``'s bounds (text length, inflated size, CBOR depth), whatever does not decode is left out, and each value
is kept only if it fits the crossing record's ``claimed`` object (``crossing.ClaimedPass``): short, usable text.
It never raises, whatever the text: a checkpoint must be able to record any refusal.

Pure: no database, network or clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from passcore import claims as claims_mod
from passcore import ids, wire
from passcore.errors import InputError
from passcore.trust import Verification

__all__ = ["MAX_NAMES", "claimed"]

MAX_NAMES = 20
# The crossing record's limits for each claimed value (passcore.crossing.ClaimedPass).
_LIMITS = {"serial": 40, "plate": 20, "name": 50, "kid": 64, "pass_id": 64}


def claimed(text: str, verification: Verification | None) -> dict[str, Any] | None:
    """The ``claimed`` object of a crossing record for ``text``, or None when there is nothing to keep as evidence:
    no verification (no pass was checked), a valid pass (its claims are the record's own), or a text that is not
    pass-like (does not start with the pass prefix: a stray QR code is not a forgery)."""
    if verification is None or verification.valid:
        return None
    if not isinstance(text, str) or not text.strip().startswith(wire.PREFIX):
        return None
    found: dict[str, Any] = {
        "reason": verification.code,
        "serial": None,
        "plate": None,
        "names": [],
        "kid": _hex(verification.kid),
        "pass_id": None,
    }
    # Hostile input: whatever fails, what was read before the failure is kept, and nothing is raised.
    with contextlib.suppress(Exception):
        _read(text.strip(), found)
    return found


def _read(text: str, found: dict[str, Any]) -> None:
    cose = wire.parse_cose(wire.inflate(wire.b45decode(wire.strip_prefix(text))), require_tag=False)
    found["kid"] = _hex(cose.kid) or found["kid"]
    payload = wire.loads_bounded(cose.payload, "the CWT payload")
    if not isinstance(payload, dict):
        return
    cti = payload.get(claims_mod.CLAIM_CTI)
    found["pass_id"] = _hex(cti)
    body = payload.get(claims_mod.CLAIM_PASS)
    if not isinstance(body, dict):
        return
    issuer, number = payload.get(claims_mod.CLAIM_ISS), body.get(claims_mod.K_SERIAL)
    if isinstance(issuer, str) and type(number) is int and 0 <= number < 10**20:
        found["serial"] = _kept(f"{issuer}-{number:06d}", "serial")
    found["plate"] = _kept(body.get(claims_mod.K_PLATE), "plate", _plate)
    people = [body.get(claims_mod.K_DRIVER)]
    escorts = body.get(claims_mod.K_ESCORTS)
    if isinstance(escorts, list):
        people += escorts[: MAX_NAMES * 2]
    names = (_kept(person[0], "name") for person in people if isinstance(person, list) and person)
    found["names"] = [name for name in names if name is not None][:MAX_NAMES]


def _plate(value: str) -> str:
    """The plate as the server would write it, when it is a plate at all; as claimed otherwise."""
    try:
        return ids.normalize_plate(value)
    except InputError:
        return value


def _kept(value: Any, what: str, shape: Callable[[str], str] = str.strip) -> str | None:
    if not isinstance(value, str) or len(value) > 4 * _LIMITS[what]:
        return None
    value = shape(value.strip())
    if not 0 < len(value) <= _LIMITS[what] or not ids.usable_text(value):
        return None
    return value


def _hex(value: Any) -> str | None:
    if not isinstance(value, bytes) or not 0 < len(value) <= _LIMITS["kid"] // 2:
        return None
    return value.hex()
