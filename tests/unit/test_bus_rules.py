"""The bus rules of docs/design.md ("Buses (personnel transport)"), on real signed passes and manifest pages."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from passcore import trust, wire
from passcore.bus_rules import BusDecision, RollEntry, decide_bus, occupancy_limit
from passcore.claims import Bus, Person
from passcore.errors import InputError
from passcore.keys import generate_signing_key
from passcore.manifest import Manifest, Passenger, digest, encode_pages, page_count, verify_page
from passcore.policy import MISUSE_AS_NO_PASS, Policy
from passcore.reasons import ESCORT_REQUIRED, MEDICAL_HOLD, REFUSE, RELEASE
from passcore.rules import Observation, Occupant, decide
from tests.factories import CONFIRMED, NOW, USCC, crew, issuer, make_bundle, make_claims

KEY = generate_signing_key()
HARD_HIT = Policy(hard_hit=("420000",))
BUNDLE = make_bundle([issuer(KEY)], policy=HARD_HIT, revoked=frozenset({"eeeeeeeeeeeeeeeeeeeeeeee"}))
ARRIVED = NOW - timedelta(minutes=4)
MANAGER = Person("赵敏", "320583********5678")
# 12 passengers from Xinyang (411500, Henan); two pages at the default 9 a page.
PASSENGERS = tuple(
    Passenger(f"工人{i}", f"411502********{1000 + i:04d}", "411502", ("411502",)) for i in range(1, 13)
)
HUBEI = "420100"  # 武汉市: covered by the hard-hit 420000


def bus_claims(passengers=PASSENGERS, **changes):
    bus = Bus(
        seats=changes.pop("seats", 53),
        departure="信阳汽车站",
        arrival="昆山汽车南站",
        manager=MANAGER,
        digest=digest(passengers),
        pages=page_count(len(passengers)),
        passengers=len(passengers),
    )
    defaults = {"escorts": (), "bus": bus, "origin": "411500", "travel_history": (), "plate": "苏EB5678"}
    return make_claims(**(defaults | changes))


def pages_of(claims, passengers=PASSENGERS, key=KEY):
    return [verify_page(text, BUNDLE, now=NOW) for text in encode_pages(claims, passengers, key)]


def manifest_of(claims, pages):
    manifest = Manifest(claims)
    for page in pages:
        manifest.add(page)
    return manifest


BUS_CREW = (Occupant("driver", "张伟", Decimal("36.5")), Occupant("manager", "赵敏", Decimal("36.6")))
SEEN = Observation(plate="苏E·B5678", identity_confirmed=True, licence_confirmed=True)


def everyone_normal(n=len(PASSENGERS)):
    return [RollEntry(i, True, None) for i in range(1, n + 1)]


def run(
    *,
    claims=None,
    passengers=PASSENGERS,
    pages=None,
    manifest="full",
    roll=None,
    people=BUS_CREW,
    policy=HARD_HIT,
    observed=SEEN,
    text=None,
    known=None,
) -> BusDecision:
    claims = claims or bus_claims(passengers)
    text = text or wire.encode(claims, KEY)
    verification = trust.verify_pass(text, replace(BUNDLE, policy=policy), now=NOW)
    if manifest == "full":
        manifest = manifest_of(claims, pages if pages is not None else pages_of(claims, passengers))
    return decide_bus(
        verification=verification,
        manifest=manifest,
        observed=observed,
        crew=people,
        roll=roll if roll is not None else everyone_normal(len(passengers)),
        policy=policy,
        now=NOW,
        arrived_at=ARRIVED,
        known_enterprises=BUNDLE.enterprises.keys() if known is None else known,
        bundle_version=BUNDLE.version,
    )


def with_temperature(number, value, n=len(PASSENGERS)):
    roll = everyone_normal(n)
    roll[number - 1] = RollEntry(number, True, Decimal(value))
    return roll


def test_an_all_normal_bus_is_released_in_the_priority_lane_with_its_manifest():
    decision = run()
    assert decision.outcome == RELEASE
    assert set(decision.reasons) == {"PASS_VALID", "MANIFEST_VALID", "PRIORITY_BUS"}
    assert decision.passengers == (RELEASE,) * 12
    assert decision.enterprise == USCC
    assert decision.manifest == digest(PASSENGERS).hex() and decision.pages == 2 and decision.seats == 53
    assert decision.arrived_at == ARRIVED and decision.decided_at == NOW
    assert decision.unlisted == () and decision.absent == ()
    assert decision.to_dict()["passengers"] == ["RELEASE"] * 12


def test_pages_read_in_any_order_decide_the_same():
    claims = bus_claims()
    assert run(pages=list(reversed(pages_of(claims)))).outcome == RELEASE


def test_a_typed_normal_temperature_is_normal():
    assert run(roll=with_temperature(3, "37.2")).passengers == (RELEASE,) * 12


def test_a_passenger_fever_holds_the_whole_bus_by_default():
    decision = run(roll=with_temperature(5, "38.1"))
    assert decision.outcome == MEDICAL_HOLD
    assert "FEVER" in decision.reasons and "FEVER_PERSON_HELD" not in decision.reasons
    assert decision.passengers == (MEDICAL_HOLD,) * 12  # nobody is released
    assert decision.fever == ()  # the crew's fevers; a passenger's is in their disposition


def test_release_others_holds_only_the_fevered_passenger():
    policy = replace(HARD_HIT, bus_fever="RELEASE_OTHERS")
    decision = run(roll=with_temperature(5, "37.3"), policy=policy)  # at the threshold: fever
    assert decision.outcome == RELEASE
    assert {"FEVER", "FEVER_PERSON_HELD"} <= set(decision.reasons)
    assert decision.passengers[4] == MEDICAL_HOLD
    assert decision.passengers[:4] + decision.passengers[5:] == (RELEASE,) * 11


@pytest.mark.parametrize("who", [0, 1])
def test_a_fever_of_the_driver_or_the_manager_always_holds_the_bus(who):
    people = list(BUS_CREW)
    people[who] = replace(people[who], temperature_c=Decimal("38.5"))
    decision = run(people=tuple(people), policy=replace(HARD_HIT, bus_fever="RELEASE_OTHERS"))
    assert decision.outcome == MEDICAL_HOLD
    assert decision.fever == (who,)
    assert "FEVER_PERSON_HELD" not in decision.reasons
    assert decision.passengers == (MEDICAL_HOLD,) * 12


def test_hard_hit_passengers_go_into_their_enterprises_quarantine_received_by_the_manager():
    passengers = list(PASSENGERS)
    passengers[1] = replace(passengers[1], origin=HUBEI)
    passengers[7] = replace(passengers[7], travel_history=("411502", "420102"))
    decision = run(passengers=tuple(passengers))
    assert decision.outcome == RELEASE
    assert {"HARD_HIT_PERSON", "QUARANTINE_BY_ENTERPRISE", "MANIFEST_VALID"} <= set(decision.reasons)
    assert "NO_RECEIVING_ENTERPRISE" not in decision.reasons
    assert decision.enterprise == USCC  # the pass's enterprise receives them: no escort trip
    assert [i for i, d in enumerate(decision.passengers) if d == "QUARANTINE"] == [1, 7]
    assert decision.hard_hit == ("420000",)


def test_an_absent_hard_hit_passenger_is_absent_not_quarantined():
    passengers = list(PASSENGERS)
    passengers[1] = replace(passengers[1], origin=HUBEI)
    roll = everyone_normal()
    roll[1] = RollEntry(2, False)
    decision = run(passengers=tuple(passengers), roll=roll)
    assert decision.outcome == RELEASE
    assert decision.passengers[1] == "ABSENT"
    assert "QUARANTINE_BY_ENTERPRISE" not in decision.reasons and "HARD_HIT_PERSON" not in decision.reasons


def test_a_bus_from_the_hard_hit_area_quarantines_everyone_aboard():
    roll = everyone_normal()
    roll[0] = RollEntry(1, False)
    decision = run(claims=bus_claims(origin="420100"), roll=roll)
    assert decision.outcome == RELEASE
    assert {"HARD_HIT_VEHICLE", "QUARANTINE_BY_ENTERPRISE"} <= set(decision.reasons)
    assert decision.passengers == ("ABSENT",) + ("QUARANTINE",) * 11


def test_a_hard_hit_bus_plate_quarantines_everyone_aboard():
    claims = bus_claims(plate="鄂AB1234")
    decision = run(claims=claims, observed=replace(SEEN, plate="鄂AB1234"))
    assert "HARD_HIT_VEHICLE" in decision.reasons
    assert set(decision.passengers) == {"QUARANTINE"}


def test_a_hard_hit_driver_quarantines_everyone_aboard():
    people = (replace(BUS_CREW[0], origin=HUBEI), BUS_CREW[1])
    decision = run(people=people)
    assert decision.outcome == RELEASE and "HARD_HIT_PERSON" in decision.reasons
    assert set(decision.passengers) == {"QUARANTINE"}


def test_hard_hit_passengers_without_the_manager_aboard_need_the_enterprises_escort():
    passengers = (replace(PASSENGERS[0], origin=HUBEI), *PASSENGERS[1:])
    decision = run(passengers=passengers, people=BUS_CREW[:1])
    assert decision.outcome == ESCORT_REQUIRED
    assert decision.absent == ("赵敏",)
    assert "QUARANTINE_BY_ENTERPRISE" not in decision.reasons
    assert decision.passengers[0] == "QUARANTINE"


@pytest.mark.parametrize("without", [REFUSE, ESCORT_REQUIRED])
def test_hard_hit_passengers_with_an_unknown_enterprise_follow_the_policy(without):
    passengers = (replace(PASSENGERS[0], origin=HUBEI), *PASSENGERS[1:])
    policy = replace(HARD_HIT, hard_hit_without_enterprise=without)
    decision = run(passengers=passengers, known=frozenset(), policy=policy)
    assert decision.outcome == without
    assert "NO_RECEIVING_ENTERPRISE" in decision.reasons and decision.enterprise is None


def test_a_passenger_not_aboard_is_recorded_absent_and_not_refused():
    roll = everyone_normal()
    roll[3] = RollEntry(4, False)
    decision = run(roll=roll)
    assert decision.outcome == RELEASE
    assert "PASSENGER_ABSENT" in decision.reasons
    assert decision.passengers[3] == "ABSENT" and decision.passengers.count("ABSENT") == 1


def test_someone_aboard_not_on_the_manifest_refuses_the_bus():
    stranger = Occupant("passenger", "陌生人", Decimal("36.5"))
    decision = run(people=(*BUS_CREW, stranger))
    assert decision.outcome == REFUSE
    assert "OCCUPANT_NOT_ON_PASS" in decision.reasons and decision.misuse
    assert decision.unlisted == (2,)
    assert decision.passengers == (REFUSE,) * 12


def test_a_stranger_named_like_the_manager_is_still_not_on_the_manifest():
    twin = Occupant("passenger", "赵敏", Decimal("36.5"))
    decision = run(people=(*BUS_CREW, twin))
    assert decision.outcome == REFUSE and decision.unlisted == (2,)


def test_an_escort_on_a_bus_is_not_on_its_pass():
    decision = run(people=(*BUS_CREW, Occupant("escort", "李娜", Decimal("36.5"))))
    assert decision.outcome == REFUSE and "OCCUPANT_NOT_ON_PASS" in decision.reasons


def test_seat_limit_counts_the_passengers_aboard_and_the_manager():
    # 12 passengers + the manager = 13; 26 seats at 50 % allow 13, 25 seats allow 12.
    assert occupancy_limit(26, HARD_HIT) == 13 and occupancy_limit(25, HARD_HIT) == 12
    assert run(claims=bus_claims(seats=26)).outcome == RELEASE
    decision = run(claims=bus_claims(seats=25))
    assert decision.outcome == REFUSE and "SEAT_LIMIT_EXCEEDED" in decision.reasons
    assert not decision.misuse
    roll = everyone_normal()
    roll[0] = RollEntry(1, False)
    assert run(claims=bus_claims(seats=25), roll=roll).outcome == RELEASE  # one fewer aboard fits
    assert (
        run(claims=bus_claims(seats=25), policy=replace(HARD_HIT, bus_occupancy_percent=60)).outcome
        == RELEASE
    )


def test_a_missing_page_refuses_the_bus_without_calling_it_misuse():
    claims = bus_claims()
    decision = run(claims=claims, pages=pages_of(claims)[:1], roll=[])
    assert decision.outcome == REFUSE
    assert "MANIFEST_INCOMPLETE" in decision.reasons and not decision.misuse
    assert decision.passengers == () and decision.manifest == "" and decision.pages == 2


def test_no_manifest_at_all_refuses_the_bus():
    decision = run(manifest=None, roll=[])
    assert decision.outcome == REFUSE and "MANIFEST_INCOMPLETE" in decision.reasons


def test_a_roll_against_an_incomplete_manifest_is_moot():
    claims = bus_claims()
    decision = run(claims=claims, pages=pages_of(claims)[:1], roll=everyone_normal())
    assert decision.outcome == REFUSE and decision.passengers == ()


def test_a_forged_page_is_misuse():
    claims = bus_claims()
    forged = pages_of(claims, key=generate_signing_key())  # signed by a key the bundle does not know
    decision = run(claims=claims, pages=[pages_of(claims)[0], forged[1]])
    assert decision.outcome == REFUSE
    assert "MANIFEST_INVALID" in decision.reasons and decision.misuse
    assert decision.passengers == ()


def test_a_page_of_another_pass_is_misuse():
    claims = bus_claims()
    other = bus_claims(pass_id="abcdefabcdefabcdefabcdef")
    decision = run(claims=claims, pages=[pages_of(claims)[0], pages_of(other)[1], pages_of(claims)[1]])
    assert "MANIFEST_INVALID" in decision.reasons and decision.outcome == REFUSE


def test_a_manifest_collected_for_another_pass_is_misuse():
    other = bus_claims(pass_id="abcdefabcdefabcdefabcdef")
    decision = run(manifest=manifest_of(other, pages_of(other)))
    assert "MANIFEST_INVALID" in decision.reasons and decision.outcome == REFUSE


def test_a_fever_outranks_an_incomplete_manifest():
    claims = bus_claims()
    people = (replace(BUS_CREW[0], temperature_c=Decimal("39.0")), BUS_CREW[1])
    decision = run(claims=claims, pages=pages_of(claims)[:1], roll=[], people=people)
    assert decision.outcome == MEDICAL_HOLD


def test_as_no_pass_judges_a_misused_bus_pass_as_none():
    policy = replace(HARD_HIT, pass_misuse=MISUSE_AS_NO_PASS)
    plate_wrong = replace(SEEN, plate="苏E·C0000")
    decision = run(observed=plate_wrong, policy=policy)
    assert decision.outcome == RELEASE  # passes not mandatory: a bus without a pass, everyone normal
    assert {"PLATE_MISMATCH", "NO_PASS", "MANIFEST_VALID"} <= set(decision.reasons) and decision.misuse
    # Its enterprise does not receive anyone: hard-hit passengers have no receiver.
    passengers = (replace(PASSENGERS[0], origin=HUBEI), *PASSENGERS[1:])
    decision = run(passengers=passengers, observed=plate_wrong, policy=policy)
    assert decision.outcome == REFUSE and "NO_RECEIVING_ENTERPRISE" in decision.reasons
    assert "QUARANTINE_BY_ENTERPRISE" not in decision.reasons
    # Passes mandatory: refused as a vehicle without one.
    mandatory = replace(policy, pass_mandatory=True)
    assert run(observed=plate_wrong, policy=mandatory).outcome == REFUSE


def test_as_no_pass_still_refuses_a_forged_manifest():
    claims = bus_claims()
    forged = pages_of(claims, key=generate_signing_key())
    policy = replace(HARD_HIT, pass_misuse=MISUSE_AS_NO_PASS)
    decision = run(claims=claims, pages=[pages_of(claims)[0], forged[1]], policy=policy)
    assert decision.outcome == REFUSE and "MANIFEST_INVALID" in decision.reasons


def test_a_revoked_bus_pass_is_refused():
    claims = bus_claims(pass_id="eeeeeeeeeeeeeeeeeeeeeeee")
    decision = run(claims=claims)
    assert decision.outcome == REFUSE and "PASS_REVOKED" in decision.reasons
    assert set(decision.passengers) == {REFUSE}


def test_no_pass_at_all_refuses_for_want_of_a_manifest():
    decision = decide_bus(
        verification=None,
        manifest=None,
        observed=SEEN,
        crew=BUS_CREW[:1],
        roll=[],
        policy=HARD_HIT,
        now=NOW,
        arrived_at=ARRIVED,
    )
    assert decision.outcome == REFUSE
    assert {"NO_PASS", "MANIFEST_INCOMPLETE", "PRIORITY_BUS"} <= set(decision.reasons)
    assert decision.pages == 0 and decision.seats == 0


@pytest.mark.parametrize(
    ("roll", "code"),
    [
        (with_temperature(2, "45.0"), "TEMPERATURE_IMPLAUSIBLE"),
        (with_temperature(2, "33.9"), "TEMPERATURE_IMPLAUSIBLE"),
        (everyone_normal(11), "ROLL_INVALID"),
        (everyone_normal(13), "ROLL_INVALID"),
        ([RollEntry(2, True), *everyone_normal()[1:]], "ROLL_INVALID"),
        ([RollEntry(1, False, Decimal("36.5")), *everyone_normal()[1:]], "ROLL_INVALID"),
    ],
)
def test_a_roll_that_does_not_fit_is_an_input_error(roll, code):
    with pytest.raises(InputError) as err:
        run(roll=roll)
    assert err.value.code == code


def test_an_implausible_passenger_temperature_names_the_passenger():
    with pytest.raises(InputError, match=r"passenger 2 \(工人2\)"):
        run(roll=with_temperature(2, "50"))


@pytest.mark.parametrize("typed", ["381", 381])
def test_a_temperature_typed_without_its_point_says_what_to_type(typed):
    """381 is not taken for 38.1 (the rules never guess), but the error names what to type."""
    with pytest.raises(InputError, match=r"381 °C is implausible .*; for 38\.1 °C type 38\.1$") as err:
        run(roll=with_temperature(2, typed))
    assert err.value.code == "TEMPERATURE_IMPLAUSIBLE"
    with pytest.raises(InputError) as far:
        run(roll=with_temperature(2, "50"))  # 5.0 is no temperature either: no hint
    assert "type" not in str(far.value)


@pytest.mark.parametrize(
    ("people", "code"),
    [
        ((), "OCCUPANTS_MISSING"),
        ((BUS_CREW[1],), "OCCUPANTS_INVALID"),  # no driver
        ((*BUS_CREW, BUS_CREW[1]), "OCCUPANTS_INVALID"),  # two managers
        ((BUS_CREW[0], replace(BUS_CREW[1], temperature_c=None)), "TEMPERATURE_MISSING"),
        ((BUS_CREW[0], replace(BUS_CREW[1], role="conductor")), "OCCUPANTS_INVALID"),
    ],
)
def test_crew_roles_and_temperatures_are_checked(people, code):
    with pytest.raises(InputError) as err:
        run(people=people)
    assert err.value.code == code


def test_the_manager_is_on_the_pass_and_a_stranger_as_manager_is_not():
    assert run().unlisted == ()
    decision = run(people=(BUS_CREW[0], Occupant("manager", "冒名者", Decimal("36.5"))))
    assert decision.outcome == REFUSE and "OCCUPANT_NOT_ON_PASS" in decision.reasons
    assert decision.absent == ("赵敏",)


def test_freight_decisions_do_not_know_the_bus_reasons():
    from passcore.trust import verify_pass
    from tests.factories import signed

    text, key = signed(make_claims())
    bundle = make_bundle([issuer(key)])
    decision = decide(
        verification=verify_pass(text, bundle, now=NOW),
        observed=CONFIRMED,
        occupants=crew("36.5", "36.6", "36.4"),
        policy=HARD_HIT,
        now=NOW,
    )
    assert decision.outcome == RELEASE and decision.reasons == ("PASS_VALID",)


def test_an_expired_bus_pass_is_a_bus_without_a_pass_whose_manifest_still_names_everyone():
    claims = bus_claims(valid_until=NOW - timedelta(hours=1))
    decision = run(claims=claims)
    assert decision.outcome == RELEASE  # passes not mandatory
    assert {"PASS_EXPIRED", "NO_PASS", "MANIFEST_VALID"} <= set(decision.reasons)
    assert decision.passengers == (RELEASE,) * 12 and decision.enterprise is None
    mandatory = replace(HARD_HIT, pass_mandatory=True)
    assert run(claims=claims, policy=mandatory).outcome == REFUSE
