"""The laptop store finds this device's last decision for a pass within a window (the screen's repeats, issue 12)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from checkpoint_client.store import Store
from tests import factories
from tests.integration.client_helpers import record_scenario

NOW = factories.NOW


@pytest.fixture
def store(tmp_path):
    opened = Store.open(tmp_path / "db" / "checkpoint.sqlite3")
    yield opened
    opened.close()


def scenario(text: str) -> dict:
    return {
        "pass": text,
        "observed": {"plate": "苏E·A1234", "identity_confirmed": True, "licence_confirmed": True},
        "occupants": [{"role": "driver", "name": "张伟", "temperature_c": "36.5"}],
    }


def test_the_newest_decision_for_the_pass_within_the_window(store):
    key = factories.generate_signing_key()
    bundle = factories.make_bundle([factories.issuer(key)])
    text = factories.signed(factories.make_claims(), key)[0]
    other = factories.signed(factories.make_claims(pass_id="cd" * 12), key)[0]
    record_scenario(store, scenario(text), bundle, NOW)
    _, _, second = record_scenario(store, scenario(text), bundle, NOW + timedelta(minutes=5))
    record_scenario(store, scenario(other), bundle, NOW + timedelta(minutes=6))
    pass_id = factories.make_claims().pass_id
    found = store.last_decision_for_pass(pass_id, NOW - timedelta(minutes=1))
    assert found is not None and found.id == second.id and found.seq == 2
    assert store.last_decision_for_pass(pass_id, NOW + timedelta(minutes=5, seconds=1)) is None  # too old
    assert store.last_decision_for_pass("ef" * 12, NOW - timedelta(days=1)) is None  # never seen here


def test_a_vehicle_without_a_pass_is_never_a_repeat(store):
    key = factories.generate_signing_key()
    bundle = factories.make_bundle([factories.issuer(key)])
    no_pass = {
        "observed": {"plate": "浙A·12345"},
        "occupants": [{"role": "driver", "name": "孙磊", "temperature_c": 36.6}],
    }
    record_scenario(store, no_pass, bundle, NOW)
    assert store.last_decision_for_pass("null", NOW - timedelta(days=1)) is None
