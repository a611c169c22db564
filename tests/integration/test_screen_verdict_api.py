"""The screen's verdict through its HTTP calls (issue 12, points 2, 3, 7 and 9): repeats within the policy's window
and the re-measure linked to the first decision, the fever's referral, unlisted and absent people named, what a
forged pass claimed kept as evidence, and the policy on misuse shown. Real local store (SQLite) and signed bundle."""

from __future__ import annotations

from datetime import timedelta

from passcore.policy import Policy
from tests import factories
from tests.integration.screen_helpers import CHECKED, crew, make_screen, two_person_pass

__all__ = ["make_screen"]  # the fixture, imported for pytest

HOSPITALS = ("昆山市第一人民医院发热门诊", "昆山市中医医院发热门诊")


def refuse(screen, text: str) -> dict:
    vehicle = screen.scan(text)
    status, result = screen.decide(
        vehicle["id"], occupants=crew("36.5", "36.6"), **CHECKED | {"licence_confirmed": False}
    )
    assert (status, result["outcome"]) == (200, "REFUSE")
    return result


def test_a_pass_decided_here_within_the_window_is_a_repeat_and_its_remeasure_is_linked(
    make_screen, issuer_key
):
    screen = make_screen(policy=Policy(repeat_window_minutes=15))
    text = two_person_pass(issuer_key)
    first = refuse(screen, text)
    screen.clock[0] += timedelta(minutes=14)
    again = screen.scan(text)
    repeat = again["repeat"]
    assert (repeat["id"], repeat["outcome"], repeat["plate"]) == (
        first["crossing"]["id"],
        "REFUSE",
        "苏E·A1234",
    )
    assert "LICENCE_MISMATCH" in repeat["reasons"] and repeat["decided_at"] == "16:00"  # local time (+08:00)
    status, result = screen.decide(again["id"], occupants=crew("36.5", "36.6"), **CHECKED)
    assert (status, result["outcome"], result["repeat_of"]) == (200, "RELEASE", first["crossing"]["id"])
    newest, earlier = screen.store.recent(2)
    assert newest.record["repeat_of"] == earlier.id == first["crossing"]["id"]
    assert earlier.record["repeat_of"] is None


def test_after_the_window_the_pass_is_a_new_vehicle(make_screen, issuer_key):
    screen = make_screen(policy=Policy(repeat_window_minutes=15))
    text = two_person_pass(issuer_key)
    refuse(screen, text)
    screen.clock[0] += timedelta(minutes=15, seconds=1)
    vehicle = screen.scan(text)
    assert vehicle["repeat"] is None
    status, result = screen.decide(vehicle["id"], occupants=crew("36.5", "36.6"), **CHECKED)
    assert (status, result["repeat_of"]) == (200, None)


def test_another_pass_is_not_a_repeat(make_screen, issuer_key):
    screen = make_screen()
    refuse(screen, two_person_pass(issuer_key))
    other = factories.signed(factories.make_claims(pass_id="cd" * 12), issuer_key)[0]
    assert screen.scan(other)["repeat"] is None


def test_a_fever_names_who_and_the_value_and_the_referral_is_required_from_the_policy(
    make_screen, issuer_key
):
    screen = make_screen(policy=Policy(fever_referrals=HOSPITALS))
    vehicle = screen.scan(two_person_pass(issuer_key))
    people = crew("36.5", "38.2")
    status, error = screen.decide(vehicle["id"], occupants=people, **CHECKED)
    assert (status, error["code"], error["field"]) == (422, "REFERRAL_NEEDED", "referral")
    status, error = screen.decide(vehicle["id"], occupants=people, referral="别的医院", **CHECKED)
    assert (status, error["code"]) == (422, "REFERRAL_NEEDED")  # only the policy's places
    assert screen.store.recent() == []  # nothing recorded
    status, result = screen.decide(vehicle["id"], occupants=people, referral=HOSPITALS[1], **CHECKED)
    assert (status, result["outcome"]) == (200, "MEDICAL_HOLD")
    assert result["fever_people"] == [{"name": "李娜", "temperature_c": "38.2"}]
    assert result["referral"] == HOSPITALS[1] == screen.store.recent(1)[0].record["referral"]


