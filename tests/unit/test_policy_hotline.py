"""The service hotline is a later policy knob: absent from the signed form at its default (old policies hash the
same, older checkpoints read newer bundles), checked like every knob, and carried through the bundle."""

from __future__ import annotations

import pytest

from passcore.errors import InputError
from passcore.policy import Policy


def test_a_policy_without_a_hotline_signs_as_before():
    assert "service_hotline" not in Policy().to_dict()
    assert Policy().to_dict(every_knob=True)["service_hotline"] == ""


def test_a_hotline_travels_in_the_signed_policy():
    policy = Policy(service_hotline="0512-68125723")
    assert policy.to_dict()["service_hotline"] == "0512-68125723"
    assert Policy.from_dict(policy.to_dict()).service_hotline == "0512-68125723"


@pytest.mark.parametrize("value", ["0512  6812 5723 ", "+86 (512) 68125723", "12345"])
def test_phone_numbers_are_accepted_with_spaces_tidied(value):
    assert Policy(service_hotline=value).service_hotline == " ".join(value.split())


@pytest.mark.parametrize("value", ["call us", "0512-6812\n5723", "1" * 31, "---", 512])
def test_anything_but_a_phone_number_is_refused(value):
    with pytest.raises(InputError) as err:
        Policy(service_hotline=value)
    assert err.value.code == "POLICY_INVALID"
