"""The hand-over identity (passcore.handover): the staff member's name and ID last four, the officer's number."""

from __future__ import annotations

import pytest

from passcore import handover
from passcore.errors import InputError


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("周敏", "周敏"),
        ("  周敏 ", "周敏"),
        ("Zhou Min", "Zhou Min"),
        ("x" * 50, "x" * 50),
        ("\u200f\u0645\u062d\u0645\u062f", "\u200f\u0645\u062d\u0645\u062f"),
    ],
)
def test_usable_staff_names_are_kept_trimmed(typed, kept):
    assert handover.staff_name(typed) == kept


@pytest.mark.parametrize("typed", ["", "   ", "x" * 51, "周\x00敏", "周\u202e敏", "周\n敏", None, 42])
def test_unusable_staff_names_are_refused(typed):
    with pytest.raises(InputError) as refused:
        handover.staff_name(typed)
    assert refused.value.code == "HANDOVER_STAFF_NAME_INVALID"


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("1234", "1234"), ("123X", "123X"), ("123x", "123X"), ("１２３Ｘ", "123X"), (" 0007 ", "0007")],
)
def test_id_last_four_are_digits_then_a_digit_or_x(typed, kept):
    assert handover.staff_id_last4(typed) == kept


@pytest.mark.parametrize("typed", ["", "123", "12345", "X123", "12X4", "abcd", "12 4", "١٢٣٤", None, 1234])
def test_other_id_endings_are_refused(typed):
    with pytest.raises(InputError) as refused:
        handover.staff_id_last4(typed)
    assert refused.value.code == "HANDOVER_STAFF_ID_INVALID"


def test_officer_numbers_follow_the_crossing_record():
    assert handover.officer(None) is None
    assert handover.officer("KS-0042") == "KS-0042"
    for bad in ("", "x" * 17, "周", "a b", "a\x00", 7):
        with pytest.raises(InputError) as refused:
            handover.officer(bad)
        assert refused.value.code == "HANDOVER_OFFICER_INVALID"
