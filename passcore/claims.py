"""What a pass says: person, vehicle, certificate, route and validity.

``PassClaims`` is the one in-memory form. ``to_cwt`` / ``read_cwt`` map it to and from the CWT claims map that
``wire`` signs; ``read_cwt`` treats its input as hostile (every type, length and range checked) and tolerates
claims it does not know: it reports their keys (``Decoded.unknown``) and drops their values (``extensions``).
The CBOR layout is documented in docs/pass-format.md; change it only together with the version prefix, except
to add a claim, which old decoders skip (or refuse, when it is marked critical).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from passcore import extensions, ids
from passcore.errors import InputError, PassMalformed
from passcore.extensions import ClaimPath

__all__ = [
    "CLAIM_ISS",
    "CLAIM_PASS",
    "KIND_FREIGHT",
    "KIND_PERSONNEL",
    "K_BUS",
    "MANIFEST_DIGEST_BYTES",
    "MAX_BUS_PASSENGERS",
    "MAX_ESCORTS",
    "MAX_MANIFEST_PAGES",
    "MAX_SEATS",
    "MAX_STATION",
    "PLATE_COLOURS",
    "PLATE_COLOUR_NAMES_ZH",
    "VOCABULARY",
    "Bus",
    "Decoded",
    "Driver",
    "PassClaims",
    "Person",
    "from_cwt",
    "is_masked",
    "read_cwt",
    "to_cwt",
]

# CWT claim keys (RFC 8392); CLAIM_PASS is in the private-use range (< -65536).
CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI = 1, 4, 5, 6, 7
CLAIM_PASS = -65537

# Keys inside the pass claim's map: small integers keep the QR small.
K_SERIAL, K_PLATE, K_COLOUR, K_DRIVER, K_ESCORTS = 1, 2, 3, 4, 5
K_ENTERPRISE, K_ORIGIN, K_DESTINATION, K_HISTORY = 6, 7, 8, 9
# The bus of a personnel-transport pass (issue 14). Not 10 or 11: those are the published examples of members a
# version-1 decoder does not know (tests/vectors/passes), and must stay unknown for the vectors to keep their meaning.
K_BUS = 12
# Inside the bus map. 2 and 3 (the stations) are reserved and not carried: a bus pass with its manager, its
# manifest binding and the critical mark measured v13-M with them (bench/bench_manifest_qr.py), and the windscreen
# QR stays <= v12-M. Like the cargo, the stations are not compared at a checkpoint: they are printed on the card
# and the manifest pages and kept by the server.
B_SEATS, B_MANAGER, B_DIGEST, B_PAGES, B_PASSENGERS = 1, 4, 5, 6, 7
_BUS_MEMBERS = frozenset({B_SEATS, B_MANAGER, B_DIGEST, B_PAGES, B_PASSENGERS})
# What this version understands; any other claim, or member of the pass claim, is unknown (reported, skipped).
VOCABULARY = extensions.Vocabulary(
    claims=frozenset({CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT, CLAIM_CTI, CLAIM_PASS}),
    members={CLAIM_PASS: frozenset({*range(K_SERIAL, K_HISTORY + 1), K_BUS})},
)
# Cargo is not compared at a checkpoint, so it stays off the QR (it is on the printed card and the server).

# Plate colour <-> wire code. The Chinese names are accepted on input.
PLATE_COLOURS: dict[str, int] = {
    "blue": 0,
    "yellow": 1,
    "green": 2,
    "yellow_green": 3,
    "white": 4,
    "black": 5,
}
_COLOUR_ALIASES = {
    "蓝": "blue",
    "黄": "yellow",
    "绿": "green",
    "渐变绿": "green",
    "黄绿": "yellow_green",
    "白": "white",
    "黑": "black",
    "yellow-green": "yellow_green",
}
_COLOUR_BY_CODE = {v: k for k, v in PLATE_COLOURS.items()}
PLATE_COLOUR_NAMES_ZH = {
    "blue": "蓝牌",
    "yellow": "黄牌",
    "green": "绿牌",
    "yellow_green": "黄绿牌",
    "white": "白牌",
    "black": "黑牌",
}

MAX_ESCORTS = 6
MAX_NAME = 32
MAX_HISTORY = 16
PASS_ID_BYTES = 12
KIND_FREIGHT, KIND_PERSONNEL = "freight", "personnel"
MAX_SEATS = 120
MAX_STATION = 40
MAX_MANIFEST_PAGES = 50
MAX_BUS_PASSENGERS = 100
MANIFEST_DIGEST_BYTES = 16
# Visible head (up to 6), at least 4 stars, the last 4: an unmasked number never passes.
_MASKED = re.compile(r"^[0-9A-Z]{0,6}\*{4,10}[0-9A-Z]{4}$")


@dataclass(frozen=True)
class Person:
    name: str
    id_masked: str


@dataclass(frozen=True)
class Driver(Person):
    licence_masked: str


@dataclass(frozen=True)
class Bus:
    """What a personnel-transport pass says about its bus; the passengers travel on signed manifest pages
    (``passcore.manifest``) that the pass binds by ``digest``, ``pages`` and ``passengers``."""

    seats: int  # passenger seats, the driver's not counted
    # The stations (站到站) are printed, not on the QR: "" in claims read from a QR, and not compared.
    departure: str = field(compare=False)
    arrival: str = field(compare=False)
    manager: Person  # the employing enterprise's manager on board: the receiving staff for quarantine
    digest: bytes  # manifest digest: first 16 bytes of SHA-256 over the passengers (passcore.manifest.digest)
    pages: int  # manifest pages
    passengers: int  # passengers on the manifest


@dataclass(frozen=True)
class PassClaims:
    pass_id: str  # 24 lowercase hex digits: the CWT id (cti)
    serial: str  # human-readable number: issuing region code (iss) + serial, e.g. 320583-000123
    issuer: str  # issuing region code (CWT iss)
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    plate: str  # normalised, no separator: 苏EA1234
    plate_colour: str
    driver: Driver
    escorts: tuple[Person, ...]
    enterprise: str  # unified social credit code; name and contacts come from the trust bundle
    origin: str
    destination: str
    travel_history: tuple[str, ...] = ()
    bus: Bus | None = None  # present on a personnel-transport pass, absent on a freight pass
    people: tuple[Person, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        manager = (self.bus.manager,) if self.bus else ()
        object.__setattr__(self, "people", (self.driver, *self.escorts, *manager))

    @property
    def kind(self) -> str:
        return KIND_PERSONNEL if self.bus else KIND_FREIGHT

    def readable(self) -> dict[str, Any]:
        """The claims as people read them (the ``claims`` object of ``checkpoint verify --json``)."""
        return {
            "pass_id": self.pass_id,
            "serial": self.serial,
            "issuer": self.issuer,
            "issued_at": _iso(self.issued_at),
            "valid_from": _iso(self.valid_from),
            "valid_until": _iso(self.valid_until),
            "plate": ids.format_plate(self.plate),
            "plate_colour": self.plate_colour,
            "driver": {
                "name": self.driver.name,
                "id_number": self.driver.id_masked,
                "licence_number": self.driver.licence_masked,
            },
            "escorts": [{"name": p.name, "id_number": p.id_masked} for p in self.escorts],
            "enterprise": self.enterprise,
            "origin": {"code": self.origin, "name": ids.region_name(self.origin)},
            "destination": {"code": self.destination, "name": ids.region_name(self.destination)},
            "travel_history": [{"code": c, "name": ids.region_name(c)} for c in self.travel_history],
            "kind": self.kind,
            "bus": None if self.bus is None else _readable_bus(self.bus),
        }


def _readable_bus(bus: Bus) -> dict[str, Any]:
    stations = {"departure": bus.departure, "arrival": bus.arrival} if bus.departure or bus.arrival else {}
    return {
        "seats": bus.seats,
        **stations,  # known where the pass was issued, not where its QR was read
        "manager": {"name": bus.manager.name, "id_number": bus.manager.id_masked},
        "manifest": bus.digest.hex(),
        "pages": bus.pages,
        "passengers": bus.passengers,
    }


def normalise_colour(value: str) -> str:
    key = value.strip().lower()
    key = _COLOUR_ALIASES.get(value.strip(), _COLOUR_ALIASES.get(key, key))
    if key not in PLATE_COLOURS:
        raise ValueError(f"unknown plate colour {value!r} (one of {', '.join(PLATE_COLOURS)})")
    return key


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("times in a pass must carry a time zone")
    return int(moment.timestamp())


def to_cwt(claims: PassClaims) -> dict[int, Any]:
    """The CWT claims map for ``claims`` (which must already be validated and masked)."""
    region, _, number = claims.serial.rpartition("-")
    if region != claims.issuer or not number.isdigit():
        raise ValueError("serial must be the issuer's region code, a hyphen and a number")
    driver = [claims.driver.name, claims.driver.id_masked]
    if claims.driver.licence_masked != claims.driver.id_masked:
        driver.append(claims.driver.licence_masked)  # a Chinese licence number is the ID number: carried once
    members: dict[int, Any] = {
        K_SERIAL: int(number),
        K_PLATE: claims.plate,
        K_COLOUR: PLATE_COLOURS[claims.plate_colour],
        K_DRIVER: driver,
        K_ESCORTS: [[p.name, p.id_masked] for p in claims.escorts],
        K_ENTERPRISE: claims.enterprise,
        K_ORIGIN: int(claims.origin),
        K_DESTINATION: int(claims.destination),
        K_HISTORY: [int(c) for c in claims.travel_history],
    }
    if claims.bus is not None:
        if claims.escorts:
            raise ValueError("a personnel-transport pass has no escorts: its manager is the receiving staff")
        members[K_BUS] = _bus_members(claims.bus)
    # Empty optional members are left out (every byte counts in the QR); keys stay in ascending order.
    body = {key: value for key, value in members.items() if value != []}
    return {
        CLAIM_ISS: claims.issuer,
        CLAIM_EXP: _epoch(claims.valid_until),
        CLAIM_NBF: _epoch(claims.valid_from),
        CLAIM_IAT: _epoch(claims.issued_at),
        CLAIM_CTI: bytes.fromhex(claims.pass_id),
        CLAIM_PASS: body,
    }


def _bus_members(bus: Bus) -> dict[int, Any]:
    for what, station in (("departure", bus.departure), ("arrival", bus.arrival)):
        if station and (len(station) > MAX_STATION or not station.strip()):
            raise ValueError(f"the {what} station must be text of at most {MAX_STATION} characters")
    members = {
        B_SEATS: bus.seats,
        B_MANAGER: [bus.manager.name, bus.manager.id_masked],
        B_DIGEST: bus.digest,
        B_PAGES: bus.pages,
        B_PASSENGERS: bus.passengers,
    }
    try:
        _read_bus(members)  # the reader's checks before signing: never issue what a checkpoint would refuse
    except PassMalformed as err:
        raise ValueError(err.message) from err
    return members


# --- decoding hostile input -------------------------------------------------------------------------------


def _fail(what: str) -> PassMalformed:
    return PassMalformed(f"pass claims: {what}")


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit or not value.strip():
        raise _fail(f"{what} must be text of at most {limit} characters")
    return value


def _time(value: Any, what: str) -> datetime:
    # bool is an int subclass; a pass's times are plain integers in the range of real dates.
    if type(value) is not int or not 0 <= value < 2**33:
        raise _fail(f"{what} must be a NumericDate")
    return datetime.fromtimestamp(value, UTC)


def _region(value: Any, what: str) -> str:
    if type(value) is not int or not 100000 <= value <= 999999:
        raise _fail(f"{what} must be a six-digit region code")
    return f"{value:06d}"


def is_masked(value: Any) -> bool:
    """Whether ``value`` is a masked ID number as a pass carries it (an unmasked number never is)."""
    return isinstance(value, str) and _MASKED.match(value) is not None


def _masked(value: Any, what: str) -> str:
    if not is_masked(value):
        raise _fail(f"{what} must be a masked number")
    return value


def _count(value: Any, what: str, top: int) -> int:
    if type(value) is not int or not 1 <= value <= top:
        raise _fail(f"{what} must be a whole number from 1 to {top}")
    return value


def _read_bus(raw: Any) -> Bus:
    """The bus map: exactly its five members, each checked (a member added later comes as a new pass member)."""
    if not isinstance(raw, dict):
        raise _fail("the bus must be a map")
    if len(raw) != len(_BUS_MEMBERS) or not all(type(key) is int and key in _BUS_MEMBERS for key in raw):
        raise _fail(f"the bus map must hold exactly the members {sorted(_BUS_MEMBERS)}")
    manager = raw[B_MANAGER]
    if not isinstance(manager, list) or len(manager) != 2:
        raise _fail("the bus manager must be [name, id]")
    digest = raw[B_DIGEST]
    if not isinstance(digest, bytes) or len(digest) != MANIFEST_DIGEST_BYTES:
        raise _fail(f"the manifest digest must be {MANIFEST_DIGEST_BYTES} bytes")
    passengers = _count(raw[B_PASSENGERS], "the bus's passengers", MAX_BUS_PASSENGERS)
    pages = _count(raw[B_PAGES], "the manifest's pages", MAX_MANIFEST_PAGES)
    if pages > passengers:
        raise _fail("the manifest has more pages than passengers")
    return Bus(
        seats=_count(raw[B_SEATS], "the bus's seats", MAX_SEATS),
        departure="",
        arrival="",
        manager=Person(_text(manager[0], "manager name", MAX_NAME), _masked(manager[1], "manager id")),
        digest=digest,
        pages=pages,
        passengers=passengers,
    )


@dataclass(frozen=True)
class Decoded:
    """A pass's claims as read, and the claims it carries that this version does not know (keys only)."""

    claims: PassClaims
    unknown: tuple[ClaimPath, ...] = ()

    @property
    def unknown_names(self) -> tuple[str, ...]:
        """The unknown claims as reported (``extensions.claim_name``): ``("-70099", "-65537/10")``."""
        return tuple(extensions.claim_name(path) for path in self.unknown)


