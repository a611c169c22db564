"""Officers' shifts on this laptop: sign in with number + PIN (checked offline against the synced hash), sign out.

Once sync has brought the checkpoint's officers (``required``), deciding and handing over need a signed-in
officer, whose number every record then carries. A shift runs from sign-in to sign-out on this device; a new
sign-in takes the device over (the open shift ends), and a sync that no longer lists the officer as active ends
it (``store_officers.OfficerBook.replace``).

Wrong PINs: each number may be tried ``FREE_TRIES`` times; after that each further try waits, from
``BACKOFF_FIRST`` doubling to ``BACKOFF_MAX`` (the count is kept on disk and cleared by a good sign-in). An unknown
number is answered like a wrong PIN, after the same work, so the screen does not say which numbers exist.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from checkpoint_client.store import Store
from checkpoint_client.store_officers import OfficerRow, ShiftRow
from passcore import pins
from passcore.errors import CheckpassError, InputError

__all__ = ["BACKOFF_FIRST", "BACKOFF_MAX", "FREE_TRIES", "ShiftError", "Shifts", "SignedIn"]

FREE_TRIES = 5
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=15)


@functools.cache
def _dummy_hash() -> str:
    # Checked when the number is unknown, so that an unknown number costs the same time as a wrong PIN.
    return pins.hash_pin("0000", salt=b"checkpass-dummy-salt")


class ShiftError(CheckpassError):
    """Signing in did not work. ``code``: OFFICER_NUMBER_INVALID, PIN_INVALID, PIN_WRONG (``left``: tries before
    the back-off), SIGN_IN_LOCKED (``wait_s``), OFFICER_INACTIVE, NO_OFFICERS."""

    code = "SIGN_IN_FAILED"

    def __init__(
        self, message: str, *, code: str, left: int | None = None, wait_s: int | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.left, self.wait_s = left, wait_s


@dataclass(frozen=True)
class SignedIn:
    number: str
    name: str
    shift: ShiftRow


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class Shifts:
    """The shifts of one laptop's store. ``device``: this laptop's device id (or a name when not enrolled)."""

    def __init__(self, store: Store, *, device: str, clock: Callable[[], datetime]) -> None:
        self.store, self.device, self.clock = store, device, clock

    # ---- what the routes ask ------------------------------------------------------------------------------

    def required(self) -> bool:
        """Officers are configured for this checkpoint (sync brought at least one, active or not): deciding and
        handing over need a signed-in officer. A checkpoint without officers works as before."""
        return self.store.officers.count() > 0

    def current(self) -> ShiftRow | None:
        return self.store.officers.open_shift()

    def officer(self) -> str | None:
        """The number of the officer signed in now, or None."""
        shift = self.current()
        return shift.officer if shift is not None else None

    def log(self, limit: int = 50) -> list[ShiftRow]:
        """This device's shifts, the newest first."""
        return self.store.officers.shifts(limit)

    def shift(self, shift_id: int | None = None) -> ShiftRow | None:
        """A shift by id; without one the open shift, else the last one."""
        if shift_id is not None:
            return self.store.officers.shift(shift_id)
        return self.current() or next(iter(self.log(1)), None)

    # ---- signing in and out --------------------------------------------------------------------------------

    def locked_for(self, number: str, now: datetime | None = None) -> int:
        """Seconds before ``number`` may be tried again (0: now)."""
        failures, last = self.store.officers.failures(number)
        if failures < FREE_TRIES or last is None:
            return 0
        wait = min(BACKOFF_FIRST * 2 ** (failures - FREE_TRIES), BACKOFF_MAX)
        remaining = (last + wait) - _utc(now or self.clock())
        return max(0, int(remaining.total_seconds() + 0.999))

    def sign_in(self, number: str, pin: str) -> SignedIn:
        """Check ``pin`` for ``number`` against the synced hash and start the officer's shift (ending any other
        open one). Raises ShiftError; a wrong PIN is counted, a PIN is never part of a message."""
        now = _utc(self.clock())
        try:
            number = pins.validate_number(number)
        except InputError as err:
            raise ShiftError(err.message, code="OFFICER_NUMBER_INVALID") from err
        if not self.required():
            raise ShiftError("no officers have been synced to this laptop", code="NO_OFFICERS")
        wait = self.locked_for(number, now)
        if wait:
            raise ShiftError(
                f"too many wrong PINs; try again in {wait} s", code="SIGN_IN_LOCKED", wait_s=wait
            )
        try:
            pins.validate_pin(pin)
        except InputError as err:
            raise ShiftError(err.message, code="PIN_INVALID") from err
        officer = self.store.officers.get(number)
        if not self._matches(officer, pin):
            failures = self.store.officers.note_failure(number, now)
            left = max(0, FREE_TRIES - failures)
            wait = self.locked_for(number, now)
            if wait:
                raise ShiftError(
                    f"wrong officer number or PIN; too many tries, wait {wait} s",
                    code="SIGN_IN_LOCKED",
                    wait_s=wait,
                )
            raise ShiftError(f"wrong officer number or PIN ({left} tries left)", code="PIN_WRONG", left=left)
        assert officer is not None
        if not officer.active:
            raise ShiftError("this officer has been deactivated by the bureau", code="OFFICER_INACTIVE")
        shift = self.store.officers.start_shift(officer, device=self.device, at=now)
        return SignedIn(number=officer.number, name=officer.name, shift=shift)

    @staticmethod
    def _matches(officer: OfficerRow | None, pin: str) -> bool:
        try:
            if officer is None:
                pins.check_pin(pin, _dummy_hash())
                return False
            return pins.check_pin(pin, officer.pin_hash)
        except InputError:  # a hash this program cannot read: nobody signs in with it
            return False

    def sign_out(self) -> ShiftRow | None:
        """End the open shift; it (ended), or None when nobody was signed in."""
        return self.store.officers.end_shift(at=_utc(self.clock()))

    def name_of(self, number: str | None) -> str | None:
        if number is None:
            return None
        officer = self.store.officers.get(number)
        return officer.name if officer is not None else None
