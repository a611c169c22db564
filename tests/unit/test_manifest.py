"""Personnel-transport passes and their signed manifest pages (issue 14): the bus on the pass, pages read in any
order and each once, the collector's answers, and the pass kind.

The hostile input of pages is in test_manifest_hostile.py; the published vectors in test_manifest_vectors.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import cbor2
import pytest

from passcore import claims as claims_mod
from passcore import extensions, manifest, reasons, trust, wire
from passcore.claims import Bus, PassClaims, Person
from passcore.errors import InputError
from passcore.keys import SigningKey, generate_signing_key
from passcore.manifest import Manifest, Passenger
from passcore.policy import BUS_FEVER_HOLD_BUS, BUS_FEVER_RELEASE_OTHERS, Policy
from tests.factories import NOW, issuer, make_bundle, make_claims

KEY = generate_signing_key()
BUNDLE = make_bundle([issuer(KEY)])
ORIGINS = ("411502", "411521", "341202", "510722", "420117")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
# The mechanism is tested at 9 a page (45 passengers on 5 pages), whatever size bench_manifest_qr.py chose.
PER_PAGE = 9


def people(count: int, *, start: int = 0) -> tuple[Passenger, ...]:
    """``count`` distinct passengers: Chinese names, masked IDs, origins, one or two travel-history codes."""
    out = []
    for i in range(start, start + count):
        origin = ORIGINS[i % len(ORIGINS)]
        history = (origin,) if i % 2 else (origin, "320583")
        out.append(
            Passenger(
                f"{SURNAMES[i % 20]}{'小' * (i // 20 + 1)}明", f"{origin}********{i:04d}", origin, history
            )
        )
    return tuple(out)


def bus_claims(passengers: tuple[Passenger, ...], *, per_page: int = PER_PAGE, **changes) -> PassClaims:
    bus = Bus(
        seats=53,
        departure="信阳汽车站",
        arrival="昆山汽车南站",
        manager=Person("赵敏", "320583********0021"),
        digest=manifest.digest(passengers),
        pages=manifest.page_count(len(passengers), per_page),
        passengers=len(passengers),
    )
    return make_claims(escorts=(), origin="411502", bus=bus, **changes)


def issue(
    count: int = 45, *, per_page: int = PER_PAGE, key: SigningKey = KEY, **changes
) -> tuple[PassClaims, tuple[Passenger, ...], str, list[str]]:
    """A bus pass of ``count`` passengers: claims, passengers, pass text and page texts."""
    passengers = people(count)
    claims = bus_claims(passengers, per_page=per_page, **changes)
    return (
        claims,
        passengers,
        wire.encode(claims, key),
        manifest.encode_pages(claims, passengers, key, per_page=per_page),
    )


def read(text: str, bundle: trust.TrustBundle = BUNDLE) -> manifest.PageVerification:
    return manifest.verify_page(text, bundle, now=NOW)


CLAIMS, PASSENGERS, PASS_TEXT, PAGES = issue()


# --- the pass -----------------------------------------------------------------------------------------------


def test_a_bus_pass_verifies_and_reads_back_its_bus():
    result = trust.verify_pass(PASS_TEXT, BUNDLE, now=NOW)
    assert (result.valid, result.code, result.unknown_claims) == (True, "PASS_VALID", ())
    assert result.claims == CLAIMS
    bus = result.claims.bus
    assert (bus.seats, bus.manager, bus.pages, bus.passengers) == (
        53,
        Person("赵敏", "320583********0021"),
        5,
        45,
    )
    assert bus.digest == manifest.digest(PASSENGERS) and len(bus.digest) == 16


def test_the_stations_are_printed_not_carried_in_the_qr():
    bus = trust.verify_pass(PASS_TEXT, BUNDLE, now=NOW).claims.bus
    assert (bus.departure, bus.arrival) == ("", "")
    assert "信阳汽车站".encode() not in wire.inflate(wire.b45decode(PASS_TEXT[len(wire.PREFIX) :]))
    readable = trust.verify_pass(PASS_TEXT, BUNDLE, now=NOW).claims.readable()["bus"]
    assert "departure" not in readable and "arrival" not in readable
    assert CLAIMS.readable()["bus"]["departure"] == "信阳汽车站"  # where it was issued


def test_kind_and_people():
    assert CLAIMS.kind == claims_mod.KIND_PERSONNEL == "personnel"
    assert make_claims().kind == claims_mod.KIND_FREIGHT == "freight"
    assert CLAIMS.people == (CLAIMS.driver, Person("赵敏", "320583********0021"))
    assert make_claims().people == (make_claims().driver, *make_claims().escorts)


def test_readable_includes_the_bus_and_says_freight_otherwise():
    readable = CLAIMS.readable()
    assert readable["kind"] == "personnel"
    assert readable["bus"] == {
        "seats": 53,
        "departure": "信阳汽车站",
        "arrival": "昆山汽车南站",
        "manager": {"name": "赵敏", "id_number": "320583********0021"},
        "manifest": manifest.digest(PASSENGERS).hex(),
        "pages": 5,
        "passengers": 45,
    }
    assert make_claims().readable()["kind"] == "freight" and make_claims().readable()["bus"] is None


def test_the_issuer_marks_the_bus_critical_and_only_on_a_bus():
    assert wire.decode(PASS_TEXT).critical == ((claims_mod.CLAIM_PASS, claims_mod.K_BUS),)
    assert wire.decode(wire.encode(make_claims(), KEY)).critical == ()


def test_a_decoder_that_does_not_know_buses_refuses_a_bus_pass(monkeypatch):
    """What a checkpoint of the version before issue 14 does: the critical mark makes it refuse, not take the bus
    for a freight vehicle with only its driver."""
    old = extensions.Vocabulary(
        claims=claims_mod.VOCABULARY.claims,
        members={claims_mod.CLAIM_PASS: frozenset(range(1, 10))},
    )
    monkeypatch.setattr(claims_mod, "VOCABULARY", old)
    result = trust.verify_pass(PASS_TEXT, BUNDLE, now=NOW)
    assert (result.valid, result.code, result.detail) == (False, "PASS_MALFORMED", "CRITICAL_CLAIM_UNKNOWN")
    # ... while it still reads a freight pass.
    assert trust.verify_pass(wire.encode(make_claims(), KEY), BUNDLE, now=NOW).valid


def test_the_bus_map_on_the_wire():
    body = claims_mod.to_cwt(CLAIMS)[claims_mod.CLAIM_PASS]
    assert claims_mod.K_ESCORTS not in body
    assert body[12] == {1: 53, 4: ["赵敏", "320583********0021"], 5: CLAIMS.bus.digest, 6: 5, 7: 45}


def test_a_bus_pass_with_escorts_is_not_issued():
    with pytest.raises(ValueError, match="escorts"):
        claims_mod.to_cwt(replace(CLAIMS, escorts=(Person("李娜", "320583********4567"),)))


@pytest.mark.parametrize(
    "change",
    [
        {"seats": 0},
        {"seats": 121},
        {"pages": 0},
        {"pages": 51},
        {"passengers": 101},
        {"pages": 6, "passengers": 5},
        {"digest": b"\x00" * 15},
        {"manager": Person("赵敏", "320583199001010021")},
        {"manager": Person("", "320583********0021")},
        {"departure": "站" * 41},
    ],
    ids=lambda change: ",".join(change),
)
def test_the_issuer_never_signs_a_bus_a_checkpoint_would_refuse(change):
    with pytest.raises(ValueError):
        wire.encode(replace(CLAIMS, bus=replace(CLAIMS.bus, **change)), KEY)


# --- pages --------------------------------------------------------------------------------------------------


def test_45_passengers_take_five_pages_each_bound_to_the_pass():
    assert len(PAGES) == 5 == CLAIMS.bus.pages
    for number, text in enumerate(PAGES, 1):
        assert manifest.is_page(text) and not manifest.is_page(PASS_TEXT)
        page = read(text)
        assert (page.valid, page.code, page.detail) == (True, "MANIFEST_PAGE_VALID", None)
        assert (page.pass_id, page.digest, page.number, page.pages, page.label) == (
            CLAIMS.pass_id,
            CLAIMS.bus.digest,
            number,
            5,
            f"{number}/5",
        )
        first = (number - 1) * PER_PAGE
        assert page.first == first + 1
        assert page.passengers == PASSENGERS[first : first + PER_PAGE]
        assert page.kid == KEY.kid and page.issuer == CLAIMS.issuer


def test_a_page_is_not_a_pass_and_a_pass_is_not_a_page():
    assert trust.verify_pass(PAGES[0], BUNDLE, now=NOW).detail == "PREFIX_INVALID"
    assert (read(PASS_TEXT).valid, read(PASS_TEXT).detail) == (False, "PREFIX_INVALID")
    assert not manifest.is_page(None)  # type: ignore[arg-type]


def test_the_digest_is_sha256_of_the_deterministic_cbor_of_the_passenger_arrays():
    import hashlib

    rows = [[p.name, p.id_masked, int(p.origin), [int(c) for c in p.travel_history]] for p in PASSENGERS]
    assert manifest.digest(PASSENGERS) == hashlib.sha256(cbor2.dumps(rows)).digest()[:16]
    assert manifest.digest(PASSENGERS[::-1]) != manifest.digest(PASSENGERS)  # the order counts


def test_pages_read_in_any_order_each_once_make_the_manifest():
    collected = Manifest(CLAIMS)
    assert (collected.missing, collected.complete, collected.code) == (
        (1, 2, 3, 4, 5),
        False,
        "MANIFEST_INCOMPLETE",
    )
    for number in (3, 5, 1, 4):
        assert collected.add(read(PAGES[number - 1])) == "added"
    assert collected.add(read(PAGES[0])) == "duplicate"
    assert (collected.missing, collected.complete) == ((2,), False)
    with pytest.raises(manifest.ManifestIncomplete) as err:
        _ = collected.passengers
    assert err.value.code == "MANIFEST_INCOMPLETE"
    assert collected.add(read(PAGES[1])) == "added"
    assert (collected.missing, collected.complete, collected.code) == ((), True, "MANIFEST_VALID")
    assert collected.passengers == PASSENGERS


def test_a_page_of_another_pass_is_other_pass_and_makes_the_manifest_invalid():
    _other_claims, _, _, other_pages = issue(pass_id="ffffffffffffffffffffffff")
    collected = Manifest(CLAIMS)
    for text in PAGES:
        collected.add(read(text))
    assert collected.add(read(other_pages[2])) == "other_pass"
    assert collected.foreign and collected.code == "MANIFEST_INVALID"
    assert collected.complete  # the pass's own pages are all in; the foreign page is evidence, not a page


def test_a_page_of_another_manifest_under_the_same_pass_id_is_other_pass():
    """Pages signed for the same pass id but other passengers (a different digest) never join the manifest."""
    others = people(45, start=100)
    forged_claims = bus_claims(others)
    assert forged_claims.pass_id == CLAIMS.pass_id
    pages = manifest.encode_pages(forged_claims, others, KEY, per_page=PER_PAGE)
    collected = Manifest(CLAIMS)
    assert collected.add(read(pages[0])) == "other_pass"
    assert collected.missing == (1, 2, 3, 4, 5)


def test_a_forged_page_is_invalid():
    stranger = generate_signing_key()
    forged = manifest.encode_pages(CLAIMS, PASSENGERS, stranger, per_page=PER_PAGE)[0]
    page = read(forged)
    assert (page.valid, page.code, page.detail) == (False, "MANIFEST_INVALID", "PASS_UNKNOWN_KEY")
    collected = Manifest(CLAIMS)
    assert collected.add(page) == "invalid"
    assert collected.forged == [page] and collected.code == "MANIFEST_INVALID"


def test_pages_that_do_not_add_up_make_the_manifest_invalid():
    """Signed by the issuer for this pass and digest, but numbered wrongly: never accepted as the manifest."""
    collected = Manifest(CLAIMS)
    for text in PAGES:
        collected.add(read(text))
    collected.pages[2] = replace(collected.pages[2], first=collected.pages[2].first + 1)
    assert collected.code == "MANIFEST_INVALID"
    with pytest.raises(manifest.ManifestInvalid) as err:
        _ = collected.passengers
    assert err.value.code == "MANIFEST_INVALID"
    collected.pages[2] = replace(read(PAGES[1]), passengers=PASSENGERS[9:17] + PASSENGERS[:1])
    assert collected.code == "MANIFEST_INVALID"


def test_a_freight_pass_has_no_manifest():
    with pytest.raises(ValueError):
        Manifest(make_claims())
    with pytest.raises(ValueError):
        manifest.encode_pages(make_claims(), PASSENGERS, KEY, per_page=PER_PAGE)


@pytest.mark.parametrize(
    "passengers, per_page",
    [
        (PASSENGERS[:-1], PER_PAGE),
        (PASSENGERS[::-1], PER_PAGE),
        (PASSENGERS, 20),
    ],
    ids=["one-missing", "reordered", "other-page-size"],
)
def test_pages_are_signed_only_for_the_passengers_the_pass_names(passengers, per_page):
    with pytest.raises(ValueError):
        manifest.encode_pages(CLAIMS, passengers, KEY, per_page=per_page)


def test_a_passenger_that_would_not_survive_the_wire_is_not_signed():
    bad = (replace(PASSENGERS[0], origin="41150"), *PASSENGERS[1:])
    with pytest.raises(ValueError):
        manifest.encode_pages(bus_claims(bad), bad, KEY, per_page=PER_PAGE)


def test_the_chosen_page_size_puts_45_passengers_on_about_5_pages():
    assert manifest.page_count(45) <= 6 and manifest.page_count(100) <= 13


@pytest.mark.parametrize("count, pages", [(1, 1), (9, 1), (10, 2), (45, 5), (100, 12)])
def test_page_count(count, pages):
    assert manifest.page_count(count, 9) == pages


def test_one_passenger_and_a_hundred():
    for count in (1, 100):
        _claims, passengers, text, pages = issue(count)
        collected = Manifest(trust.verify_pass(text, BUNDLE, now=NOW).claims)
        for page in reversed(pages):
            assert collected.add(read(page)) == "added"
        assert collected.passengers == passengers


def test_a_page_signed_outside_its_keys_validity_or_by_a_retired_key_is_invalid():
    late = make_bundle([issuer(KEY, valid_from=NOW)])  # the pass was issued a day before the key's start
    assert (read(PAGES[0], late).valid, read(PAGES[0], late).detail) == (False, "PASS_UNKNOWN_KEY")
    retired = make_bundle([issuer(KEY, trust.KEY_RETIRED)])
    assert (read(PAGES[0], retired).valid, read(PAGES[0], retired).detail) == (False, "PASS_UNKNOWN_KEY")
    previous = make_bundle([issuer(KEY, trust.KEY_PREVIOUS)])
    assert read(PAGES[0], previous).valid


def test_an_es256_issuer_signs_pages_too():
    key = generate_signing_key("ES256")
    _claims, _passengers, _text, pages = issue(12, key=key)
    bundle = make_bundle([issuer(key)])
    assert all(read(page, bundle).valid for page in pages)


def test_page_readable_masks_and_labels():
    report = read(PAGES[2]).readable()
    assert report["page"] == "3/5" and report["manifest"] == CLAIMS.bus.digest.hex()
    assert report["passengers"][0] == {
        "name": PASSENGERS[18].name,
        "id_number": PASSENGERS[18].id_masked,
        "origin": PASSENGERS[18].origin,
        "travel_history": list(PASSENGERS[18].travel_history),
    }


# --- reasons and policy -------------------------------------------------------------------------------------

CODES = (
    "MANIFEST_VALID",
    "MANIFEST_INVALID",
    "MANIFEST_INCOMPLETE",
    "PASSENGER_ABSENT",
    "QUARANTINE_BY_ENTERPRISE",
    "FEVER_PERSON_HELD",
    "SEAT_LIMIT_EXCEEDED",
    "PRIORITY_BUS",
    "MANIFEST_PAGE_VALID",
)


@pytest.mark.parametrize("code", CODES)
def test_every_bus_reason_has_words_in_both_languages(code):
    english, chinese = reasons.describe(code, "en"), reasons.describe(code, "zh")
    assert english != code and chinese != code and english != chinese


def test_the_bus_knobs_default_and_stay_out_of_the_signed_policy_at_default():
    policy = Policy()
    assert (policy.bus_fever, policy.bus_occupancy_percent, policy.quarantine_confirm_hours) == (
        BUS_FEVER_HOLD_BUS,
        50,
        24,
    )
    signed = policy.to_dict()
    assert not {"bus_fever", "bus_occupancy_percent", "quarantine_confirm_hours"} & signed.keys()
    assert {"bus_fever", "bus_occupancy_percent", "quarantine_confirm_hours"} <= policy.to_dict(
        every_knob=True
    ).keys()
    changed = Policy(
        bus_fever=BUS_FEVER_RELEASE_OTHERS, bus_occupancy_percent=75, quarantine_confirm_hours=48
    )
    assert Policy.from_dict(changed.to_dict()) == changed
    assert changed.to_dict()["bus_fever"] == "RELEASE_OTHERS"


def test_the_seat_limit_rounds_down():
    assert Policy().bus_seat_limit(53) == 26
    assert Policy(bus_occupancy_percent=100).bus_seat_limit(53) == 53
    assert Policy(bus_occupancy_percent=1).bus_seat_limit(53) == 0


@pytest.mark.parametrize(
    "field, value",
    [
        ("bus_fever", "hold-bus"),
        ("bus_fever", None),
        ("bus_occupancy_percent", 0),
        ("bus_occupancy_percent", 101),
        ("bus_occupancy_percent", True),
        ("bus_occupancy_percent", 50.0),
        ("bus_occupancy_percent", "50"),
        ("quarantine_confirm_hours", 0),
        ("quarantine_confirm_hours", 721),
        ("quarantine_confirm_hours", False),
    ],
)
def test_bad_bus_knobs_are_refused(field, value):
    with pytest.raises(InputError) as err:
        Policy.from_dict({field: value})
    assert err.value.code == "POLICY_INVALID"


def test_a_policy_signed_before_the_bus_knobs_reads_the_same():
    before = {k: v for k, v in Policy().to_dict().items()}
    assert Policy.from_dict(before) == Policy()


def test_a_bus_pass_valid_window_is_the_pass_s():
    """A page carries no window of its own: an expired pass's pages still read; the pass decides."""
    assert read(PAGES[0]).valid
    assert manifest.verify_page(PAGES[0], BUNDLE, now=NOW + timedelta(days=400)).valid