def from_cwt(cwt_claims: Any) -> PassClaims:
    """Parse a CWT claims map into ``PassClaims``, skipping unknown claims; ``PassMalformed`` on anything wrong."""
    return read_cwt(cwt_claims).claims


def read_cwt(cwt_claims: Any, *, critical: tuple[ClaimPath, ...] = ()) -> Decoded:
    """Parse a CWT claims map; ``critical`` (from the protected header) must all be understood and present."""
    if not isinstance(cwt_claims, dict):
        raise _fail("the CWT payload must be a map")
    unknown = VOCABULARY.unknown(cwt_claims)
    VOCABULARY.check_critical(cwt_claims, critical)
    if missing := VOCABULARY.claims - cwt_claims.keys():
        raise _fail(f"missing claim(s) {sorted(missing)}")
    cti = cwt_claims[CLAIM_CTI]
    if not isinstance(cti, bytes) or len(cti) != PASS_ID_BYTES:
        raise _fail(f"cti must be {PASS_ID_BYTES} bytes")
    body = cwt_claims[CLAIM_PASS]
    if not isinstance(body, dict):
        raise _fail("the pass claim must be a map")
    return Decoded(_read_pass(cwt_claims, cti, body), unknown)


def _read_pass(cwt_claims: dict[Any, Any], cti: bytes, body: dict[Any, Any]) -> PassClaims:
    for key in (K_SERIAL, K_PLATE, K_COLOUR, K_DRIVER, K_ENTERPRISE, K_ORIGIN, K_DESTINATION):
        if key not in body:
            raise _fail(f"pass member {key} is missing")

    serial_number = body[K_SERIAL]
    if type(serial_number) is not int or not 0 < serial_number < 10**10:
        raise _fail("serial must be a positive integer")
    issuer = _text(cwt_claims[CLAIM_ISS], "iss", 6)
    if not issuer.isdigit() or not issuer.isascii() or len(issuer) != 6:
        raise _fail("iss must be the issuing region's six-digit code")
    plate = _text(body[K_PLATE], "plate", 10)
    try:
        normal = ids.normalize_plate(plate)
    except InputError as err:
        raise _fail("plate is not a valid plate") from err
    if normal != plate:
        raise _fail("plate is not in normal form")
    colour = body[K_COLOUR]
    if type(colour) is not int or colour not in _COLOUR_BY_CODE:
        raise _fail("plate colour code unknown")
    driver = body[K_DRIVER]
    if not isinstance(driver, list) or len(driver) not in (2, 3):
        raise _fail("driver must be [name, id] or [name, id, licence]")
    escorts_raw = body.get(K_ESCORTS, [])
    if not isinstance(escorts_raw, list) or len(escorts_raw) > MAX_ESCORTS:
        raise _fail(f"escorts must be a list of at most {MAX_ESCORTS}")
    escorts = []
    for item in escorts_raw:
        if not isinstance(item, list) or len(item) != 2:
            raise _fail("escort must be [name, id]")
        escorts.append(Person(_text(item[0], "escort name", MAX_NAME), _masked(item[1], "escort id")))
    history_raw = body.get(K_HISTORY, [])
    if not isinstance(history_raw, list) or len(history_raw) > MAX_HISTORY:
        raise _fail(f"travel history must be a list of at most {MAX_HISTORY}")
    try:
        enterprise = ids.validate_uscc(_text(body[K_ENTERPRISE], "enterprise", 18))
    except InputError as err:
        raise _fail("enterprise must be a unified social credit code") from err
    issued_at = _time(cwt_claims[CLAIM_IAT], "iat")
    valid_from = _time(cwt_claims[CLAIM_NBF], "nbf")
    valid_until = _time(cwt_claims[CLAIM_EXP], "exp")
    if valid_until <= valid_from:
        raise _fail("exp must be after nbf")
    bus = _read_bus(body[K_BUS]) if K_BUS in body else None
    if bus is not None and escorts:
        raise _fail("a personnel-transport pass carries no escorts")
    return PassClaims(
        pass_id=cti.hex(),
        serial=f"{issuer}-{serial_number:06d}",
        issuer=issuer,
        issued_at=issued_at,
        valid_from=valid_from,
        valid_until=valid_until,
        plate=plate,
        plate_colour=_COLOUR_BY_CODE[colour],
        driver=Driver(
            _text(driver[0], "driver name", MAX_NAME),
            _masked(driver[1], "driver id"),
            _masked(driver[-1], "licence"),
        ),
        escorts=tuple(escorts),
        enterprise=enterprise,
        origin=_region(body[K_ORIGIN], "origin"),
        destination=_region(body[K_DESTINATION], "destination"),
        travel_history=tuple(_region(c, "travel history entry") for c in history_raw),
        bus=bus,
    )
