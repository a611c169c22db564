"""The crossing record's keys added in issue 12 (officer, repeat_of, claimed, referral, absent): optional, so an
older device's record stays valid; limited and checked like every other key; personal ones purged."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from decimal import Decimal

import pytest

from passcore import crossing
from passcore.chain import GENESIS, record_hash
from passcore.errors import InputError
from passcore.policy import MISUSE_AS_NO_PASS
from passcore.rules import Occupant
from tests.factories import crew
from tests.unit.test_rules import HARD_HIT, run

CLAIMED = {
    "reason": "PASS_SIGNATURE_INVALID",
    "serial": "320583-000001",
    "plate": "苏EA1234",
    "names": ["张伟", "李娜"],
    "kid": "00" * 8,
    "pass_id": "0123456789abcdef01234567",
}
STRANGER = Occupant("passenger", "赵六", Decimal("36.5"))
CHECKS = dict.fromkeys(crossing.CHECK_KEYS)


def contents(decision=None, occupants=None, **keywords):
    occupants = occupants or crew("36.5", "36.6")
    decision = decision or run(occupants=occupants)
    return crossing.contents(
        decision,
        occupants=occupants,
        verification="PASS_VALID",
        checks=CHECKS,
        vehicle_origin=None,
        **keywords,
    )


def linked(body):
    return crossing.link(body, record_id=str(uuid.uuid4()), seq=1, prev_hash=GENESIS)


def test_a_new_record_writes_every_later_key():
    body = contents()
    assert {key: body[key] for key in crossing.LATER_KEYS} == {
        "officer": None,
        "repeat_of": None,
        "claimed": None,
        "referral": None,
        "absent": ["王强"],  # the pass lists 张伟, 李娜, 王强; two came
        "bus": None,  # issue 14: a bus's manifest and roll call
    }


def test_the_keywords_reach_the_record():
    first = str(uuid.uuid4())
    people = (*crew("38.2", "36.6"),)
    body = contents(
        run(occupants=people),
        occupants=people,
        officer="KS-0042",
        repeat_of=first,
        claimed=CLAIMED,
        referral=" 昆山市第一人民医院发热门诊 ",
    )
    assert (body["officer"], body["repeat_of"], body["referral"]) == (
        "KS-0042",
        first,
        "昆山市第一人民医院发热门诊",
    )
    assert body["claimed"] == CLAIMED
    record = linked(body)
    assert crossing.CrossingRecord.model_validate(record).officer == "KS-0042"


def test_a_record_as_an_older_device_wrote_it_is_valid_and_hashes_as_written():
    record = linked(contents())
    older = {k: v for k, v in record.items() if k not in crossing.LATER_KEYS and k != "hash"}
    older["hash"] = record_hash(older)
    parsed = crossing.CrossingRecord.model_validate(json.loads(json.dumps(older)))
    assert (parsed.officer, parsed.repeat_of, parsed.claimed, parsed.referral, parsed.absent) == (
        None,
        None,
        None,
        None,
        [],
    )
    assert record_hash(older) == older["hash"]


@pytest.mark.parametrize(
    "keywords",
    [
        {"officer": "KS 42"},
        {"officer": "x" * 17},
        {"officer": "警员1"},
        {"repeat_of": "not-a-uuid"},
        {"repeat_of": str(uuid.uuid4()).upper()},
        {"claimed": CLAIMED | {"plate": "x" * 21}},
        {"claimed": CLAIMED | {"serial": "x" * 41}},
        {"claimed": CLAIMED | {"names": ["x" * 51]}},
        {"claimed": CLAIMED | {"names": ["张\u202e伟"]}},
        {"claimed": CLAIMED | {"names": ["某"] * 21}},
        {"claimed": CLAIMED | {"kid": "k" * 65}},
        {"claimed": CLAIMED | {"reason": "forged"}},
        {"claimed": CLAIMED | {"extra": 1}},
        {"claimed": {k: v for k, v in CLAIMED.items() if k != "kid"}},
    ],
    ids=repr,
)
def test_bad_later_keys_are_refused_before_anything_is_stored(keywords):
    with pytest.raises(InputError) as err:
        contents(**keywords)
    assert err.value.code == "RECORD_INVALID"


def test_a_referral_needs_a_medical_hold_and_fits_its_limit():
    with pytest.raises(InputError) as err:
        contents(referral="发热门诊")
    assert err.value.code == "RECORD_INVALID"
    assert contents(referral="  ")["referral"] is None
    people = crew("38.2")
    fever = run(occupants=people)
    assert contents(fever, occupants=people, referral="x" * 100)["referral"] == "x" * 100
    for bad in ("x" * 101, "门诊\u0007"):
        with pytest.raises(InputError):
            contents(fever, occupants=people, referral=bad)


def test_absent_and_claimed_names_are_purged_with_the_rest():
    people = (*crew("36.5"), STRANGER)
    record = linked(contents(run(occupants=people), occupants=people, claimed=CLAIMED, officer="KS-0042"))
    assert record["absent"] == ["李娜", "王强"]
    purged = crossing.anonymise(record, Decimal("37.3"))
    assert purged["absent"] == []
    assert purged["claimed"] == CLAIMED | {"names": []}
    assert purged["officer"] == "KS-0042"  # not personal: the bureau's own staff number
    assert record["claimed"]["names"] == ["张伟", "李娜"]  # the original is left alone
    older = {k: v for k, v in record.items() if k not in crossing.LATER_KEYS}
    assert not set(crossing.LATER_KEYS) & set(crossing.anonymise(older, Decimal("37.3")))


def test_a_misused_pass_judged_as_no_pass_is_recorded():
    decision = run("forged", policy=replace(HARD_HIT, pass_misuse=MISUSE_AS_NO_PASS))
    body = contents(decision, occupants=None, claimed=CLAIMED)
    assert body["outcome"] == "RELEASE"
    assert {"PASS_SIGNATURE_INVALID", "NO_PASS"} <= set(body["reasons"])
