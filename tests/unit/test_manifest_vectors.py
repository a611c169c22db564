"""Pinned vectors of a personnel-transport pass and its manifest pages (issue 14).

tests/vectors/manifest/manifest.json holds a bus pass of 12 passengers on 3 pages (5 a page), signed with the
RFC 8032 test key of the golden vector, the passengers and their digest, each page's text and what a verifier
answers for it, a page of another pass, a tampered page, and sequences of scans with what a collector answers
(docs/pass-format.md, "Personnel transport"). EdDSA is deterministic, so every text is rebuilt here byte for byte.
Fill in the file after changing the specification below: ``python -m tests.unit.test_manifest_vectors --write``.
"""

from __future__ import annotations

import json
import sys
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest

from passcore import manifest, trust, wire
from passcore.claims import Bus, PassClaims, Person
from passcore.manifest import Manifest, Passenger
from tests.factories import make_bundle, make_claims
from tests.unit.test_wire_golden import KEY

VECTORS_FILE = Path(__file__).resolve().parents[1] / "vectors" / "manifest" / "manifest.json"
PER_PAGE = 5
OTHER_PASS_ID = "0123456789abcdef0123ffff"
PASSENGERS = (
    Passenger("王小明", "411502********1234", "411502", ("411502",)),
    Passenger("李娜", "411521********004X", "411521", ("411521", "420100")),
    Passenger("欧阳建国", "411503********5678", "411503", ("411503",)),
    Passenger("张伟", "341202********0011", "411502", ("411502", "341202", "320583")),
    Passenger("陈静", "411502********2345", "411502", ("411502",)),
    Passenger("刘洋", "411522********3456", "411522", ("411522",)),
    Passenger("赵丽", "411502********4567", "411502", ("411502", "420100")),
    Passenger("黄磊", "411523********5679", "411523", ("411523",)),
    Passenger("周芳", "411524********6780", "411524", ("411524",)),
    Passenger("吴敏", "411502********7891", "411502", ("411502",)),
    Passenger("徐强", "411525********8902", "411525", ("411525", "411502")),
    Passenger("孙艳", "411502********9013", "411502", ("411502",)),
)


def bus_claims(pass_id: str = "0123456789abcdef01234567") -> PassClaims:
    """The golden vector's claims (tests/factories.make_claims) with no escorts, origin 411502 and this bus."""
    bus = Bus(
        seats=53,
        departure="信阳汽车站",
        arrival="昆山汽车南站",
        manager=Person("赵敏", "320583********0021"),
        digest=manifest.digest(PASSENGERS),
        pages=3,
        passengers=len(PASSENGERS),
    )
    return make_claims(pass_id=pass_id, escorts=(), origin="411502", bus=bus)


def tampered(text: str) -> str:
    """Page 2 with its first passenger's name changed after signing (outer layers rebuilt, signature kept)."""
    message = cbor2.loads(zlib.decompress(base45.b45decode(text[len(manifest.PAGE_PREFIX) :])))
    payload = cbor2.loads(message.value[2])
    payload[manifest.CLAIM_PAGE][manifest.P_PASSENGERS][0][0] = "王大明"
    message.value[2] = cbor2.dumps(payload)
    return manifest.PAGE_PREFIX + base45.b45encode(zlib.compress(cbor2.dumps(message), 9)).decode("ascii")


def build() -> dict[str, Any]:
    claims = bus_claims()
    pages = manifest.encode_pages(claims, PASSENGERS, KEY, per_page=PER_PAGE)
    other = manifest.encode_pages(bus_claims(OTHER_PASS_ID), PASSENGERS, KEY, per_page=PER_PAGE)
    texts = {
        "pass": wire.encode(claims, KEY),
        "page-1": pages[0],
        "page-2": pages[1],
        "page-3": pages[2],
        "other-pass-page-1": other[0],
        "tampered-page-2": tampered(pages[1]),
    }
    return {
        "pass_claims": claims.readable(),
        "passengers": [p.readable() for p in PASSENGERS],
        "passenger_arrays_cbor": cbor2.dumps([p.wire() for p in PASSENGERS]).hex(),
        "digest": manifest.digest(PASSENGERS).hex(),
        "per_page": PER_PAGE,
        "texts": texts,
    }


_EMPTY = {
    "verify_at": "2026-02-10T08:00:00+00:00",
    "texts": {},
    "expect": {},
    "collect": [],
}  # before --write
DATA = json.loads(VECTORS_FILE.read_text(encoding="utf-8")) if VECTORS_FILE.exists() else _EMPTY
AT = datetime.fromisoformat(DATA["verify_at"])
TEXTS = DATA["texts"]


