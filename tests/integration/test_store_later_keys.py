"""The laptop store passes the record keys added in issue 12 (officer, repeat_of, claimed, referral) through to
the crossing record, inside its hash and chain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from checkpoint_client import station
from checkpoint_client.store import Store
from passcore.errors import InputError
from passcore.evidence import claimed
from tests import factories
from tests.integration.client_helpers import record_scenario

NOW = factories.NOW


@pytest.fixture
def store(tmp_path):
    opened = Store.open(tmp_path / "db" / "checkpoint.sqlite3")
    yield opened
    opened.close()


def test_the_later_keys_are_stored_in_the_chain(store):
    text, key = factories.signed()
    bundle = factories.make_bundle([factories.issuer(key)])
    confirmed = {"plate": "苏E·A1234", "identity_confirmed": True, "licence_confirmed": True}
    fever = [{"role": "driver", "name": "张伟", "temperature_c": 38.4}]
    _, _, first = record_scenario(
        store, {"pass": text, "observed": confirmed, "occupants": fever}, bundle, NOW
    )
    forged = factories.forged(factories.make_claims(), claimed_key=key)
    parsed = station.parse_scenario(
        {
            "pass": forged,
            "observed": {"plate": "苏E·A1234"},
            "occupants": [{"role": "driver", "name": "张伟", "temperature_c": 38.2}],
        }
    )
    verification, decision = station.evaluate(parsed, bundle, now=NOW + timedelta(minutes=3))
    assert decision.outcome == "MEDICAL_HOLD"
    evidence = claimed(forged, verification)
    stored = store.record_decision(
        decision,
        occupants=parsed.occupants,
        verification=verification.code if verification else None,
        checks=dict.fromkeys(("identity_confirmed", "licence_confirmed", "id_last4_matched")),
        vehicle_origin=None,
        officer="KS-0042",
        repeat_of=first.id,
        claimed=evidence,
        referral="昆山市第一人民医院发热门诊",
    )
    record = stored.record
    assert record["officer"] == "KS-0042" and record["repeat_of"] == first.id
    assert record["claimed"]["plate"] == "苏EA1234" and record["claimed"]["names"] == ["张伟", "李娜", "王强"]
    assert record["referral"] == "昆山市第一人民医院发热门诊"
    assert first.record["absent"] == ["李娜", "王强"]
    assert store.verify() == 2


def test_a_bad_officer_number_stores_nothing(store):
    _, key = factories.signed()
    bundle = factories.make_bundle([factories.issuer(key)])
    parsed = station.parse_scenario(
        {
            "observed": {"plate": "浙A·12345"},
            "occupants": [{"role": "driver", "name": "孙磊", "temperature_c": 36.6}],
        }
    )
    _, decision = station.evaluate(parsed, bundle, now=NOW)
    with pytest.raises(InputError) as err:
        store.record_decision(
            decision,
            occupants=parsed.occupants,
            verification=None,
            checks=dict.fromkeys(("identity_confirmed", "licence_confirmed", "id_last4_matched")),
            vehicle_origin=None,
            officer="警员 42",
        )
    assert err.value.code == "RECORD_INVALID"
    assert store.verify() == 0