def test_without_places_in_the_policy_the_referral_is_free_and_optional(make_screen, issuer_key):
    screen = make_screen()
    vehicle = screen.scan(two_person_pass(issuer_key))
    status, error = screen.decide(
        vehicle["id"], occupants=crew("38.5", "36.6"), referral="A\u202eB", **CHECKED
    )
    assert (status, error["code"], error["field"]) == (422, "REFERRAL_INVALID", "referral")
    status, result = screen.decide(vehicle["id"], occupants=crew("38.5", "36.6"), referral="  ", **CHECKED)
    assert (status, result["outcome"], result["referral"]) == (200, "MEDICAL_HOLD", None)


def test_a_referral_is_kept_only_with_a_medical_hold(make_screen, issuer_key):
    screen = make_screen()
    vehicle = screen.scan(two_person_pass(issuer_key))
    status, result = screen.decide(vehicle["id"], occupants=crew("36.5", "36.6"), referral="医院", **CHECKED)
    assert (status, result["outcome"], result["referral"]) == (200, "RELEASE", None)
    assert screen.store.recent(1)[0].record["referral"] is None


def test_unlisted_and_absent_people_are_named_in_the_outcome_and_the_record(make_screen, issuer_key):
    screen = make_screen()
    vehicle = screen.scan(factories.signed(factories.make_claims(), issuer_key)[0])  # 张伟, 李娜, 王强
    people = [*crew("36.5", "36.6"), {"role": "passenger", "name": "陌生人", "temperature": "36.7"}]
    status, result = screen.decide(vehicle["id"], occupants=people, **CHECKED)
    assert (status, result["outcome"]) == (200, "REFUSE")
    assert (result["unlisted"], result["absent"]) == (["陌生人"], ["王强"])
    assert screen.store.recent(1)[0].record["absent"] == ["王强"]


def test_a_forged_pass_shows_and_keeps_what_it_claimed_untrusted(make_screen, issuer_key):
    screen = make_screen()
    forged = factories.forged(factories.make_claims(serial="320583-666666"), claimed_key=issuer_key)
    vehicle = screen.scan(forged)
    assert vehicle["claims"] is None and vehicle["misuse"]
    claimed = vehicle["claimed"]
    assert (claimed["serial"], claimed["plate"]) == ("320583-666666", "苏EA1234")
    assert "张伟" in claimed["names"] and vehicle["repeat"] is None
    status, result = screen.decide(
        vehicle["id"],
        plate="苏E·B9999",
        occupants=[{"role": "driver", "name": "赵六", "temperature": "36.5"}],
    )
    assert (status, result["outcome"]) == (200, "REFUSE")
    record = screen.store.recent(1)[0].record
    assert (
        record["claimed"]["serial"] == "320583-666666"
        and record["claimed"]["reason"] == record["verification"]
    )
    assert record["pass_id"] is None  # what it claimed is evidence, not a pass this checkpoint saw


def test_a_valid_pass_keeps_no_claimed_evidence(make_screen, issuer_key):
    screen = make_screen()
    vehicle = screen.scan(two_person_pass(issuer_key))
    assert vehicle["claimed"] is None
    screen.decide(vehicle["id"], occupants=crew("36.5", "36.6"), **CHECKED)
    assert screen.store.recent(1)[0].record["claimed"] is None


def test_the_page_is_told_the_policy_on_misuse_and_the_referral_places(make_screen):
    screen = make_screen(policy=Policy(pass_misuse="as_no_pass", fever_referrals=HOSPITALS))
    policy = screen.client.get("/api/overview").json()["policy"]
    assert (policy["pass_misuse"], policy["fever_referrals"]) == ("as_no_pass", list(HOSPITALS))
    assert policy["repeat_window_minutes"] == 15


def test_a_decision_takes_its_passs_draft_with_it_even_if_the_page_never_deletes_it(make_screen, issuer_key):
    # The page deletes the draft after the outcome; a page or program that dies in between must not leave the old
    # values to come back on a re-measure of the same pass.
    screen = make_screen(policy=Policy(repeat_window_minutes=15))
    vehicle = screen.scan(two_person_pass(issuer_key))
    key = f"pass:{vehicle['claims']['pass_id']}"
    form = {"people": [{"role": "driver", "name": "", "temperature": "39.1", "origin": "", "fixed": True}]}
    assert screen.client.put("/api/drafts", json={"key": key, "form": form}).status_code == 200
    status, _ = screen.decide(vehicle["id"], occupants=crew("36.5", "36.6"), **CHECKED)
    assert status == 200
    assert screen.client.get("/api/drafts", params={"key": key}).json()["form"] is None
