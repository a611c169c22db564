"""The pass on the wire: claims <-> CWT in a COSE_Sign1 <-> zlib <-> Base45 <-> QR text with a version prefix.

The layout is the EU Digital COVID Certificate's (prefix, Base45, zlib, COSE_Sign1, CWT), so each layer is
exposed on its own and tested against the DCC's public vectors. Decoding treats the text as hostile: the text
length, the inflated size and the CBOR nesting depth are bounded and trailing bytes are refused before any
CBOR object is built; every failure is a ``PassMalformed`` whose ``detail`` is a stable code.
The signer chooses the algorithm (``Signer.alg``) and signs the COSE Sig_structure built here (``sign1``), so a
key held in memory and one held in a hardware token make the same bytes; the protected header may mark claims critical
(``extensions``), and claims this version does not know are reported, not refused.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import base45
import cbor2
from cwt import COSE
from cwt.exceptions import CWTError

from passcore import claims as claims_mod
from passcore import extensions
from passcore.claims import Decoded, PassClaims
from passcore.errors import PassMalformed, PassSignatureInvalid
from passcore.extensions import HEADER_CRIT, HEADER_CRITICAL_CLAIMS, ClaimPath
from passcore.keys import ALG_IDS, PublicKey, Signer

__all__ = [
    "MAX_CBOR_DEPTH",
    "MAX_INFLATED_BYTES",
    "MAX_TEXT_CHARS",
    "PASS_ALGORITHMS",
    "PASS_HEADER_LABELS",
    "PREFIX",
    "CoseSign1",
    "b45decode",
    "check_cbor",
    "decode",
    "encode",
    "encode_cwt",
    "inflate",
    "loads_bounded",
    "parse_cose",
    "read_claims",
    "read_pass",
    "sign1",
    "strip_prefix",
    "verify_signature",
]

PREFIX = "CP1:"
# A pass for a driver and two escorts is about 375 characters; the largest QR code holds 4,296.
MAX_TEXT_CHARS = 4296
# A pass inflates to a few hundred bytes: anything past this is a zlib bomb.
MAX_INFLATED_BYTES = 16 * 1024
# Our deepest structure is tag > array > map > map > array > array.
MAX_CBOR_DEPTH = 16
PASS_ALGORITHMS = frozenset({"EdDSA", "ES256"})
COSE_SIGN1_TAG = 18
HEADER_ALG, HEADER_KID = 1, 4
# Everything a pass's protected header may hold; crit and the critical claims come together (extensions).
PASS_HEADER_LABELS = frozenset({HEADER_ALG, HEADER_CRIT, HEADER_KID, HEADER_CRITICAL_CLAIMS})
_ALG_NAMES = {v: k for k, v in ALG_IDS.items()}
_COSE = COSE.new()


def _malformed(message: str, detail: str) -> PassMalformed:
    return PassMalformed(message, detail=detail)


# --- the layers, outermost first ---------------------------------------------------------------------------


def strip_prefix(text: str, prefix: str = PREFIX, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    if not isinstance(text, str):
        raise _malformed("pass text must be a string", "TEXT_INVALID")
    if len(text) > max_chars:
        raise _malformed(
            f"text of {len(text)} characters is longer than any pass ({max_chars})", "TEXT_TOO_LONG"
        )
    if not text.startswith(prefix):
        raise _malformed(f"not a vehicle pass: the text does not start with {prefix!r}", "PREFIX_INVALID")
    return text[len(prefix) :]


def b45decode(text: str) -> bytes:
    try:
        return bytes(base45.b45decode(text))
    except (ValueError, TypeError, KeyError, IndexError) as err:
        raise _malformed("the pass text is not valid Base45", "BASE45_INVALID") from err


def inflate(data: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """zlib-decompress at most ``limit`` bytes; a complete stream with nothing after it is required."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as err:
        raise _malformed("the pass data is not valid zlib", "ZLIB_INVALID") from err
    if inflater.unconsumed_tail:
        raise _malformed(f"the pass data inflates past {limit} bytes", "ZLIB_TOO_LARGE")
    if not inflater.eof:
        raise _malformed("the pass data is a truncated zlib stream", "ZLIB_INVALID")
    if inflater.unused_data:
        raise _malformed("bytes follow the zlib stream", "ZLIB_INVALID")
    return out


def check_cbor(data: bytes, max_depth: int = MAX_CBOR_DEPTH) -> None:
    """Walk the CBOR item headers of ``data`` without building objects.

    Refuses anything but exactly one well-formed item, nested at most ``max_depth`` deep, so that the CBOR
    library never sees a pathological input (deep nesting, huge declared lengths, trailing bytes).
    """
    end = _skip_item(data, 0, 1, max_depth)
    if end != len(data):
        raise _malformed(f"{len(data) - end} byte(s) follow the CBOR item", "CBOR_TRAILING_BYTES")


