"""What an auditor asks of the crossings: a time range, checkpoint, enterprise, pass, plate, outcome, officer and
kind (freight vehicles or buses).

``parse`` turns the query string's text into a ``CrossingFilter``; each value that cannot be used becomes a field
error (one ``BadRequest`` listing them all), never a silently ignored filter. Local times without a zone are in
the bureau's zone (Asia/Shanghai by default).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from passcore import ids
from passcore.errors import InputError
from passcore.reasons import OUTCOMES
from server.crossings.models import KIND_FREIGHT, KIND_PERSONNEL
from server.enterprises.models import Enterprise
from server.errors import BadRequest
from server.passes.models import IssuedPass

__all__ = [
    "FIELDS",
    "KINDS",
    "CrossingFilter",
    "TimeRange",
    "enterprises_matching",
    "parse",
    "parse_range",
    "plate_fragment",
]

FIELDS = ("from", "to", "checkpoint", "enterprise", "pass", "plate", "outcome", "officer", "kind")
KINDS = (KIND_FREIGHT, KIND_PERSONNEL)
_KIND_WORDS = {"bus": KIND_PERSONNEL}  # what people call a personnel-transport vehicle
_OFFICER = re.compile(r"[0-9A-Za-z-]{1,16}")  # passcore.crossing.OFFICER
MAX_ENTERPRISES = 50  # a name that matches more is too vague to be a filter
_SERIAL = re.compile(r"(\d{6})\s*-?\s*(\d{1,6})")
_PASS_ID = re.compile(r"[0-9a-f]{24}")
_CODE_LIKE = re.compile(r"[0-9A-Za-z]{15,20}")
# Part of a plate as stored (no dot, upper case): the province first if given, then what plates hold after it
# (never I or O), ending in 挂 at most. Its own characters only, so nothing in it is a LIKE wildcard.
_PROVINCES = "".join(ids.PROVINCES)
_FRAGMENT = re.compile(f"[{_PROVINCES}][A-HJ-NP-Z0-9]{{0,7}}挂?|[A-HJ-NP-Z0-9]{{2,7}}挂?|[A-HJ-NP-Z0-9]挂")
_FRAGMENT_SEPARATORS = str.maketrans("", "", " ·•.-")
_EARLIEST, _LATEST = datetime(2000, 1, 1).date(), datetime(2100, 12, 31).date()


@dataclass(frozen=True)
class TimeRange:
    start: datetime | None = None  # inclusive, with zone
    end: datetime | None = None  # exclusive, with zone


@dataclass(frozen=True)
class CrossingFilter:
    start: datetime | None = None
    end: datetime | None = None
    checkpoint_id: int | None = None
    enterprises: tuple[str, ...] | None = None  # USCCs; None: any enterprise (or none)
    pass_id: str | None = None
    plate: str | None = None
    outcome: str | None = None
    officer: str | None = None  # the bureau's filter only: an enterprise never sees officer numbers
    plate_part: str | None = None  # part of a normalised plate ("A1234", "苏EA12"): matched anywhere in it
    kind: str | None = None  # "freight" or "personnel" (a bus, issue 14); None: both

    def only_enterprise(self, uscc: str, since: datetime | None) -> CrossingFilter:
        """The same filter narrowed to what an enterprise user may see: its own crossings decided from ``since``
        (its verification, ``enterprises.visible_since``) onward; none at all when ``since`` is None."""
        wanted = self.enterprises
        mine = since is not None and (wanted is None or uscc in wanted)
        start = since if since is not None and (self.start is None or self.start < since) else self.start
        return replace(self, start=start, enterprises=(uscc,) if mine else (), officer=None)


def _moment(text: str, zone: str, *, end: bool) -> datetime:
    """A date, a local date and time (what a datetime-local field sends) or an ISO time with its zone.

    A bare date as the end of a range means the whole of that day.
    """
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        if not _EARLIEST <= day <= _LATEST:
            raise ValueError("out of range")
        moment = datetime.combine(day + timedelta(days=1) if end else day, time(), ZoneInfo(zone))
        return moment
    moment = datetime.fromisoformat(text)
    if not _EARLIEST <= moment.date() <= _LATEST:
        raise ValueError("out of range")
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


def parse_range(raw: Mapping[str, str], zone: str, fields: dict[str, str]) -> TimeRange:
    start = end = None
    for key in ("from", "to"):
        text = raw.get(key, "").strip()
        if not text:
            continue
        try:
            moment = _moment(text[:40], zone, end=key == "to")
        except ValueError:
            fields[key] = "audit_time_invalid"
            continue
        start, end = (moment, end) if key == "from" else (start, moment)
    if start and end and start >= end:
        fields["to"] = "audit_range_reversed"
    return TimeRange(start, end)


def enterprises_matching(session: Session, text: str, fields: dict[str, str]) -> tuple[str, ...] | None:
    """The credit codes ``text`` names (a code, or part of registered names); None when empty. An unusable one
    becomes a field error under "enterprise"."""
    if not text:
        return None
    try:
        return (ids.validate_uscc(text),)
    except InputError:
        pass
    if _CODE_LIKE.fullmatch(text.replace(" ", "")):
        fields["enterprise"] = "audit_enterprise_invalid"  # a mistyped credit code, not a name
        return None
    found = session.exec(
        select(Enterprise.uscc)
        .where(col(Enterprise.name).contains(text, autoescape=True))
        .order_by(col(Enterprise.uscc))
        .limit(MAX_ENTERPRISES + 1)
    ).all()
    if not found:
        fields["enterprise"] = "audit_enterprise_unknown"
    elif len(found) > MAX_ENTERPRISES:
        fields["enterprise"] = "audit_enterprise_vague"
    return tuple(found)


def _pass(session: Session, text: str, fields: dict[str, str]) -> str | None:
    if not text:
        return None
    if _PASS_ID.fullmatch(text.lower()):
        return text.lower()
    serial = _SERIAL.fullmatch(text)
    if serial:
        found = session.exec(
            select(IssuedPass.pass_id).where(IssuedPass.serial == f"{serial[1]}-{int(serial[2]):06d}")
        ).first()
        if found:
            return found
        fields["pass"] = "audit_pass_unknown"  # noqa: S105  (a message key, not a password)
        return None
    fields["pass"] = "audit_pass_invalid"  # noqa: S105
    return None


def plate_fragment(text: str) -> str | None:
    """The part of a plate ``text`` spells ("e·a1234" -> "EA1234"), in the stored form; None when it cannot be
    part of a plate. A lone letter or digit is not a search (it would match nearly every plate)."""
    # NFKC folds the full-width letters and digits Chinese input methods type, as ids.normalize_plate does.
    part = unicodedata.normalize("NFKC", text).strip().translate(_FRAGMENT_SEPARATORS).upper()
    return part if _FRAGMENT.fullmatch(part) else None


def parse(session: Session, raw: Mapping[str, str], *, zone: str) -> CrossingFilter:
    """The filter the query string asks for; raise ``BadRequest`` (422) naming every unusable field."""
    fields: dict[str, str] = {}
    # PostgreSQL refuses NUL in any text it compares, and nothing here needs control characters.
    clean = {key: "".join(ch for ch in str(raw.get(key) or "") if ch.isprintable())[:100] for key in FIELDS}
    span = parse_range(clean, zone, fields)
    checkpoint_id = None
    if clean["checkpoint"]:
        if clean["checkpoint"].isdigit() and 1 <= int(clean["checkpoint"]) < 2**31:
            checkpoint_id = int(clean["checkpoint"])
        else:
            fields["checkpoint"] = "audit_checkpoint_invalid"
    plate = plate_part = None
    if clean["plate"].strip():
        try:
            plate = ids.normalize_plate(clean["plate"])
        except InputError:
            plate_part = plate_fragment(clean["plate"])
            if plate_part is None:
                fields["plate"] = "audit_plate_invalid"
    outcome = clean["outcome"].strip().upper() or None
    if outcome is not None and outcome not in OUTCOMES:
        fields["outcome"] = "audit_outcome_invalid"
    officer = clean["officer"].strip() or None
    if officer is not None and not _OFFICER.fullmatch(officer):
        fields["officer"] = "audit_officer_invalid"
    kind = clean["kind"].strip().lower() or None
    kind = _KIND_WORDS.get(kind or "", kind)
    if kind is not None and kind not in KINDS:
        fields["kind"] = "audit_kind_invalid"
    enterprises = enterprises_matching(session, clean["enterprise"].strip(), fields)
    pass_id = _pass(session, clean["pass"].strip(), fields)
    if fields:
        raise BadRequest("some filters cannot be used", code="AUDIT_FILTER_INVALID", fields=fields)
    return CrossingFilter(
        span.start, span.end, checkpoint_id, enterprises, pass_id, plate, outcome, officer, plate_part, kind
    )
