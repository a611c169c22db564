"""How a pass grows: claims a decoder does not know are reported, claims marked critical must be understood.

A bureau may add a claim to its passes (a new CWT claim, or a new member of a claim that is a map) without a new
format version: a decoder that has not been updated keeps the claims it knows, reports the keys of the others and
never shows their values. A claim whose being ignored would change a decision is listed in the protected header
under ``HEADER_CRITICAL_CLAIMS`` (and that label in COSE's ``crit``, so that a generic COSE verifier refuses the
pass too); a decoder that does not understand every claim listed refuses the pass. The rules are in
docs/pass-format.md section 2 ("Unknown claims", "Critical claims"); what this version understands is
``passcore.claims.VOCABULARY``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from passcore.errors import PassMalformed

__all__ = [
    "HEADER_CRIT",
    "HEADER_CRITICAL_CLAIMS",
    "MAX_CRITICAL_CLAIMS",
    "MAX_KEY_CHARS",
    "MAX_UNKNOWN_CLAIMS",
    "ClaimKey",
    "ClaimPath",
    "Vocabulary",
    "claim_name",
    "critical_claims",
    "critical_header",
    "is_claim_key",
]

ClaimKey = int | str
# (claim key,) names a CWT claim; (claim key, member key) names a member of a claim that is a map.
ClaimPath = tuple[ClaimKey, ...]

# RFC 9052 section 3.1: the protected header labels a recipient must understand. It lists header parameters, not
# claims, so the claims go under a label of their own and crit names that label.
HEADER_CRIT = 2
# In the private-use range of the IANA COSE Header Parameters registry (integers below -65536, RFC 9052).
HEADER_CRITICAL_CLAIMS = -65537
# Bounds on what a pass may carry beyond what it shows: a long text key or thousands of unknown claims in a QR
# code are not a pass that grew, they are an attempt to make the laptop print something.
MAX_KEY_CHARS = 64
MAX_UNKNOWN_CLAIMS = 32
MAX_CRITICAL_CLAIMS = 16
_CBOR_INT_RANGE = range(-(2**64), 2**64)  # major types 0 and 1; a bignum (tag 2 or 3) is not a claim key


def _malformed(message: str, detail: str) -> PassMalformed:
    return PassMalformed(message, detail=detail)


def is_claim_key(key: Any) -> bool:
    """A CWT claim key (RFC 8392 section 3): a CBOR integer or text, here at most ``MAX_KEY_CHARS`` long."""
    # bool is an int subclass, and True == 1 and 1.0 == 1 in Python: the types are compared, not the values.
    if type(key) is int:
        return key in _CBOR_INT_RANGE
    return type(key) is str and len(key) <= MAX_KEY_CHARS


def claim_name(path: ClaimPath) -> str:
    """How a claim is reported: each key in CBOR diagnostic notation (RFC 8949 section 8), joined by ``/``.

    ``-70099`` is an integer claim key, ``"note"`` a text one, ``-65537/10`` member 10 of the pass claim."""
    return "/".join(str(key) if type(key) is int else json.dumps(key, ensure_ascii=False) for key in path)


@dataclass(frozen=True)
class Vocabulary:
    """The claims a decoder understands: CWT claim keys, and the member keys of those claims that are maps."""

    claims: frozenset[ClaimKey]
    members: Mapping[ClaimKey, frozenset[ClaimKey]] = field(default_factory=dict)

    def understands(self, path: ClaimPath) -> bool:
        if len(path) == 1:
            return path[0] in self.claims
        return len(path) == 2 and path[1] in self.members.get(path[0], frozenset())

    def unknown(self, cwt_claims: Mapping[Any, Any]) -> tuple[ClaimPath, ...]:
        """The claims of ``cwt_claims`` not understood, in the order they appear (a map claim's members in its
        place); raises ``PassMalformed`` for a key that is not a claim key or for too many unknown claims."""
        _check_keys(cwt_claims, "claim")
        found: list[ClaimPath] = []
        for key, value in cwt_claims.items():
            if key not in self.claims:
                found.append((key,))
            elif key in self.members and isinstance(value, dict):
                _check_keys(value, "member")
                found += [(key, member) for member in value if member not in self.members[key]]
            if len(found) > MAX_UNKNOWN_CLAIMS:
                raise _malformed(
                    f"the pass carries more than {MAX_UNKNOWN_CLAIMS} unknown claims",
                    "UNKNOWN_CLAIMS_TOO_MANY",
                )
        return tuple(found)

    def check_critical(self, cwt_claims: Mapping[Any, Any], critical: Iterable[ClaimPath]) -> None:
        """Each critical claim must be understood and present; a refusal is ``PassMalformed``."""
        for path in critical:
            if not self.understands(path):
                raise _malformed(
                    f"the pass marks claim {claim_name(path)} critical and this version does not understand it",
                    "CRITICAL_CLAIM_UNKNOWN",
                )
            holder = cwt_claims.get(path[0]) if len(path) == 2 else cwt_claims
            if not isinstance(holder, dict) or path[-1] not in holder:
                raise _malformed(
                    f"the pass marks claim {claim_name(path)} critical but does not carry it",
                    "CRITICAL_CLAIM_ABSENT",
                )


def _check_keys(mapping: Mapping[Any, Any], what: str) -> None:
    if not all(is_claim_key(key) for key in mapping):
        raise _malformed(
            f"{what} keys must be integers or text of at most {MAX_KEY_CHARS} characters", "CLAIM_KEY_INVALID"
        )


# --- the protected header ----------------------------------------------------------------------------------


def critical_claims(protected: Mapping[Any, Any]) -> tuple[ClaimPath, ...]:
    """The claims a protected header marks critical, () for none; its shape only (understanding is the claims').

    ``crit`` (label 2) and ``HEADER_CRITICAL_CLAIMS`` come together or not at all; crit is exactly
    ``[HEADER_CRITICAL_CLAIMS]``; the list holds 1 to ``MAX_CRITICAL_CLAIMS`` distinct entries, each a claim key
    or a ``[claim key, member key]`` pair. Anything else is ``PassMalformed`` CRITICAL_INVALID."""
    if HEADER_CRIT not in protected and HEADER_CRITICAL_CLAIMS not in protected:
        return ()
    crit, listed = protected.get(HEADER_CRIT), protected.get(HEADER_CRITICAL_CLAIMS)
    # Compared item by item with types: [-65537.0] == [-65537] in Python.
    if not (
        isinstance(crit, list)
        and len(crit) == 1
        and type(crit[0]) is int
        and crit[0] == HEADER_CRITICAL_CLAIMS
    ):
        raise _malformed(f"crit must be [{HEADER_CRITICAL_CLAIMS}]", "CRITICAL_INVALID")
    if not isinstance(listed, list) or not 0 < len(listed) <= MAX_CRITICAL_CLAIMS:
        raise _malformed(
            f"the critical claims must be a list of 1 to {MAX_CRITICAL_CLAIMS} entries", "CRITICAL_INVALID"
        )
    paths = tuple(_path(entry) for entry in listed)
    if len(set(paths)) != len(paths):
        raise _malformed("a critical claim is listed twice", "CRITICAL_INVALID")
    return paths


def _path(entry: Any) -> ClaimPath:
    if is_claim_key(entry):
        return (entry,)
    if isinstance(entry, list) and len(entry) == 2 and all(is_claim_key(key) for key in entry):
        return (entry[0], entry[1])
    raise _malformed("a critical claim is a claim key or a [claim key, member key] pair", "CRITICAL_INVALID")


def critical_header(critical: Iterable[ClaimPath]) -> dict[int, Any]:
    """The protected header entries that mark ``critical`` (none for none); ``ValueError`` for a malformed list."""
    paths = tuple(critical)
    if not paths:
        return {}
    if any(len(path) not in (1, 2) for path in paths):
        raise ValueError("a critical claim is a claim key or a (claim key, member key) pair")
    entries = [path[0] if len(path) == 1 else list(path) for path in paths]
    header = {HEADER_CRIT: [HEADER_CRITICAL_CLAIMS], HEADER_CRITICAL_CLAIMS: entries}
    try:
        critical_claims(header)  # never write what our own decoder would refuse
    except PassMalformed as err:
        raise ValueError(err.message) from err
    return header
