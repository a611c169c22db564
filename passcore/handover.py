"""Who took an escorted vehicle over at the checkpoint: the enterprise's staff member (a name and the last four
characters of their ID card, as the officer reads them off it) and the officer on duty. The laptop and the server
check them alike, so what the laptop accepted the server accepts too.

The last four of a resident ID card are three digits and a check character, a digit or X. A full-width input
method sends "１２３Ｘ": NFKC folds it to "123X" (and a lower-case x to X), so the officer never has to switch it off.
"""

from __future__ import annotations

import re
import unicodedata

from passcore.errors import InputError
from passcore.ids import usable_text

__all__ = ["NAME_MAX", "officer", "staff_id_last4", "staff_name"]

NAME_MAX = 50  # as the enterprise's answer names its staff
_LAST4 = re.compile(r"[0-9]{3}[0-9X]")
_OFFICER = re.compile(r"[0-9A-Za-z-]{1,16}")  # the crossing record's officer (issue 12 contract)


def staff_name(text: object) -> str:
    """The staff member's name, trimmed: 1–50 characters of usable text; else HANDOVER_STAFF_NAME_INVALID."""
    name = text.strip() if isinstance(text, str) else ""
    if not 1 <= len(name) <= NAME_MAX or not usable_text(name):
        raise InputError(
            f"give the name of the staff member who took the vehicle over (1–{NAME_MAX} characters)",
            code="HANDOVER_STAFF_NAME_INVALID",
        )
    return name


def staff_id_last4(text: object) -> str:
    """The last four characters of the staff member's ID card, upper case; else HANDOVER_STAFF_ID_INVALID."""
    folded = unicodedata.normalize("NFKC", text).strip().upper() if isinstance(text, str) else ""
    if not _LAST4.fullmatch(folded):
        raise InputError(
            "give the last four characters of the staff member's ID card: three digits, then a digit or X",
            code="HANDOVER_STAFF_ID_INVALID",
        )
    return folded


def officer(text: object) -> str | None:
    """The officer's number (letters, digits, "-"; at most 16) or None; else HANDOVER_OFFICER_INVALID."""
    if text is None:
        return None
    if not isinstance(text, str) or not _OFFICER.fullmatch(text):
        raise InputError("the officer's number is not valid", code="HANDOVER_OFFICER_INVALID")
    return text
