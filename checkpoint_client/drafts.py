"""Drafts of the vehicle on the officer's form: what was typed (temperatures, names, checks, plate, origins) is saved
while typing and comes back after a page reload, a browser crash, `checkpoint run` restarting, or a scan that
interrupted the vehicle (issue 12, "nothing typed is lost").

A draft is keyed by what comes back when the vehicle does: the pass id of a verified pass (the camera reads the
same pass again after a restart), the id a pass that did not verify claimed, the desk's vehicle id otherwise, and
one ``nopass`` draft (the last vehicle without a pass, back with ``N``). It holds personal and health data, so it
goes as soon as the vehicle is decided or dropped, expires after ``EXPIRE``, and `checkpoint purge` (and the daily
purge after a sync) removes what expired while the screen was not running.

Drafts live in the local store's file (table ``draft``, store schema 4) on connections of their own, so the
decision store is not touched; every connection has secure_delete on (store_sqlite).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from checkpoint_client.store_sqlite import Database
from passcore.errors import InputError
from passcore.ids import usable_text

__all__ = ["EXPIRE", "MAX_FORM_BYTES", "Draft", "Drafts", "check_form", "check_key"]

EXPIRE = timedelta(hours=12)  # longer than any shift: a draft left overnight is gone by the morning
MAX_FORM_BYTES = 16 * 1024  # twenty people with every field full is under 8 KiB
MAX_PEOPLE = 20  # as the decision form
_KEY = re.compile(r"(?:pass|claimed|vehicle):[0-9A-Za-z._-]{1,64}|nopass")
ROLES = ("driver", "escort", "passenger", "manager")
MAX_ROLL = 100  # a bus's manifest holds at most 100 passengers (issue 14)
# Field -> longest text kept (the form's own maxlength, with room for a typed separator).
_TEXTS = {
    "plate": 20,
    "plate_read": 20,
    "vehicle_origin": 8,
    "enterprise": 20,
    "id_last4": 4,
    "referral": 100,
}
_PERSON_TEXTS = {"name": 50, "temperature": 8, "origin": 8}
_CHECKS = ("plate", "person", "licence")


def _invalid(field: str, why: str) -> InputError:
    return InputError(f"draft {field}: {why}", code="DRAFT_INVALID", detail=field)  # detail: the field


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise _invalid("key", "expected pass:<id>, claimed:<id>, vehicle:<id> or nopass")
    return key


def _text(value: Any, field: str, longest: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(field, "expected text")
    if len(value) > longest:
        raise _invalid(field, f"longer than {longest} characters")
    if not usable_text(value):
        raise _invalid(field, "control characters are not allowed")
    return value


def check_form(form: Any) -> dict[str, Any]:
    """The draft as stored: only known fields, each of the right type and length; InputError DRAFT_INVALID (with
    the field) for anything else — nothing is saved then."""
    if not isinstance(form, dict):
        raise _invalid("form", "expected an object")
    unknown = set(form) - {*_TEXTS, "people", "checks", "roll", "rest_normal"}
    if unknown:
        raise _invalid(sorted(unknown)[0], "unknown field")
    clean: dict[str, Any] = {name: _text(form.get(name), name, longest) for name, longest in _TEXTS.items()}
    people = form.get("people") or []
    if not isinstance(people, list) or len(people) > MAX_PEOPLE:
        raise _invalid("people", f"expected a list of at most {MAX_PEOPLE} people")
    clean["people"] = []
    for index, person in enumerate(people):
        field = f"people.{index}"
        if not isinstance(person, dict) or set(person) - {*_PERSON_TEXTS, "role", "fixed"}:
            raise _invalid(field, "expected an object with role, name, temperature, origin, fixed")
        if person.get("role") not in ROLES:
            raise _invalid(f"{field}.role", f"expected one of {', '.join(ROLES)}")
        if not isinstance(person.get("fixed", False), bool):
            raise _invalid(f"{field}.fixed", "expected true or false")
        row = {"role": person["role"], "fixed": person.get("fixed", False)}
        row |= {name: _text(person.get(name), f"{field}.{name}", n) for name, n in _PERSON_TEXTS.items()}
        clean["people"].append(row)
    checks = form.get("checks") or {}
    if not isinstance(checks, dict) or set(checks) - set(_CHECKS):
        raise _invalid("checks", f"expected an object with {', '.join(_CHECKS)}")
    for name in _CHECKS:
        if checks.get(name) not in (True, False, None):
            raise _invalid(f"checks.{name}", "expected true, false or null")
    clean["checks"] = {name: checks.get(name) for name in _CHECKS}
    clean |= _roll(form)
    return clean


def _roll(form: dict[str, Any]) -> dict[str, Any]:
    """A bus's roll call as typed (issue 14): the passengers with a reading or marked absent, and whether the
    rest-normal key was pressed. Absent from a freight vehicle's draft."""
    if "roll" not in form and "rest_normal" not in form:
        return {}
    roll = form.get("roll") or []
    if not isinstance(roll, list) or len(roll) > MAX_ROLL:
        raise _invalid("roll", f"expected a list of at most {MAX_ROLL} passengers")
    clean, seen = [], set()
    for index, entry in enumerate(roll):
        field = f"roll.{index}"
        if not isinstance(entry, dict) or set(entry) - {"n", "temperature", "absent"}:
            raise _invalid(field, "expected an object with n, temperature, absent")
        number = entry.get("n")
        if type(number) is not int or not 1 <= number <= MAX_ROLL or number in seen:
            raise _invalid(f"{field}.n", f"expected a passenger number 1–{MAX_ROLL}, each once")
        if not isinstance(entry.get("absent", False), bool):
            raise _invalid(f"{field}.absent", "expected true or false")
        seen.add(number)
        clean.append(
            {
                "n": number,
                "temperature": _text(entry.get("temperature"), f"{field}.temperature", 8),
                "absent": entry.get("absent", False),
            }
        )
    if not isinstance(form.get("rest_normal", False), bool):
        raise _invalid("rest_normal", "expected true or false")
    return {"roll": clean, "rest_normal": form.get("rest_normal", False)}