def bundle() -> trust.TrustBundle:
    entry = DATA["key"]
    key = trust.IssuerKey(KEY.public, trust.KEY_ACTIVE, AT - timedelta(days=365))
    assert (KEY.public.spki_der.hex(), KEY.kid.hex()) == (entry["spki"], entry["kid"])
    return make_bundle([key])


def page_outcome(result: manifest.PageVerification) -> dict[str, Any]:
    return {
        "valid": result.valid,
        "code": result.code,
        "detail": result.detail,
        "pass_id": result.pass_id,
        "page": result.label if result.valid else None,
        "first": result.first if result.valid else None,
        "passengers": len(result.passengers),
    }


def test_every_text_is_rebuilt_byte_for_byte():
    assert build()["texts"] == TEXTS


def test_the_specification_is_the_one_pinned():
    built = build()
    for name in ("pass_claims", "passengers", "passenger_arrays_cbor", "digest", "per_page"):
        assert built[name] == DATA[name], name


def test_the_pass_verifies_as_pinned():
    result = trust.verify_pass(TEXTS["pass"], bundle(), now=AT)
    expect = DATA["expect"]["pass"]
    assert (result.valid, result.code, result.pass_id) == (expect["valid"], expect["code"], expect["pass_id"])
    assert [list(p) for p in wire.decode(TEXTS["pass"]).critical] == expect["critical"]
    assert result.claims.bus.digest.hex() == DATA["digest"]


@pytest.mark.parametrize("name", [n for n in DATA["expect"] if n != "pass"])
def test_each_page_verifies_as_pinned(name):
    assert page_outcome(manifest.verify_page(TEXTS[name], bundle(), now=AT)) == DATA["expect"][name]


@pytest.mark.parametrize("sequence", DATA["collect"], ids=lambda s: s["name"])
def test_each_scan_sequence_collects_as_pinned(sequence):
    claims = trust.verify_pass(TEXTS["pass"], bundle(), now=AT).claims
    collected = Manifest(claims)
    answers = [
        collected.add(manifest.verify_page(TEXTS[name], bundle(), now=AT)) for name in sequence["scan"]
    ]
    assert answers == sequence["answers"]
    assert list(collected.missing) == sequence["missing"]
    assert collected.code == sequence["code"]
    if sequence["code"] == "MANIFEST_VALID":
        assert [p.readable() for p in collected.passengers] == DATA["passengers"]


def test_the_digest_is_sha256_over_the_pinned_cbor():
    import hashlib

    assert hashlib.sha256(bytes.fromhex(DATA["passenger_arrays_cbor"])).digest()[:16].hex() == DATA["digest"]


def write() -> None:
    """Rebuild the texts and the specification; the expectations are computed and should be read before commit."""
    data = {
        "about": (
            "A personnel-transport pass (bus) and its signed manifest pages, docs/pass-format.md section "
            "'Personnel transport'. See README.md."
        ),
        "verify_at": "2026-02-10T08:00:00+00:00",
        "key": {
            "alg": "EdDSA",
            "private": "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "private_form": "Ed25519 seed, RFC 8032 section 7.1 test 1",
            "spki": KEY.public.spki_der.hex(),
            "kid": KEY.kid.hex(),
        },
        **build(),
    }
    global DATA, AT, TEXTS
    DATA, AT, TEXTS = data, datetime.fromisoformat(data["verify_at"]), data["texts"]
    result = trust.verify_pass(TEXTS["pass"], bundle(), now=AT)
    data["expect"] = {
        "pass": {
            "valid": result.valid,
            "code": result.code,
            "pass_id": result.pass_id,
            "critical": [list(p) for p in wire.decode(TEXTS["pass"]).critical],
        }
    }
    for name in TEXTS:
        if name != "pass":
            data["expect"][name] = page_outcome(manifest.verify_page(TEXTS[name], bundle(), now=AT))
    data["collect"] = []
    for name, scan in (
        ("all-pages-in-any-order", ["page-3", "page-1", "page-2"]),
        ("a-page-twice", ["page-1", "page-1", "page-2", "page-3"]),
        ("a-page-missing", ["page-1", "page-3"]),
        ("a-page-of-another-pass", ["page-1", "page-2", "page-3", "other-pass-page-1"]),
        ("a-tampered-page", ["page-1", "tampered-page-2", "page-3"]),
    ):
        collected = Manifest(result.claims)
        answers = [collected.add(manifest.verify_page(TEXTS[n], bundle(), now=AT)) for n in scan]
        data["collect"].append(
            {
                "name": name,
                "scan": scan,
                "answers": answers,
                "missing": list(collected.missing),
                "code": collected.code,
            }
        )
    VECTORS_FILE.parent.mkdir(parents=True, exist_ok=True)
    VECTORS_FILE.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    write()
