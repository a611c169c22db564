"""The crossing record's canonical form and hash: a golden vector the checkpoint client must reproduce."""

from __future__ import annotations

import math

import pytest

from passcore.chain import GENESIS, canonical, record_hash

RECORD = {
    "id": "6f1c2a9e-3b7d-4c1e-9a51-2d8f0b6e4a17",
    "seq": 1,
    "prev_hash": GENESIS,
    "decided_at": "2026-02-10T16:05:12+08:00",
    "plate": "鄂A12345",
    "pass_id": "0123456789abcdef01234567",
    "enterprise": "91320583MA1XY71231",
    "outcome": "ESCORT_REQUIRED",
    "reasons": ["PASS_VALID", "HARD_HIT_VEHICLE"],
    "policy_version": 2,
    "bundle_version": 14,
    "occupants": [
        {
            "role": "driver",
            "name": "张伟",
            "temperature_c": 36.5,
            "origin": "420100",
            "travel_history": ["420100"],
        },
        {"role": "escort", "name": "李娜", "temperature_c": 36.7, "origin": "320583", "travel_history": []},
    ],
    "vehicle_origin": "420100",
    "verification": "PASS_VALID",
    "checks": {"identity_confirmed": True, "licence_confirmed": True, "id_last4_matched": None},
}
CANONICAL = (
    '{"bundle_version":14,"checks":{"id_last4_matched":null,"identity_confirmed":true,"licence_confirmed":true},'
    '"decided_at":"2026-02-10T16:05:12+08:00","enterprise":"91320583MA1XY71231",'
    '"id":"6f1c2a9e-3b7d-4c1e-9a51-2d8f0b6e4a17","occupants":[{"name":"张伟","origin":"420100","role":"driver",'
    '"temperature_c":36.5,"travel_history":["420100"]},{"name":"李娜","origin":"320583","role":"escort",'
    '"temperature_c":36.7,"travel_history":[]}],"outcome":"ESCORT_REQUIRED","pass_id":"0123456789abcdef01234567",'
    '"plate":"鄂A12345","policy_version":2,"prev_hash":"'
    + GENESIS
    + '","reasons":["PASS_VALID","HARD_HIT_VEHICLE"],'
    '"seq":1,"vehicle_origin":"420100","verification":"PASS_VALID"}'
)
HASH = "ae72ee3d292b484893b915ac1873d141e327f518ddbd3c40ce64947f95938cfb"


def test_golden_vector():
    assert canonical(RECORD).decode() == CANONICAL
    assert record_hash(RECORD) == HASH
    assert record_hash(RECORD | {"hash": HASH}) == HASH  # the hash never covers itself


def test_key_order_does_not_matter_but_every_value_does():
    assert record_hash(dict(reversed(list(RECORD.items())))) == HASH
    assert record_hash(RECORD | {"seq": 2}) != HASH
    assert record_hash(RECORD | {"plate": "鄂A12346"}) != HASH


@pytest.mark.parametrize("bad", [{"t": math.nan}, {"t": math.inf}, {"name": "\ud800"}])
def test_values_without_a_canonical_form_are_refused(bad):
    with pytest.raises(ValueError):
        canonical(bad)
