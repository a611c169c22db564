"""Decision replay: a stored crossing's decision recomputed from its recorded inputs under the policy and trust
bundle versions it was made with (real passes, real signed bundles, both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from server.alerts import facts
from server.alerts import replay as replay_mod
from server.alerts.replay import ReplayContext, replay_crossing
from server.alerts.rules import DECISION_DIFFERS
from server.crossings.models import Crossing
from server.passes.models import IssuedPass
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import (
    CREW,
    ago,
    alerts_of,
    change_policy,
    decided,
    detail,
    issue_pass,
    publish,
    revoke,
    scenario,
)
from tests.integration.checkpoint_devices import make_checkpoint

device_factory = checkpoint_devices.device_factory

HUBEI_NO_PASS = scenario(
    plate="鄂A·77889",
    vehicle_origin="420100",
    enterprise="91320583MA1XY71231",
    occupants=[{"role": "driver", "name": "周强", "temperature_c": 36.6, "origin": "420100"}],
)


@pytest.fixture
def device(app, device_factory):
    return device_factory(make_checkpoint(app))


def replayed(app, crossing_id: str):
    with Session(app.state.engine) as session:
        return replay_crossing(session, session.get(Crossing, crossing_id))


def upload(device, *records):
    response = device.upload(*records)
    assert response.json()["accepted"] == len(records), response.text
    return records


def test_records_made_under_an_older_policy_replay_to_the_same_outcome_after_it_changed(app, device):
    _, qr = issue_pass(app)
    old = publish(app)
    fever_before = decided(
        device, scenario(qr, occupants=[CREW[0] | {"temperature_c": 37.2}]), old, ago(hours=2)
    )
    hubei_before = decided(device, HUBEI_NO_PASS, old, ago(hours=2) + timedelta(minutes=1))
    upload(device, fever_before, hubei_before)
    assert (fever_before["outcome"], hubei_before["outcome"]) == ("RELEASE", "RELEASE")

    # Overnight the rules change: Hubei becomes hard-hit and the fever threshold drops to 37.0 °C.
    new = change_policy(app, hard_hit="420000", fever_threshold_c="37.0")
    assert new.policy.version == old.policy.version + 1 and new.version > old.version
    fever_after = decided(
        device, scenario(qr, occupants=[CREW[0] | {"temperature_c": 37.2}]), new, ago(minutes=5)
    )
    hubei_after = decided(device, HUBEI_NO_PASS, new, ago(minutes=4))
    upload(device, fever_after, hubei_after)
    assert (fever_after["outcome"], hubei_after["outcome"]) == ("MEDICAL_HOLD", "ESCORT_REQUIRED")

    for record in (fever_before, hubei_before, fever_after, hubei_after):
        result = replayed(app, record["id"])
        assert result.matches, (record["outcome"], result)
        assert result.outcome == record["outcome"] and set(result.reasons) == set(record["reasons"])
        assert (result.policy_version, result.bundle_version) == (
            record["policy_version"],
            record["bundle_version"],
        )
    assert alerts_of(app, DECISION_DIFFERS) == []


def test_an_upload_whose_outcome_differs_from_the_replay_raises_an_alert(app, device):
    bundle = change_policy(app, hard_hit="420000")
    honest = decided(device, HUBEI_NO_PASS, bundle, ago(minutes=30))
    # A checkpoint that let the Hubei vehicle through: the record is hashed and chained, only the decision is wrong.
    lenient = decided(device, HUBEI_NO_PASS, bundle, ago(minutes=20), outcome="RELEASE", reasons=["NO_PASS"])
    upload(device, honest, lenient)
    result = replayed(app, lenient["id"])
    assert not result.matches and result.detail == "OUTCOME_DIFFERS" and result.outcome == "ESCORT_REQUIRED"
    (alert,) = alerts_of(app, DECISION_DIFFERS)
    assert alert.crossing_id == lenient["id"] and alert.device_id == device.device_id
    assert detail(alert) == {
        "problem": "OUTCOME_DIFFERS",
        "uploaded": {"outcome": "RELEASE", "reasons": ["NO_PASS"]},
        "replayed": {"outcome": "ESCORT_REQUIRED", "reasons": list(result.reasons)},
    }
    # Sending it again changes nothing: the finding is raised once.
    assert device.upload(lenient).json()["duplicate"] == 1
    assert len(alerts_of(app, DECISION_DIFFERS)) == 1


def test_same_outcome_with_other_reasons_is_reported_too(app, device):
    bundle = publish(app)
    record = decided(device, scenario(), bundle, ago(minutes=3), reasons=["NO_PASS", "FEVER"])
    upload(device, record)
    assert replayed(app, record["id"]).detail == "REASONS_DIFFER"
    assert detail(alerts_of(app, DECISION_DIFFERS)[0])["problem"] == "REASONS_DIFFER"


def test_a_revocation_counts_only_from_the_bundle_that_listed_it(app, device):
    pass_id, qr = issue_pass(app)
    before = publish(app)
    revoke(app, pass_id)
    after = publish(app)
    assert pass_id in after.revoked and pass_id not in before.revoked
    stale = decided(device, scenario(qr), before, ago(minutes=3))  # the device had not synced yet
    current = decided(device, scenario(qr), after, ago(minutes=2))
    ignored = decided(
        device,
        scenario(qr),
        after,
        ago(minutes=1),
        outcome="RELEASE",
        reasons=["PASS_VALID"],
        verification="PASS_VALID",
    )
    upload(device, stale, current, ignored)
    assert (stale["outcome"], current["outcome"]) == ("RELEASE", "REFUSE")
    assert replayed(app, stale["id"]).matches and replayed(app, current["id"]).matches
    wrong = replayed(app, ignored["id"])
    assert not wrong.matches and wrong.verification == "PASS_REVOKED" and wrong.outcome == "REFUSE"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"bundle_version": 999}, "BUNDLE_UNKNOWN"),
        ({"policy_version": 7}, "POLICY_NOT_BUNDLED"),
        ({"pass_id": "ffffffffffffffffffffffff", "verification": "PASS_VALID"}, "PASS_NOT_ISSUED"),
        (
            {"checks": {"identity_confirmed": None, "licence_confirmed": None, "id_last4_matched": None}},
            "INPUT_INCOMPLETE",
        ),
    ],
)
def test_records_that_cannot_be_replayed_as_claimed_are_findings(app, device, changes, problem):
    _, qr = issue_pass(app)
    bundle = publish(app)
    record = decided(device, scenario(qr), bundle, ago(minutes=3), **changes)
    upload(device, record)
    result = replayed(app, record["id"])
    assert not result.matches and result.replayable and result.detail == problem
    assert detail(alerts_of(app, DECISION_DIFFERS)[0])["problem"] == problem


def test_a_forged_pass_replays_from_its_recorded_verification(app, device):
    from server.demo.seed import forge_pass
    from tests.factories import make_claims

    bundle = publish(app)
    forged = forge_pass(make_claims(), claimed_kid=bundle.issuers[0].kid)
    record = decided(device, scenario(forged), bundle, ago(minutes=3))
    upload(device, record)
    assert record["verification"] == "PASS_SIGNATURE_INVALID" and record["pass_id"] is None
    result = replayed(app, record["id"])
    assert result.matches and result.outcome == "REFUSE"


def test_typed_id_digits_are_replayed_from_whether_they_matched(app, device):
    _, qr = issue_pass(app)
    bundle = change_policy(app, identity_check="id_last4")
    typed = scenario(qr) | {"observed": {"plate": "苏E·A1234", "licence_confirmed": True, "id_last4": "1234"}}
    wrong = scenario(qr) | {"observed": {"plate": "苏E·A1234", "licence_confirmed": True, "id_last4": "9999"}}
    right_record = decided(
        device,
        typed,
        bundle,
        ago(minutes=3),
        checks={"identity_confirmed": None, "licence_confirmed": True, "id_last4_matched": True},
    )
    wrong_record = decided(
        device,
        wrong,
        bundle,
        ago(minutes=2),
        checks={"identity_confirmed": None, "licence_confirmed": True, "id_last4_matched": False},
    )
    upload(device, right_record, wrong_record)
    assert (right_record["outcome"], wrong_record["outcome"]) == ("RELEASE", "REFUSE")
    assert replayed(app, right_record["id"]).matches and replayed(app, wrong_record["id"]).matches


def test_bundles_are_loaded_once_per_version(app, device):
    bundle = publish(app)
    upload(device, *(decided(device, scenario(), bundle, ago(minutes=10 - i)) for i in range(3)))
    assert any(version == bundle.version for version, _ in replay_mod._BUNDLE_CACHE)


def test_a_pass_purged_after_retention_is_not_replayed_as_a_malformed_one(app, device):
    # Retention blanks an expired pass's QR text (it names people); a crossing that still points at it cannot be
    # verified again, which is not a finding.
    pass_id, qr = issue_pass(app)
    record = decided(device, scenario(qr), publish(app), ago(minutes=3))
    upload(device, record)
    assert replayed(app, record["id"]).matches
    with Session(app.state.engine) as session:
        issued = session.get(IssuedPass, pass_id)
        issued.qr_text, issued.purged_at = "", datetime.now(UTC)
        session.add(issued)
        session.commit()
    result = replayed(app, record["id"])
    assert (result.detail, result.replayable, result.outcome) == ("PASS_PURGED", False, None)
    with Session(app.state.engine) as session:
        found = facts.crossing_findings(
            session, [session.get(Crossing, record["id"])], ReplayContext(session)
        )
    assert DECISION_DIFFERS not in {finding.kind for finding in found}
