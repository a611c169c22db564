"""The pass-misuse knob (refuse | as_no_pass) and who the decision names (unlisted, absent): issue 12, points 3
and 9; docs/design.md "Release rules"."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from passcore.policy import MISUSE_AS_NO_PASS, MISUSE_REFUSE
from passcore.rules import MISUSE_REASONS, Occupant
from tests.factories import CONFIRMED, HUBEI_USCC, USCC, crew
from tests.unit.test_rules import HARD_HIT, run

STRANGER = Occupant("passenger", "赵六", Decimal("36.5"))
# How the pass is misused: the run() keywords that make it so, and the misuse reason it must give.
MISUSES = {
    "forged": ({"kind": "forged"}, "PASS_SIGNATURE_INVALID"),
    "revoked": ({"kind": "revoked"}, "PASS_REVOKED"),
    "plate mismatch": ({"observed": replace(CONFIRMED, plate="苏EB9999")}, "PLATE_MISMATCH"),
    "unlisted occupant": ({"occupants": (*crew("36.5", "36.6"), STRANGER)}, "OCCUPANT_NOT_ON_PASS"),
}
# What else is true of the vehicle: extra run() keywords, and a temperature for the driver.
SITUATIONS = {
    "nothing else": ({}, "36.5"),
    "fever": ({}, "38.2"),
    "hard-hit, no enterprise": ({"vehicle_origin": "420100"}, "36.5"),
    "hard-hit, an enterprise named": ({"vehicle_origin": "420100", "enterprise": HUBEI_USCC}, "36.5"),
}


def expected(knob: str, mandatory: bool, situation: str) -> str:
    if situation == "fever":
        return "MEDICAL_HOLD"
    if knob == MISUSE_REFUSE or mandatory:
        return "REFUSE"
    return {
        "nothing else": "RELEASE",
        "hard-hit, no enterprise": "REFUSE",  # the pass's enterprise does not receive it: nobody does
        "hard-hit, an enterprise named": "ESCORT_REQUIRED",
    }[situation]


def misused(misuse: str, situation: str, policy):
    kwargs, _ = MISUSES[misuse]
    extra, driver_temperature = SITUATIONS[situation]
    kwargs = dict(kwargs)
    occupants = kwargs.pop("occupants", crew("36.5", "36.6"))
    occupants = (replace(occupants[0], temperature_c=Decimal(driver_temperature)), *occupants[1:])
    return run(**kwargs, **extra, occupants=occupants, policy=policy)


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("mandatory", [False, True], ids=["optional", "mandatory"])
@pytest.mark.parametrize("misuse", MISUSES)
@pytest.mark.parametrize("knob", [MISUSE_REFUSE, MISUSE_AS_NO_PASS])
def test_a_misused_pass_under_each_knob(knob, misuse, mandatory, situation):
    policy = replace(HARD_HIT, pass_misuse=knob, pass_mandatory=mandatory)
    decision = misused(misuse, situation, policy)
    assert decision.outcome == expected(knob, mandatory, situation), decision.reasons
    # Either way the misuse stays in the reasons, so the server still raises its alert.
    assert MISUSES[misuse][1] in decision.reasons
    assert decision.misuse
    as_no_pass = knob == MISUSE_AS_NO_PASS
    assert ("NO_PASS" in decision.reasons) is as_no_pass
    assert ("PASS_REQUIRED" in decision.reasons) is (as_no_pass and mandatory)
    if situation.startswith("hard-hit"):
        assert "HARD_HIT_VEHICLE" in decision.reasons
    if as_no_pass:
        # The pass's enterprise does not receive the vehicle; only one the officer named (and the bundle knows).
        assert decision.enterprise == (HUBEI_USCC if situation == "hard-hit, an enterprise named" else None)


def test_refuse_is_the_default_and_leaves_old_decisions_as_they_were():
    decision = misused("plate mismatch", "nothing else", HARD_HIT)
    assert HARD_HIT.pass_misuse == MISUSE_REFUSE
    assert decision.outcome == "REFUSE"
    assert "NO_PASS" not in decision.reasons
    assert decision.enterprise == USCC


@pytest.mark.parametrize("kind", ["valid", "revoked"])
def test_as_no_pass_still_counts_the_route_on_a_signed_pass(kind):
    # The pass's travel history (320500) is hard-hit: judging the vehicle as one without a pass is never laxer.
    policy = replace(HARD_HIT, hard_hit=("320500",), pass_misuse=MISUSE_AS_NO_PASS)
    observed = replace(CONFIRMED, plate="沪A12345")  # a plate mismatch, and a plate from outside the area
    decision = run(kind, observed=observed, policy=policy)
    assert "HARD_HIT_PERSON" in decision.reasons
    assert decision.outcome == "REFUSE"  # hard-hit, and the pass's enterprise does not receive it
    assert "NO_RECEIVING_ENTERPRISE" in decision.reasons


def test_as_no_pass_leaves_expired_and_valid_passes_alone():
    policy = replace(HARD_HIT, pass_misuse=MISUSE_AS_NO_PASS)
    assert run(policy=policy).reasons == run().reasons == ("PASS_VALID",)
    assert run("expired", policy=policy).reasons == run("expired").reasons


def test_a_decision_names_the_unlisted_and_the_absent():
    decision = run(occupants=(*crew("36.5"), STRANGER))
    assert decision.unlisted == (1,)
    assert decision.absent == ("李娜", "王强")
    assert decision.to_dict()["unlisted"] == [1]
    assert decision.to_dict()["absent"] == ["李娜", "王强"]
    assert "OCCUPANT_NOT_ON_PASS" in decision.reasons


def test_names_are_compared_as_the_rules_compare_them():
    people = (Occupant("driver", "张 伟", Decimal("36.5")), Occupant("escort", "李娜", Decimal("36.5")))
    decision = run(occupants=people)
    assert decision.unlisted == ()
    assert decision.absent == ("王强",)
    assert decision.outcome == "RELEASE"


@pytest.mark.parametrize("kind", ["none", "forged", "revoked", "expired"])
def test_only_a_valid_pass_lists_anyone(kind):
    kwargs = {"observed": replace(CONFIRMED, plate="沪A12345")} if kind == "none" else {}
    decision = run(kind, occupants=(*crew("36.5"), STRANGER), **kwargs)
    assert (decision.unlisted, decision.absent) == ((), ())
    assert "OCCUPANT_NOT_ON_PASS" not in decision.reasons


def test_misuse_reasons_are_what_the_knob_acts_on():
    assert {"PLATE_MISMATCH", "OCCUPANT_NOT_ON_PASS", "PASS_REVOKED"} <= MISUSE_REASONS
    assert "PASS_EXPIRED" not in MISUSE_REASONS
