"""passcore.pins: officer numbers, PINs and the scrypt hash both programs read."""

from __future__ import annotations

import pytest

from passcore import pins
from passcore.errors import InputError

SALT = bytes(range(16))


def test_a_pin_checks_against_its_hash_and_nothing_else_does():
    stored = pins.hash_pin("482916", salt=SALT)
    assert stored.startswith("scrypt$n=16384,r=8,p=1$") and "482916" not in stored
    assert pins.check_pin("482916", stored)
    for other in ("482917", "48291", "4829160", "", "４８２９１６", "482916 "):
        assert not pins.check_pin(other, stored), other


def test_the_salt_makes_equal_pins_hash_differently():
    assert pins.hash_pin("1234", salt=SALT) != pins.hash_pin("1234", salt=bytes(16))
    with pytest.raises(InputError) as err:
        pins.hash_pin("1234", salt=b"short")
    assert err.value.code == "SALT_TOO_SHORT"


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", "", "１２３４", " 1234", "1234\n", None])
def test_a_pin_is_four_to_eight_ascii_digits(pin):
    with pytest.raises(InputError) as err:
        pins.validate_pin(pin)
    assert err.value.code == "PIN_INVALID"
    assert str(pin) not in err.value.message or pin in ("", None)


@pytest.mark.parametrize("number", ["", " ", "K 1", "K" * 17, "警号", "K_1", "K/1", None])
def test_bad_officer_numbers_are_refused(number):
    with pytest.raises(InputError) as err:
        pins.validate_number(number)
    assert err.value.code == "OFFICER_NUMBER_INVALID"


def test_good_officer_numbers_are_kept_as_typed_without_surrounding_spaces():
    assert pins.validate_number(" K-0427 ") == "K-0427"
    assert pins.validate_number("a" * 16) == "a" * 16


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "bcrypt$2b$12$abc",
        "scrypt$n=16384,r=8,p=1$AAAA$BBBB",  # salt and key too short
        "scrypt$n=1048576,r=8,p=1$" + "A" * 22 + "$" + "B" * 43,  # 1 GiB of work: refused, not run
        "scrypt$n=16383,r=8,p=1$" + "A" * 22 + "$" + "B" * 43,  # not a power of two
        "scrypt$n=16384,r=99,p=1$" + "A" * 22 + "$" + "B" * 43,
        "scrypt$n=16384,r=8,p=9$" + "A" * 22 + "$" + "B" * 43,
        "scrypt$n=16384,r=8,p=1$" + "A" * 21 + "$" + "B" * 43,  # not valid base64
    ],
)
def test_hashes_this_program_does_not_read_or_that_ask_too_much_are_refused(stored):
    with pytest.raises(InputError) as err:
        pins.check_pin("1234", stored)
    assert err.value.code == "PIN_HASH_INVALID"