def _head(data: bytes, pos: int) -> tuple[int, int | None, int]:
    """(major type, argument or None for indefinite length, next position)."""
    if pos >= len(data):
        raise _malformed("CBOR item is truncated", "CBOR_INVALID")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if info < 24:
        return major, info, pos
    if info <= 27:
        size = 1 << (info - 24)
        if pos + size > len(data):
            raise _malformed("CBOR item is truncated", "CBOR_INVALID")
        return major, int.from_bytes(data[pos : pos + size], "big"), pos + size
    if info == 31 and major in (2, 3, 4, 5, 7):
        return major, None, pos
    raise _malformed("CBOR item has a reserved header", "CBOR_INVALID")


def _skip_item(data: bytes, pos: int, depth: int, max_depth: int) -> int:
    if depth > max_depth:
        raise _malformed(f"CBOR nests deeper than {max_depth}", "CBOR_TOO_DEEP")
    major, arg, pos = _head(data, pos)
    if major in (0, 1) or major == 7:
        if arg is None:
            raise _malformed("unexpected CBOR break", "CBOR_INVALID")
        return pos
    if major in (2, 3):
        if arg is None:  # indefinite string: definite chunks of the same type until break
            while True:
                if pos >= len(data):
                    raise _malformed("CBOR item is truncated", "CBOR_INVALID")
                if data[pos] == 0xFF:
                    return pos + 1
                chunk_major, chunk_len, pos = _head(data, pos)
                if chunk_major != major or chunk_len is None:
                    raise _malformed("bad chunk in an indefinite CBOR string", "CBOR_INVALID")
                pos += chunk_len
                if pos > len(data):
                    raise _malformed("CBOR item is truncated", "CBOR_INVALID")
        if pos + arg > len(data):
            raise _malformed("CBOR string is longer than the data", "CBOR_INVALID")
        return pos + arg
    if major == 6:
        return _skip_item(data, pos, depth + 1, max_depth)
    per_entry = 2 if major == 5 else 1
    if arg is None:
        while True:
            if pos >= len(data):
                raise _malformed("CBOR item is truncated", "CBOR_INVALID")
            if data[pos] == 0xFF:
                return pos + 1
            for _ in range(per_entry):
                pos = _skip_item(data, pos, depth + 1, max_depth)
    # Each entry takes at least one byte, so a declared count beyond the data is refused up front.
    if arg * per_entry > len(data) - pos:
        raise _malformed("CBOR container declares more items than the data holds", "CBOR_INVALID")
    for _ in range(arg * per_entry):
        pos = _skip_item(data, pos, depth + 1, max_depth)
    return pos


def loads_bounded(data: bytes, what: str, max_depth: int = MAX_CBOR_DEPTH) -> Any:
    check_cbor(data, max_depth)
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, ArithmeticError, RuntimeError) as err:
        raise _malformed(f"{what} is not valid CBOR", "CBOR_INVALID") from err


@dataclass(frozen=True)
class CoseSign1:
    """A parsed, not yet verified COSE_Sign1 message."""

    protected_raw: bytes
    protected: dict[Any, Any]
    unprotected: dict[Any, Any]
    payload: bytes
    signature: bytes
    # Set by ``decode`` from the protected header: the claims a decoder must understand to accept the pass.
    critical: tuple[ClaimPath, ...] = ()

    @property
    def alg(self) -> str | None:
        alg = self.protected.get(HEADER_ALG)
        return _ALG_NAMES.get(alg) if type(alg) is int else None  # not a bool, float or unhashable value

    @property
    def kid(self) -> bytes | None:
        """The key id, from the protected header only: an unprotected kid could be swapped by anyone."""
        kid = self.protected.get(HEADER_KID)
        return kid if isinstance(kid, bytes) else None


def parse_cose(data: bytes, *, require_tag: bool = True) -> CoseSign1:
    message = loads_bounded(data, "the COSE message")
    if isinstance(message, cbor2.CBORTag):
        if message.tag != COSE_SIGN1_TAG:
            raise _malformed(f"CBOR tag {message.tag} is not COSE_Sign1 ({COSE_SIGN1_TAG})", "COSE_INVALID")
        message = message.value
    elif require_tag:
        raise _malformed("the COSE_Sign1 tag (18) is missing", "COSE_INVALID")
    if not (isinstance(message, list) and len(message) == 4):
        raise _malformed("COSE_Sign1 must be an array of four items", "COSE_INVALID")
    protected_raw, unprotected, payload, signature = message
    if not all(isinstance(x, bytes) for x in (protected_raw, payload, signature)) or not isinstance(
        unprotected, dict
    ):
        raise _malformed("COSE_Sign1 items have the wrong types", "COSE_INVALID")
    protected = loads_bounded(protected_raw, "the protected header") if protected_raw else {}
    if not isinstance(protected, dict):
        raise _malformed("the protected header must be a map", "COSE_INVALID")
    return CoseSign1(protected_raw, protected, unprotected, payload, signature)