@dataclass(frozen=True)
class Draft:
    key: str
    saved_at: str  # ISO, UTC
    form: dict[str, Any]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class Drafts:
    """The drafts in the local store at ``path`` (opened and migrated by ``Store.open`` first)."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path)

    def save(self, key: str, form: Any, *, now: datetime) -> Draft:
        """Check and keep ``form`` under ``key`` (replacing the last one); expired drafts go at the same time."""
        key = check_key(key)
        clean = check_form(form)
        body = json.dumps(clean, ensure_ascii=False, separators=(",", ":"))
        if len(body.encode("utf-8")) > MAX_FORM_BYTES:
            raise _invalid("form", f"larger than {MAX_FORM_BYTES // 1024} KiB")
        with self._db.write("saving the draft") as conn:
            conn.execute("DELETE FROM draft WHERE saved_at < ?", (_iso(now - EXPIRE),))
            conn.execute(
                "INSERT INTO draft (key, saved_at, form) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET saved_at = excluded.saved_at, form = excluded.form",
                (key, _iso(now), body),
            )
        return Draft(key, _iso(now), clean)

    def load(self, key: str, *, now: datetime) -> Draft | None:
        """The draft under ``key`` unless it has expired."""
        key = check_key(key)
        rows = self._db.read(
            "SELECT saved_at, form FROM draft WHERE key = ? AND saved_at >= ?", (key, _iso(now - EXPIRE))
        )
        return Draft(key, rows[0][0], json.loads(rows[0][1])) if rows else None

    def forget(self, key: str) -> bool:
        """The vehicle was decided or dropped: its draft goes. Whether there was one."""
        key = check_key(key)
        with self._db.write("deleting the draft") as conn:
            return conn.execute("DELETE FROM draft WHERE key = ?", (key,)).rowcount > 0

    def expire(self, *, now: datetime) -> int:
        """Delete the drafts older than ``EXPIRE`` (kept while the screen was not running); how many."""
        with self._db.write("deleting expired drafts") as conn:
            deleted = conn.execute("DELETE FROM draft WHERE saved_at < ?", (_iso(now - EXPIRE),)).rowcount
        if deleted:
            self._db.compact()  # no bytes of them left in free pages or the WAL
        return int(deleted)

    def count(self) -> int:
        return int(self._db.read("SELECT count(*) FROM draft")[0][0])

    def close(self) -> None:
        self._db.close()
