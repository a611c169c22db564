"""What the review queue searches and filters on, kept in the application's row at every write (issue 13): the
people's names and the plate (``search_text``), and the region codes of the route (``regions``).

Names sit in the stored body in clear, but reading 10,000 bodies for each search would not answer within the
portal's target; a column searched with LIKE does (docs/performance.md, "Review queue"). Works on the stored body as
plain JSON, so the migration that fills the columns for existing rows uses it too. Nothing here holds an ID number.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["columns", "normalise"]


def normalise(text: str) -> str:
    """How a searched text and the stored one are compared: upper case, no separators within a plate or a name."""
    return text.upper().translate(str.maketrans("", "", " ·•.-\u3000"))


def columns(body_json: str) -> dict[str, str]:
    """``search_text`` and ``regions`` of a stored body (``{}``-safe: a body without people gives empty texts)."""
    data: dict[str, Any] = json.loads(body_json) if body_json else {}
    driver = data.get("driver") or {}
    names = [driver.get("name") or ""] + [(e or {}).get("name") or "" for e in data.get("escorts") or []]
    # A bus (issue 14): its manager and passengers are found by name too, and by the places they come from.
    passengers = [p for p in data.get("passengers") or [] if isinstance(p, dict)]
    names.append(((data.get("bus") or {}).get("manager") or {}).get("name") or "")
    names += [p.get("name") or "" for p in passengers]
    plate = (data.get("vehicle") or {}).get("plate") or ""
    # "|" between entries, so that a search never matches across two names.
    words = [normalise(w) for w in (*names, plate) if w]
    codes = [data.get("origin") or "", data.get("destination") or "", *(data.get("travel_history") or [])]
    for passenger in passengers:  # 45 passengers from one town: the code once
        more = [passenger.get("origin") or "", *(passenger.get("travel_history") or [])]
        codes += [c for c in more if c not in codes]
    return {
        "search_text": "|" + "|".join(words) + "|" if words else "",
        "regions": " " + " ".join(c for c in codes if c) + " " if any(codes) else "",
    }
