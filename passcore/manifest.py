"""The passenger manifest of a personnel-transport pass, as signed QR pages (``CPM1:``).

A bus of 45 workers does not fit the windscreen QR code, so the pass carries only the manifest's digest, its
page count and its passenger count (``claims.Bus``) and the passengers travel on printed pages, each a QR code
signed by the same issuer key and bound to the pass by its ``cti`` and the digest. Pages are read in any order,
each once (``Manifest``); when all are in, the passengers are checked against the digest and the count.

A page has the pass's layers (Base45(zlib(COSE_Sign1(CWT)))) under its own prefix, and its text is treated as
hostile with the same bounds (``wire``). The layout is in docs/pass-format.md, "Personnel transport".
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import cbor2

from passcore import claims as claims_mod
from passcore import extensions, wire
from passcore.claims import MAX_BUS_PASSENGERS, MAX_HISTORY, MAX_MANIFEST_PAGES, MAX_NAME, PassClaims
from passcore.errors import CheckpassError, PassError, PassMalformed, PassUnknownKey
from passcore.keys import Signer
from passcore.trust import KEY_RETIRED, TrustBundle

__all__ = [
    "ADDED",
    "CLAIM_PAGE",
    "DUPLICATE",
    "INVALID",
    "OTHER_PASS",
    "PAGE_PREFIX",
    "PAGE_VOCABULARY",
    "PASSENGERS_PER_PAGE",
    "Manifest",
    "ManifestIncomplete",
    "ManifestInvalid",
    "PageVerification",
    "Passenger",
    "digest",
    "encode_pages",
    "is_page",
    "page_count",
    "verify_page",
]

PAGE_PREFIX = "CPM1:"
# Measured by bench/bench_manifest_qr.py (docs/performance.md, "Manifest pages"): 8 realistic passengers make a
# page of at most ~600 characters, v15-M for 99 % of pages (v16 now and then), and a bus of 45 six pages. 9 would
# make five pages but every one v16, and a page reads less often the bigger its version.
PASSENGERS_PER_PAGE = 8
# The page claim, next to the pass claim (-65537) in the private-use range.
CLAIM_PAGE = -65538
P_DIGEST, P_NUMBER, P_PAGES, P_FIRST, P_PASSENGERS = 1, 2, 3, 4, 5
_PAGE_MEMBERS = frozenset({P_DIGEST, P_NUMBER, P_PAGES, P_FIRST, P_PASSENGERS})
PAGE_VOCABULARY = extensions.Vocabulary(
    claims=frozenset({claims_mod.CLAIM_ISS, claims_mod.CLAIM_IAT, claims_mod.CLAIM_CTI, CLAIM_PAGE}),
    members={CLAIM_PAGE: _PAGE_MEMBERS},
)
# What Manifest.add answers.
ADDED, DUPLICATE, OTHER_PASS, INVALID = "added", "duplicate", "other_pass", "invalid"
PAGE_VALID, MANIFEST_VALID, MANIFEST_INVALID, MANIFEST_INCOMPLETE = (
    "MANIFEST_PAGE_VALID",
    "MANIFEST_VALID",
    "MANIFEST_INVALID",
    "MANIFEST_INCOMPLETE",
)


class ManifestInvalid(CheckpassError):
    """The pages do not make the manifest the pass names (digest, count or numbering differ)."""

    code = MANIFEST_INVALID


class ManifestIncomplete(CheckpassError):
    code = MANIFEST_INCOMPLETE


@dataclass(frozen=True)
class Passenger:
    """One passenger as the manifest carries them: masked ID number, codes only (names come from ids)."""

    name: str
    id_masked: str
    origin: str  # six-digit region code
    travel_history: tuple[str, ...] = ()

    def wire(self) -> list[Any]:
        return [self.name, self.id_masked, int(self.origin), [int(code) for code in self.travel_history]]

    def readable(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id_number": self.id_masked,
            "origin": self.origin,
            "travel_history": list(self.travel_history),
        }


def digest(passengers: Sequence[Passenger]) -> bytes:
    """First 16 bytes of SHA-256 over the deterministic CBOR of the array of passenger arrays, in order."""
    encoded = cbor2.dumps([p.wire() for p in passengers], canonical=True)
    return hashlib.sha256(encoded).digest()[: claims_mod.MANIFEST_DIGEST_BYTES]


def page_count(passengers: int, per_page: int = PASSENGERS_PER_PAGE) -> int:
    """How many pages ``passengers`` take (what the pass's bus says before its pages are signed)."""
    return max(1, math.ceil(passengers / per_page))


def is_page(text: str) -> bool:
    """Whether a scanned text claims to be a manifest page (so a scanner routes it here, not to the pass)."""
    return isinstance(text, str) and text.startswith(PAGE_PREFIX)


def encode_pages(
    claims: PassClaims,
    passengers: Sequence[Passenger],
    key: Signer,
    *,
    per_page: int = PASSENGERS_PER_PAGE,
) -> list[str]:
    """Sign the manifest of ``claims``'s bus as page texts, in order; the pass must already name these passengers
    (digest, count and pages), and each passenger passes the checks a checkpoint makes."""
    bus = claims.bus
    if bus is None:
        raise ValueError("a freight pass has no manifest")
    if not 1 <= per_page <= MAX_BUS_PASSENGERS:
        raise ValueError(f"per_page must be 1 to {MAX_BUS_PASSENGERS}")
    try:  # the reader's checks before signing: never sign a page a checkpoint would refuse
        rows = [p.wire() for p in passengers]
        checked = tuple(_passenger(row) for row in rows)
    except (PassMalformed, ValueError) as err:
        raise ValueError(f"a passenger cannot go on a page: {err}") from err
    if checked != tuple(passengers):
        raise ValueError("a passenger does not survive encoding (origin or history not six-digit codes)")
    if len(passengers) != bus.passengers or digest(passengers) != bus.digest:
        raise ValueError("the passengers are not the ones the pass names (count or digest differ)")
    pages = page_count(len(passengers), per_page)
    if pages != bus.pages:
        raise ValueError(
            f"{len(passengers)} passengers at {per_page} a page take {pages} pages, the pass says {bus.pages}"
        )
    texts = []
    for index in range(pages):
        first = index * per_page
        cwt = {
            claims_mod.CLAIM_ISS: claims.issuer,
            claims_mod.CLAIM_IAT: int(claims.issued_at.timestamp()),
            claims_mod.CLAIM_CTI: bytes.fromhex(claims.pass_id),
            CLAIM_PAGE: {
                P_DIGEST: bus.digest,
                P_NUMBER: index + 1,
                P_PAGES: pages,
                P_FIRST: first + 1,
                P_PASSENGERS: rows[first : first + per_page],
            },
        }
        texts.append(wire.encode_cwt(cwt, key, prefix=PAGE_PREFIX))
    return texts


# --- reading a page ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageVerification:
    """One scanned page. ``valid``: signed by a known issuer key and well formed; whether it belongs to the bus
    in front of the officer is ``Manifest.add``'s question. ``detail`` names why a page is invalid (a
    ``PassMalformed`` detail such as ZLIB_TOO_LARGE, or PASS_SIGNATURE_INVALID, PASS_UNKNOWN_KEY)."""

    valid: bool
    code: str  # MANIFEST_PAGE_VALID or MANIFEST_INVALID
    message: str
    pass_id: str | None = None
    digest: bytes | None = None
    number: int = 0
    pages: int = 0
    first: int = 0
    passengers: tuple[Passenger, ...] = ()
    issuer: str | None = None
    issued_at: datetime | None = None
    kid: bytes | None = None
    detail: str | None = None
    unknown_claims: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """ "3/5", as printed on the page."""
        return f"{self.number}/{self.pages}"

    def readable(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "code": self.code,
            "detail": self.detail,
            "pass_id": self.pass_id,
            "manifest": self.digest.hex() if self.digest else None,
            "page": self.label if self.valid else None,
            "first": self.first if self.valid else None,
            "passengers": [p.readable() for p in self.passengers],
        }


def _fail(what: str) -> PassMalformed:
    return PassMalformed(f"manifest page: {what}", detail="PAGE_INVALID")


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit or not value.strip():
        raise _fail(f"{what} must be text of at most {limit} characters")
    return value


def _count(value: Any, what: str, top: int) -> int:
    if type(value) is not int or not 1 <= value <= top:
        raise _fail(f"{what} must be a whole number from 1 to {top}")
    return value


def _region(value: Any, what: str) -> str:
    if type(value) is not int or not 100000 <= value <= 999999:
        raise _fail(f"{what} must be a six-digit region code")
    return f"{value:06d}"


def _passenger(row: Any) -> Passenger:
    if not isinstance(row, list) or len(row) != 4:
        raise _fail("a passenger must be [name, id, origin, travel history]")
    name, masked, origin, history = row
    if not claims_mod.is_masked(masked):
        raise _fail("a passenger's id must be a masked number")
    if not isinstance(history, list) or len(history) > MAX_HISTORY:
        raise _fail(f"a passenger's travel history must be a list of at most {MAX_HISTORY}")
    return Passenger(
        _text(name, "a passenger's name", MAX_NAME),
        masked,
        _region(origin, "a passenger's origin"),
        tuple(_region(code, "a travel history entry") for code in history),
    )


def _read_page(cwt: Any, critical: tuple[extensions.ClaimPath, ...]) -> PageVerification:
    if not isinstance(cwt, dict):
        raise _fail("the CWT payload must be a map")
    unknown = PAGE_VOCABULARY.unknown(cwt)
    PAGE_VOCABULARY.check_critical(cwt, critical)
    if missing := PAGE_VOCABULARY.claims - cwt.keys():
        raise _fail(f"missing claim(s) {sorted(missing)}")
    issuer = _text(cwt[claims_mod.CLAIM_ISS], "iss", 6)
    if not (issuer.isascii() and issuer.isdigit() and len(issuer) == 6):
        raise _fail("iss must be the issuing region's six-digit code")
    iat = cwt[claims_mod.CLAIM_IAT]
    if type(iat) is not int or not 0 <= iat < 2**33:
        raise _fail("iat must be a NumericDate")
    cti = cwt[claims_mod.CLAIM_CTI]
    if not isinstance(cti, bytes) or len(cti) != claims_mod.PASS_ID_BYTES:
        raise _fail(f"cti must be {claims_mod.PASS_ID_BYTES} bytes")
    page = cwt[CLAIM_PAGE]
    if not isinstance(page, dict) or set(page) != _PAGE_MEMBERS or not all(type(k) is int for k in page):
        raise _fail(f"the page claim must be a map of exactly the members {sorted(_PAGE_MEMBERS)}")
    page_digest = page[P_DIGEST]
    if not isinstance(page_digest, bytes) or len(page_digest) != claims_mod.MANIFEST_DIGEST_BYTES:
        raise _fail(f"the digest must be {claims_mod.MANIFEST_DIGEST_BYTES} bytes")
    pages = _count(page[P_PAGES], "pages", MAX_MANIFEST_PAGES)
    number = _count(page[P_NUMBER], "the page number", pages)
    first = _count(page[P_FIRST], "the first passenger's number", MAX_BUS_PASSENGERS)
    rows = page[P_PASSENGERS]
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_BUS_PASSENGERS - first + 1:
        raise _fail(
            f"a page lists 1 to {MAX_BUS_PASSENGERS} passengers, numbered at most {MAX_BUS_PASSENGERS}"
        )
    return PageVerification(
        valid=True,
        code=PAGE_VALID,
        message=f"manifest page {number}/{pages} is genuine",
        pass_id=cti.hex(),
        digest=page_digest,
        number=number,
        pages=pages,
        first=first,
        passengers=tuple(_passenger(row) for row in rows),
        issuer=issuer,
        issued_at=datetime.fromtimestamp(iat, UTC),
        unknown_claims=tuple(extensions.claim_name(path) for path in unknown),
    )


def verify_page(text: str, bundle: TrustBundle, *, now: datetime) -> PageVerification:
    """Verify a page's text offline: structure, key (protected kid, not retired, valid when the page was signed),
    signature, claims. A page has no validity window of its own (the pass's governs, and its revocation), so
    ``now`` is not compared; it is taken for symmetry with ``trust.verify_pass`` and future checks."""
    del now
    kid = None
    try:
        cose = wire.decode(text, prefix=PAGE_PREFIX)
        kid = cose.kid
        if kid is None:
            raise PassUnknownKey("the page names no key in its protected header")
        issuer = bundle.issuer(kid)
        if issuer is None or issuer.status == KEY_RETIRED:
            raise PassUnknownKey(f"the page is signed by an unknown or retired key ({kid.hex()})")
        wire.verify_signature(cose, issuer.public)
        page = _read_page(wire.loads_bounded(cose.payload, "the CWT payload"), cose.critical)
        if page.issued_at is None or not issuer.usable_at(page.issued_at):
            raise PassUnknownKey("the page was signed outside its key's validity")
    except PassError as err:
        return PageVerification(False, MANIFEST_INVALID, err.message, kid=kid, detail=err.detail or err.code)
    return replace(page, kid=kid)


# --- collecting the pages of one bus -----------------------------------------------------------------------


class Manifest:
    """The pages of one bus's manifest as they are scanned, in any order, each once."""

    def __init__(self, pass_claims: PassClaims) -> None:
        if pass_claims.bus is None:
            raise ValueError("a freight pass has no manifest")
        self.claims = pass_claims
        self.bus = pass_claims.bus
        self.pages: dict[int, PageVerification] = {}
        # Pages signed for another pass, and pages that are not genuine: each makes the manifest invalid.
        self.foreign: list[PageVerification] = []
        self.forged: list[PageVerification] = []

    def add(self, page: PageVerification) -> str:
        """ "added", "duplicate" (that page is in already), "other_pass" (bound to another pass or manifest: the
        pass id, digest, page count or issuer differ) or "invalid" (not genuine)."""
        if not page.valid:
            self.forged.append(page)
            return INVALID
        if (
            page.pass_id != self.claims.pass_id
            or page.digest != self.bus.digest
            or page.pages != self.bus.pages
            or page.issuer != self.claims.issuer
        ):
            self.foreign.append(page)
            return OTHER_PASS
        if page.number in self.pages:
            return DUPLICATE
        self.pages[page.number] = page
        return ADDED

    @property
    def missing(self) -> tuple[int, ...]:
        return tuple(n for n in range(1, self.bus.pages + 1) if n not in self.pages)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def code(self) -> str:
        """MANIFEST_INVALID (a page forged, of another pass, or the pages not the pass's passengers),
        MANIFEST_INCOMPLETE (pages missing) or MANIFEST_VALID."""
        if self.forged or self.foreign:
            return MANIFEST_INVALID
        if not self.complete:
            return MANIFEST_INCOMPLETE
        try:
            self._check()
        except ManifestInvalid:
            return MANIFEST_INVALID
        return MANIFEST_VALID

    @property
    def passengers(self) -> tuple[Passenger, ...]:
        """Every passenger in order; ``ManifestIncomplete`` while pages are missing, ``ManifestInvalid`` when the
        pages do not add up to the manifest the pass names."""
        if not self.complete:
            raise ManifestIncomplete(f"manifest pages missing: {', '.join(map(str, self.missing))}")
        return self._check()

    def _check(self) -> tuple[Passenger, ...]:
        everyone: list[Passenger] = []
        for number in range(1, self.bus.pages + 1):
            page = self.pages[number]
            if page.first != len(everyone) + 1:
                raise ManifestInvalid(
                    f"page {page.label} starts at passenger {page.first}, not {len(everyone) + 1}"
                )
            everyone += page.passengers
        if len(everyone) != self.bus.passengers:
            raise ManifestInvalid(
                f"the pages list {len(everyone)} passengers, the pass {self.bus.passengers}"
            )
        if digest(everyone) != self.bus.digest:
            raise ManifestInvalid("the passengers on the pages do not match the pass's manifest digest")
        return tuple(everyone)
