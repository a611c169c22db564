"""The policy knobs added in issue 12 (pass_misuse, repeat_window_minutes, fever_referrals): checked like every
knob, and invisible while at their defaults, so policies signed before read and hash the same."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from passcore import trust
from passcore.errors import InputError
from passcore.keys import generate_signing_key
from passcore.policy import MISUSE_AS_NO_PASS, MISUSE_REFUSE, Policy
from tests.factories import NOW, make_bundle

# SHA-256 of the canonical JSON of Policy.to_dict() as the code before issue 12 wrote it (pinned from that code).
BEFORE = {
    "d5a140c96213d13fcade1df805b4f44a835568f72408ad5dbc8b5b66476e4652": Policy(),
    "31172434fcfc6fc2e9ef876de94cc8ba89a52efdcf63e832cece0b9da2a97bcf": Policy(
        version=3,
        effective_from=datetime(2026, 2, 1, tzinfo=UTC),
        hard_hit=("420000",),
        pass_mandatory=True,
        note="x",
        fever_threshold_c=Decimal("37.5"),
    ),
}


def canonical(policy: Policy) -> str:
    return json.dumps(policy.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("digest", BEFORE)
def test_a_policy_at_the_new_defaults_hashes_as_before(digest):
    policy = BEFORE[digest]
    assert hashlib.sha256(canonical(policy).encode()).hexdigest() == digest
    assert not {"pass_misuse", "repeat_window_minutes", "fever_referrals"} & set(policy.to_dict())


def test_a_bundle_at_the_new_defaults_signs_the_same_payload():
    key = generate_signing_key()
    bundle = make_bundle([trust.IssuerKey(key.public, trust.KEY_ACTIVE, NOW)])
    assert bundle.to_payload()["policy"] == json.loads(canonical(bundle.policy))
    assert "pass_misuse" not in bundle.to_payload()["policy"]


def test_the_new_knobs_travel_when_set():
    policy = Policy(
        pass_misuse=MISUSE_AS_NO_PASS,
        repeat_window_minutes=30,
        fever_referrals=("昆山市第一人民医院发热门诊",),
    )
    data = policy.to_dict()
    assert data["pass_misuse"] == "as_no_pass"
    assert data["repeat_window_minutes"] == 30
    assert data["fever_referrals"] == ["昆山市第一人民医院发热门诊"]
    assert Policy.from_dict(json.loads(json.dumps(data))) == policy
    assert Policy.from_dict(Policy().to_dict()).pass_misuse == MISUSE_REFUSE


def test_each_knob_is_omitted_alone_at_its_default():
    data = Policy(repeat_window_minutes=5).to_dict()
    assert data["repeat_window_minutes"] == 5
    assert "pass_misuse" not in data and "fever_referrals" not in data


def test_referrals_are_trimmed():
    assert Policy(fever_referrals=[" 发热门诊 "]).fever_referrals == ("发热门诊",)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"pass_misuse": "REFUSE"},
        {"pass_misuse": "ignore"},
        {"pass_misuse": None},
        {"repeat_window_minutes": 0},
        {"repeat_window_minutes": 1441},
        {"repeat_window_minutes": "15"},
        {"repeat_window_minutes": True},
        {"repeat_window_minutes": 15.0},
        {"fever_referrals": "发热门诊"},
        {"fever_referrals": [""]},
        {"fever_referrals": ["   "]},
        {"fever_referrals": ["x" * 61]},
        {"fever_referrals": ["发热\u0000门诊"]},
        {"fever_referrals": ["发热\u202e门诊"]},
        {"fever_referrals": [1]},
        {"fever_referrals": ["甲", "甲"]},
        {"fever_referrals": [f"门诊{i}" for i in range(11)]},
    ],
    ids=repr,
)
def test_bad_knobs_are_refused(changes):
    with pytest.raises(InputError) as err:
        Policy.from_dict(Policy().to_dict() | changes)
    assert err.value.code == "POLICY_INVALID"


def test_limits_are_inclusive():
    policy = Policy(repeat_window_minutes=1440, fever_referrals=tuple(f"门诊{i}" for i in range(10)))
    assert Policy.from_dict(policy.to_dict()) == policy
    assert Policy(repeat_window_minutes=1).repeat_window_minutes == 1
    assert Policy(fever_referrals=("x" * 60,)).fever_referrals == ("x" * 60,)
