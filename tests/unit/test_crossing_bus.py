"""The crossing record's ``bus`` (issue 14): built from a bus decision, checked, read back for the replay, purged."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal

import pytest

from passcore import bus_rules, crossing, trust, wire
from passcore.bus_rules import RollEntry, decide_bus
from passcore.chain import GENESIS
from passcore.errors import InputError
from passcore.keys import generate_signing_key
from tests.factories import NOW
from tests.unit.test_bus_rules import (
    ARRIVED,
    BUNDLE,
    BUS_CREW,
    HARD_HIT,
    HUBEI,
    KEY,
    PASSENGERS,
    SEEN,
    bus_claims,
    everyone_normal,
    manifest_of,
    pages_of,
    with_temperature,
)


def decided(*, passengers=PASSENGERS, roll=None, pages=None, policy=HARD_HIT, people=BUS_CREW):
    claims = bus_claims(passengers)
    verification = trust.verify_pass(wire.encode(claims, KEY), BUNDLE, now=NOW)
    manifest = manifest_of(claims, pages_of(claims, passengers) if pages is None else pages(claims))
    roll = everyone_normal(len(passengers)) if roll is None else roll
    whole = manifest.code == "MANIFEST_VALID"
    decision = decide_bus(
        verification=verification,
        manifest=manifest,
        observed=SEEN,
        crew=people,
        roll=roll if whole else [],
        policy=policy,
        now=NOW,
        arrived_at=ARRIVED,
        known_enterprises=BUNDLE.enterprises.keys(),
        bundle_version=BUNDLE.version,
    )
    bus = crossing.bus_contents(
        decision, passengers=manifest.passengers if whole else (), roll=roll if whole else ()
    )
    return verification, decision, bus


def record(decision, bus, *, people=BUS_CREW, referral=None, verification="PASS_VALID"):
    body = crossing.contents(
        decision,
        occupants=people,
        verification=verification,
        checks={"identity_confirmed": True, "licence_confirmed": True, "id_last4_matched": None},
        vehicle_origin=None,
        referral=referral,
        bus=bus,
    )
    return crossing.link(body, record_id=str(uuid.uuid4()), seq=1, prev_hash=GENESIS)


def mixed_roll():
    roll = with_temperature(3, "36.9")
    roll[5] = RollEntry(6, False)
    return roll


def test_a_bus_record_keeps_the_manifest_the_wait_and_every_passenger():
    passengers = (PASSENGERS[0], replace(PASSENGERS[1], origin=HUBEI), *PASSENGERS[2:])
    _, decision, bus = decided(passengers=passengers, roll=mixed_roll())
    body = record(decision, bus)
    kept = body["bus"]
    assert kept["manifest"] == decision.manifest and len(kept["manifest"]) == 32
    assert (kept["pages"], kept["seats"]) == (2, 53)
    assert kept["arrived_at"] == ARRIVED.isoformat()
    assert kept["passengers"][1] == {
        "n": 2,
        "name": "工人2",
        "origin": HUBEI,
        "travel_history": ["411502"],
        "aboard": True,
        "temperature_c": None,
        "disposition": "QUARANTINE",
    }
    assert kept["passengers"][2]["temperature_c"] == 36.9
    assert kept["passengers"][5]["aboard"] is False and kept["passengers"][5]["temperature_c"] is None
    assert kept["passengers"][5]["disposition"] == "ABSENT"
    assert [p["role"] for p in body["occupants"]] == ["driver", "manager"]
    assert crossing.read_contents(body).bus is not None
    assert "QUARANTINE_BY_ENTERPRISE" in body["reasons"] and "PRIORITY_BUS" in body["reasons"]


def test_an_incomplete_manifest_keeps_the_bus_without_passengers():
    _, decision, bus = decided(pages=lambda claims: pages_of(claims)[:1])
    body = record(decision, bus)
    assert body["bus"]["manifest"] == "" and body["bus"]["passengers"] == []
    assert body["bus"]["pages"] == 2 and body["outcome"] == "REFUSE"


def test_a_freight_record_has_no_bus_and_an_older_one_none_at_all():
    from tests.unit.test_crossing_later_keys import contents

    body = contents()
    assert body["bus"] is None
    older = {key: value for key, value in body.items() if key != "bus"}
    assert crossing.read_contents(older).bus is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p[0].update(temperature_c=46.0), "passenger 1: temperature 46.0 °C outside"),
        (lambda p: p[1].update(aboard=False), "passenger 2: a passenger not aboard has no temperature"),
        (lambda p: p[2].update(disposition="ABSENT"), "passenger 3: a passenger aboard is not ABSENT"),
        (lambda p: p[3].update(disposition="LEFT"), "passenger 4"),
        (lambda p: p[4].update(origin="42010"), "passenger 5: origin: a six-digit region code"),
        (lambda p: p[5].update(name="工\x00人"), "passenger 6: the name contains control characters"),
        (lambda p: p[6].update(n=9), "numbered 1, 2, 3"),
        (lambda p: p[7].update(temperature_c="36.5"), "passenger 8"),
    ],
)
def test_a_bus_that_does_not_fit_the_record_is_refused_before_it_is_stored(change, message):
    _, decision, bus = decided()
    change(bus["passengers"])
    with pytest.raises(InputError, match=message) as err:
        record(decision, bus)
    assert err.value.code == "RECORD_INVALID"


@pytest.mark.parametrize(
    "change",
    [
        {"manifest": "ABC"},
        {"pages": 51},
        {"seats": -1},
        {"arrived_at": "2026-02-10T08:00:00"},  # no zone
        {"manifest": ""},  # passengers listed without the manifest they are on
        {"extra": 1},
    ],
)
def test_the_bus_keys_are_checked(change):
    _, decision, bus = decided()
    with pytest.raises(InputError) as err:
        record(decision, bus | change)
    assert err.value.code == "RECORD_INVALID"


def test_a_referral_is_kept_when_a_bus_passenger_is_held():
    policy = replace(HARD_HIT, bus_fever="RELEASE_OTHERS")
    _, decision, bus = decided(roll=with_temperature(4, "38.4"), policy=policy)
    assert decision.outcome == "RELEASE" and decision.passengers[3] == "MEDICAL_HOLD"
    body = record(decision, bus, referral="昆山市第一人民医院发热门诊")
    assert body["referral"] == "昆山市第一人民医院发热门诊"
    _, normal, normal_bus = decided()
    with pytest.raises(InputError, match="only with a medical hold"):
        record(normal, normal_bus, referral="昆山市第一人民医院发热门诊")


def test_anonymise_blanks_the_passengers_and_keeps_what_counts():
    _, decision, bus = decided(roll=with_temperature(2, "38.0"))
    body = record(decision, bus)
    purged = crossing.anonymise(body, Decimal("37.3"))
    people = purged["bus"]["passengers"]
    assert {p["name"] for p in people} == {""}
    assert {p["origin"] for p in people} == {None}
    assert {tuple(p["travel_history"]) for p in people} == {()}
    assert {p["temperature_c"] for p in people} == {None}
    assert [p["fever"] for p in people] == [False, True] + [False] * 10
    assert [p["disposition"] for p in people] == list(decision.passengers)
    assert purged["bus"]["manifest"] == body["bus"]["manifest"]
    assert crossing.anonymise(purged, Decimal("37.3")) == purged  # purging twice changes nothing
    assert body["bus"]["passengers"][0]["name"] == "工人1"  # the body itself is left alone


def _replayed(body, verification):
    crew, roll, manifest = crossing.bus_inputs(body, verification.claims)
    return decide_bus(
        verification=verification,
        manifest=manifest,
        observed=crossing.rules_observation(body, verification),
        crew=crew,
        roll=roll,
        policy=HARD_HIT,
        now=NOW,
        arrived_at=ARRIVED,
        known_enterprises=BUNDLE.enterprises.keys(),
        bundle_version=BUNDLE.version,
    )


@pytest.mark.parametrize(
    "case",
    ["normal", "mixed", "fever", "incomplete", "forged", "stranger"],
)
def test_the_replay_rebuilds_the_same_decision_from_the_record(case):
    passengers = (PASSENGERS[0], replace(PASSENGERS[1], origin=HUBEI), *PASSENGERS[2:])
    people = BUS_CREW
    kwargs = {}
    if case == "mixed":
        kwargs = {"roll": mixed_roll()}
    elif case == "fever":
        kwargs = {"roll": with_temperature(7, "39.2")}
    elif case == "incomplete":
        kwargs = {"pages": lambda claims: pages_of(claims, passengers)[1:]}
    elif case == "forged":
        kwargs = {
            "pages": lambda claims: [
                pages_of(claims, passengers)[0],
                pages_of(claims, passengers, key=generate_signing_key())[1],
            ]
        }
    elif case == "stranger":
        people = (*BUS_CREW, bus_rules.Occupant("passenger", "陌生人", Decimal("36.5"), origin=HUBEI))
    verification, decision, bus = decided(passengers=passengers, people=people, **kwargs)
    body = record(decision, bus, people=people)
    again = _replayed(body, verification)
    assert (again.outcome, set(again.reasons)) == (decision.outcome, set(decision.reasons))
    assert again.passengers == decision.passengers


def test_a_record_whose_manifest_is_not_the_passes_replays_as_incomplete():
    verification, decision, bus = decided()
    body = record(decision, bus)
    body["bus"]["manifest"] = "0" * 32
    _, _, manifest = crossing.bus_inputs(body, verification.claims)
    assert manifest is not None and manifest.code == "MANIFEST_INCOMPLETE"
    assert crossing.bus_inputs(body, None)[2] is None


def test_the_crew_may_name_a_manager():
    assert "manager" in crossing.OccupantRecord.model_fields["role"].annotation.__args__