def verify_signature(
    cose: CoseSign1, key: PublicKey, *, algorithms: frozenset[str] = PASS_ALGORITHMS
) -> None:
    """Check ``cose``'s signature with ``key``; the algorithm must be protected, allowed and the key's own."""
    alg = cose.alg
    if alg is None or alg not in algorithms:
        label = cose.protected.get(HEADER_ALG)
        shown = label if type(label) is int else type(label).__name__  # never repr a hostile value
        raise PassSignatureInvalid(f"signature algorithm {shown!r} is not accepted")
    if alg != key.alg:
        raise PassSignatureInvalid(f"the pass says {alg} but the key is {key.alg}")
    # Only the protected header and payload are signed. The library picks its key by a kid from either header,
    # so it gets the message without the unprotected header and the one key we chose, labelled with that kid.
    message = cbor2.dumps(
        cbor2.CBORTag(COSE_SIGN1_TAG, [cose.protected_raw, {}, cose.payload, cose.signature])
    )
    try:
        _COSE.decode(message, key.verifier(cose.kid))
    except (CWTError, ValueError) as err:
        raise PassSignatureInvalid("the signature does not verify") from err


def read_claims(payload: bytes) -> PassClaims:
    """The claims of a payload alone, unknown ones skipped (for passes this bureau issued: see ``read_pass``)."""
    return claims_mod.from_cwt(loads_bounded(payload, "the CWT payload"))


def read_pass(cose: CoseSign1) -> Decoded:
    """The claims of a decoded pass, the unknown ones reported, the critical ones understood and present."""
    return claims_mod.read_cwt(loads_bounded(cose.payload, "the CWT payload"), critical=cose.critical)


# --- whole pass --------------------------------------------------------------------------------------------


def sign1(payload: bytes, protected: Mapping[int, Any], signer: Signer) -> bytes:
    """A tagged COSE_Sign1 of ``payload`` (RFC 9052 section 4.4): ``signer`` signs the Sig_structure
    ["Signature1", protected header, empty external AAD, payload]; the unprotected header stays empty."""
    protected_raw = cbor2.dumps(dict(protected))
    to_be_signed = cbor2.dumps(["Signature1", protected_raw, b"", payload])
    signature = signer.sign(to_be_signed)
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected_raw, {}, payload, signature]))


def encode(claims: PassClaims, key: Signer, *, prefix: str = PREFIX) -> str:
    """Sign ``claims`` with ``key`` (in the key's own algorithm) and return the QR text.

    A personnel-transport pass marks its bus critical: a decoder that does not know buses must refuse the pass
    rather than take it for a freight vehicle carrying only its driver."""
    critical = [(claims_mod.CLAIM_PASS, claims_mod.K_BUS)] if claims.bus is not None else []
    return encode_cwt(claims_mod.to_cwt(claims), key, critical=critical, prefix=prefix)


def encode_cwt(
    cwt_claims: Mapping[Any, Any],
    key: Signer,
    *,
    critical: Iterable[ClaimPath] = (),
    prefix: str = PREFIX,
) -> str:
    """Sign a CWT claims map as a pass, marking ``critical`` claims (each must be in the map) as critical.

    The protected header's keys are written in deterministic CBOR order (RFC 8949 section 4.2.1): alg, crit,
    kid, critical claims."""
    paths = tuple(critical)
    marked = extensions.critical_header(paths)
    for path in paths:
        holder = cwt_claims if len(path) == 1 else cwt_claims.get(path[0])
        if not isinstance(holder, Mapping) or path[-1] not in holder:
            raise ValueError(f"critical claim {extensions.claim_name(path)} is not in the claims")
    header = {HEADER_ALG: ALG_IDS[key.alg], HEADER_KID: key.kid} | marked
    protected = dict(sorted(header.items(), key=lambda item: cbor2.dumps(item[0])))
    message = sign1(cbor2.dumps(dict(cwt_claims)), protected, key)
    return prefix + base45.b45encode(zlib.compress(message, 9)).decode("ascii")


def decode(text: str, *, prefix: str = PREFIX) -> CoseSign1:
    """QR text -> parsed COSE_Sign1 (signature not yet checked: see ``trust.verify_pass``)."""
    cose = parse_cose(inflate(b45decode(strip_prefix(text, prefix))))
    # Any other header parameter is one we would not understand. True == 1 and 1.0 == 1 in Python: types count.
    labels = cose.protected.keys()
    if not (labels <= PASS_HEADER_LABELS and all(type(label) is int for label in labels)):
        raise _malformed(
            "the protected header holds more than alg, kid and the critical claims", "COSE_INVALID"
        )
    return replace(cose, critical=extensions.critical_claims(cose.protected))
