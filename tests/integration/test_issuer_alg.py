"""CHECKPASS_ISSUER_ALG: the bureau's new issuer keys may be ES256; the root stays EdDSA; every pass verifies.

The algorithm belongs to the key: a pass says it in its protected header, the bundle says it for each issuer key,
and a bureau that changes the setting keeps verifying (and replaying) the passes of its older keys.
"""

from __future__ import annotations

from datetime import UTC, datetime

import cbor2
import pytest
from sqlmodel import Session

from passcore import trust, wire
from passcore.errors import InputError
from passcore.keys import ALG_IDS
from server import db
from server.alerts.replay import replay_crossing
from server.config import get_settings
from server.crossings.models import Crossing
from server.keyring import service as keyring
from server.keyring.models import ROLE_ISSUER, ROLE_ROOT
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import ago, decided, issue_pass, publish, scenario
from tests.integration.checkpoint_devices import make_checkpoint

device_factory = checkpoint_devices.device_factory


@pytest.fixture
def app_settings(tmp_path, database_url):
    return get_settings(home=tmp_path, database_url=database_url, issuer_alg="ES256")


def alg_header(qr_text: str) -> int:
    return wire.decode(qr_text).protected[1]


def test_the_setting_reads_the_environment_and_refuses_other_algorithms(monkeypatch, tmp_path):
    assert get_settings(home=tmp_path).issuer_alg == "EdDSA"
    monkeypatch.setenv("CHECKPASS_ISSUER_ALG", "ES256")
    assert get_settings(home=tmp_path).issuer_alg == "ES256"
    for wrong in ("RS256", "PS256", "es256", ""):
        with pytest.raises(InputError) as err:
            get_settings(home=tmp_path, issuer_alg=wrong)
        assert err.value.code == "KEY_INVALID"


def test_new_issuer_keys_take_the_configured_algorithm_and_the_root_stays_eddsa(app):
    settings = app.state.settings
    with Session(app.state.engine) as session:
        algs = {(k.role, k.alg) for k in keyring.list_keys(session)}
        assert algs == {(ROLE_ROOT, "EdDSA"), (ROLE_ISSUER, "ES256")}
        assert keyring.active_issuer(session=session, settings=settings).alg == "ES256"
    assert keyring.load_root(settings).alg == trust.ROOT_ALG == "EdDSA"


def test_an_es256_pass_verifies_at_a_checkpoint_and_replays_on_the_server(app, device_factory):
    _, qr = issue_pass(app)
    assert alg_header(qr) == ALG_IDS["ES256"]
    bundle = publish(app)  # signed by the EdDSA root, announcing the ES256 issuer key
    assert [key.public.alg for key in bundle.issuers] == ["ES256"]
    assert trust.verify_pass(qr, bundle, now=datetime.now(UTC)).valid

    device = device_factory(make_checkpoint(app))
    record = decided(device, scenario(qr), bundle, ago(minutes=5))
    assert record["outcome"] == "RELEASE"
    assert device.upload(record).json()["accepted"] == 1
    with Session(app.state.engine) as session:
        replayed = replay_crossing(session, session.get(Crossing, record["id"]))
    assert replayed.matches and replayed.outcome == "RELEASE"


def test_after_switching_back_to_eddsa_the_es256_keys_passes_still_verify(app):
    _, es256_pass = issue_pass(app)
    eddsa_settings = app.state.settings.model_copy(update={"issuer_alg": "EdDSA"})
    with db.session_scope(app.state.engine) as session:
        keyring.rotate(session=session, settings=eddsa_settings, now=datetime.now(UTC))
    _, eddsa_pass = issue_pass(app)  # issue_pass reads the key file: an ES256 setting does not matter to it
    assert (alg_header(es256_pass), alg_header(eddsa_pass)) == (ALG_IDS["ES256"], ALG_IDS["EdDSA"])

    bundle = publish(app)
    assert sorted((key.public.alg, key.status) for key in bundle.issuers) == [
        ("ES256", trust.KEY_PREVIOUS),
        ("EdDSA", trust.KEY_ACTIVE),
    ]
    now = datetime.now(UTC)
    assert all(trust.verify_pass(text, bundle, now=now).valid for text in (es256_pass, eddsa_pass))
    signature = cbor2.loads(wire.inflate(wire.b45decode(es256_pass[len(wire.PREFIX) :]))).value[3]
    assert len(signature) == 64  # r || s, not DER
