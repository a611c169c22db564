"""Plates, resident ID numbers, unified social credit codes and GB/T 2260 region codes.

Pure: no I/O beyond python-stdnum's bundled tables (read through its API), no clock, no environment.
The parsers treat their input as hostile and raise ``InputError`` with a stable ``code`` on bad input;
the display helpers (``mask_id``, ``last4``, ``region_name``) never raise for text.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError

from passcore.errors import InputError

__all__ = [
    "BIDI_CONTROLS",
    "PROVINCES",
    "check_text",
    "covers",
    "format_plate",
    "is_trailer",
    "last4",
    "mask_id",
    "normalize_plate",
    "plate_region",
    "region_name",
    "usable_text",
    "validate_id_number",
    "validate_region",
    "validate_uscc",
]

# Plate province abbreviation -> two-digit GB/T 2260 province code (31 mainland provinces).
PROVINCES: dict[str, str] = {
    "京": "11", "津": "12", "冀": "13", "晋": "14", "蒙": "15",
    "辽": "21", "吉": "22", "黑": "23",
    "沪": "31", "苏": "32", "浙": "33", "皖": "34", "闽": "35", "赣": "36", "鲁": "37",
    "豫": "41", "鄂": "42", "湘": "43", "粤": "44", "桂": "45", "琼": "46",
    "渝": "50", "川": "51", "贵": "52", "云": "53", "藏": "54",
    "陕": "61", "甘": "62", "青": "63", "宁": "64", "新": "65",
}  # fmt: skip

# Region codes may also name Taiwan, Hong Kong and Macau (as origins/destinations): no mainland plates.
_REGION_PROVINCES = frozenset(PROVINCES.values()) | {"71", "81", "82"}

# Inputs longer than these are rejected before any normalisation, so hostile input stays cheap.
_MAX_PLATE_INPUT = 20
_MAX_NUMBER_INPUT = 64

_PLATE_SEPARATORS = str.maketrans("", "", " ·•.-")
_SERIAL = "[A-HJ-NP-Z0-9]"  # plates never use I or O: they are too easily confused with 1 and 0
_PLATE_RE = re.compile(
    f"[{''.join(PROVINCES)}][A-Z](?:{_SERIAL}{{5}}|[DF]{_SERIAL}{{5}}|{_SERIAL}{{5}}[DF]|{_SERIAL}{{4}}挂)"
)
_PLATE_EXPECTED = (
    "expected a province abbreviation, a letter and 5 letters/digits "
    "(6 for new-energy plates, or 4 and 挂 for trailers), e.g. 苏E·A1234"
)
_ID_RE = re.compile("[0-9]{17}[0-9X]")
_REGION_RE = re.compile("[0-9]{6}")

# Levels in the region table that only group their children ("urban districts", "counties",
# "directly administered county-level units"); showing them adds nothing for a person.
_PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政单位", "省直辖行政单位", "自治区直辖县级行政单位"})
_DATED_NAME = re.compile(r"\[(\d*)-(\d*)\](.*)")


# Bidi embeddings, overrides and isolates reorder how everything after them is displayed ("Trojan Source"): a
# reason or a name could read as something other than what is stored. The marks LRM, RLM and ALM (U+200E, U+200F,
# U+061C) only give the neutral characters next to them a direction; right-to-left scripts need them, so they stay.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\n\r\t\u2028\u2029")


def usable_text(text: str, *, multiline: bool = False) -> bool:
    """Free text someone typed and we store verbatim (names, contacts, cargo, notes, reasons): any script, right-to-
    left and zero-width marks; no control characters (NUL above all: PostgreSQL text cannot hold it), lone
    surrogates, bidi embeddings, overrides or isolates. Only ``multiline`` text may hold line breaks and tabs.
    """
    return not any(
        ch in BIDI_CONTROLS
        or (unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") and not (multiline and ch in _LINE_BREAKS))
        for ch in text
    )


def check_text(text: str, *, multiline: bool = False) -> str:
    """``text`` when ``usable_text``; else ``InputError`` TEXT_INVALID (for schemas' validators and services)."""
    if not usable_text(text, multiline=multiline):
        raise InputError(
            "control characters and text-direction overrides are not allowed here", code="TEXT_INVALID"
        )
    return text


def _plate_error(message: str) -> InputError:
    return InputError(message, code="PLATE_INVALID")


def normalize_plate(text: str) -> str:
    """The compact upper-case plate (e.g. ``苏EA1234``); raise ``InputError`` PLATE_INVALID if not a plate."""
    if not isinstance(text, str) or len(text) > _MAX_PLATE_INPUT:
        raise _plate_error(f"The plate number is too long; {_PLATE_EXPECTED}.")
    if not text.strip():
        raise _plate_error(f"The plate number is empty; {_PLATE_EXPECTED}.")
    # NFKC folds full-width letters, digits, dots, hyphens and spaces typed with Chinese IMEs to ASCII.
    plate = unicodedata.normalize("NFKC", text).strip().translate(_PLATE_SEPARATORS).upper()
    if _PLATE_RE.fullmatch(plate):
        return plate
    if plate[:1] not in PROVINCES:
        raise _plate_error(
            "The plate number must start with a mainland province abbreviation such as 京, 苏 or 粤."
        )
    if "I" in plate[2:] or "O" in plate[2:]:
        raise _plate_error("Plate numbers never contain the letters I or O; did you mean the digits 1 or 0?")
    raise _plate_error(f"The plate number is not valid; {_PLATE_EXPECTED}.")


def format_plate(plate: str) -> str:
    """The display form with a middle dot after the authority letter, e.g. ``苏E·A1234``."""
    normal = normalize_plate(plate)
    return f"{normal[:2]}·{normal[2:]}"


def plate_region(plate: str) -> str:
    """The six-digit province code of the plate's province, e.g. ``鄂A12345`` -> ``420000``."""
    return PROVINCES[normalize_plate(plate)[0]] + "0000"


def is_trailer(plate: str) -> bool:
    """Whether the plate is a (semi-)trailer plate ending in 挂."""
    return normalize_plate(plate).endswith("挂")


def _id_error(message: str) -> InputError:
    return InputError(message, code="ID_NUMBER_INVALID")


def validate_id_number(text: str) -> str:
    """The normalised 18-character resident ID number; raise ``InputError`` ID_NUMBER_INVALID if invalid."""
    if not isinstance(text, str) or len(text) > _MAX_NUMBER_INPUT:
        raise _id_error("The ID number must be 18 characters: 17 digits and a final digit or X.")
    number = "".join(unicodedata.normalize("NFKC", text).split()).upper()
    if len(number) != 18:
        raise _id_error(
            f"The ID number must be 18 characters (17 digits and a digit or X), not {len(number)}."
        )
    if not _ID_RE.fullmatch(number):
        raise _id_error("The ID number must be 17 digits followed by a digit or X.")
    if number[-1] != ric.calc_check_digit(number):
        raise _id_error("The ID number's check digit does not match; please check it for typos.")
    try:
        ric.get_birth_date(number)
    except ValidationError:
        raise _id_error("The ID number's birth date (digits 7-14, YYYYMMDD) is not a real date.") from None
    # Only the province is checked: stdnum's validate() also requires the district code to have existed in
    # the birth year, which rejects people born in districts that were renamed or merged later.
    if number[:2] not in PROVINCES.values():
        raise _id_error("The ID number's first two digits are not a mainland province code.")
    return number


def mask_id(number: str) -> str:
    """``320583199001011234`` -> ``320583********1234``; short numbers keep only their last 4 characters."""
    compact = "".join(number.split()).upper()
    if len(compact) < 11:
        return "*" * max(len(compact) - 4, 0) + compact[-4:]
    # Always eight stars, so the mask does not reveal the length of non-standard numbers.
    return compact[:6] + "*" * 8 + compact[-4:]


def last4(masked_or_full: str) -> str:
    """The last four characters, upper-case (an ID's final X is stored as X)."""
    return masked_or_full.strip()[-4:].upper()


@functools.lru_cache(maxsize=4096)
def _valid_uscc(number: str) -> str:
    """python-stdnum's check, remembered: ingest and the audit check every crossing's credit code (about 0.1 ms
    each), and a day's crossings name the same few thousand enterprises again and again. Only valid codes are
    remembered (a raised error is not cached)."""
    return str(uscc.validate(number))


def validate_uscc(text: str) -> str:
    """The normalised 18-character unified social credit code; raise ``InputError`` USCC_INVALID if not."""
    if not isinstance(text, str) or len(text) > _MAX_NUMBER_INPUT:
        raise InputError("The credit code must be 18 characters.", code="USCC_INVALID")
    number = "".join(unicodedata.normalize("NFKC", text).split()).upper()
    try:
        return _valid_uscc(number)
    except InvalidLength:
        message = f"The unified social credit code must be 18 characters, not {len(number)}."
    except InvalidChecksum:
        message = "The unified social credit code's check character does not match; please check for typos."
    except ValidationError:
        message = (
            "The unified social credit code must be 8 digits followed by 10 digits or letters "
            "(not I, O, S, V or Z)."
        )
    raise InputError(message, code="USCC_INVALID")


def validate_region(code: str | int) -> str:
    """A six-digit GB/T 2260 region code as a string; raise ``InputError`` REGION_INVALID if invalid."""
    # bool is an int subclass but never a region; ints lose leading zeros, so pad them back (only to 6).
    if isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 999999:
        code = f"{code:06d}"
    if not isinstance(code, str) or not _REGION_RE.fullmatch(code := code.strip()):
        raise InputError("The region code must be six digits, e.g. 420102.", code="REGION_INVALID")
    if code[:2] not in _REGION_PROVINCES:
        raise InputError(
            f"The region code {code} does not start with a known province code (11-65, 71, 81 or 82).",
            code="REGION_INVALID",
        )
    if code[2:4] == "00" and code[4:] != "00":
        raise InputError(
            f"The region code {code} has a county part without a city part; use XX0000, XXYY00 or XXYYZZ.",
            code="REGION_INVALID",
        )
    # The exact code is not looked up: the national list changes every year, stdnum's copy lags behind.
    return code


def covers(area: str, code: str) -> bool:
    """Whether region ``area`` contains ``code``: a province or city covers its parts, a district itself."""
    area, code = validate_region(area), validate_region(code)
    if area.endswith("0000"):
        return code[:2] == area[:2]
    if area.endswith("00"):
        return code[:4] == area[:4]
    return code == area


def _current_name(names: str) -> str:
    """The current name from a table entry like ``[-1991]东郊区,[1992-]东丽区`` (else the latest one)."""
    best = ""
    for entry in names.split(","):
        match = _DATED_NAME.fullmatch(entry)
        if match is None:
            return entry  # undated: has not changed since the table starts
        best = match[3]
        if not match[2]:
            return best  # open-ended range: still in use
    return best  # entries are listed oldest first; all historic, so show the last one


def _lookup(code: str) -> str:
    parts = numdb.get("cn/loc").info(code)
    if len(parts) != 2 or "county" not in parts[1][1]:
        return ""
    return _current_name(parts[1][1]["county"])


@functools.lru_cache(maxsize=4096)
def region_name(code: str) -> str:
    """A display name such as ``湖北省 武汉市 江岸区``; never raises (falls back to the known part)."""
    if not isinstance(code, str) or not _REGION_RE.fullmatch(code):
        return str(code)
    # Prefer the XX0000 entry: its name is in simplified characters (the province label of 81/82 is not).
    province = _lookup(code[:2] + "0000") or numdb.get("cn/loc").info(code[:2])[0][1].get("province", "")
    if not province:
        return code
    names = [province]
    if code[2:4] != "00":
        for part in dict.fromkeys((code[:4] + "00", code)):  # a city code is its own last part
            name = _lookup(part)
            if name and name not in _PLACEHOLDERS and name not in names:
                names.append(name)
    return " ".join(names)
