"""A manifest's places as people type them in a spreadsheet: a GB/T 2260 code, or a region's exact name.

A name is taken when it names one region only: its full name (``河南省信阳市``, spaces ignored) or its own name when
no other region has it (``信阳市``; ``朝阳区`` is in Beijing and in Changchun, so it needs the full name).
"""

from __future__ import annotations

import functools
from collections import defaultdict

from passcore import ids
from passcore.errors import InputError
from server.regions import table

__all__ = ["resolve"]


def _squash(text: str) -> str:
    return "".join(text.split())


@functools.cache
def _names() -> dict[str, tuple[str, ...]]:
    by_name: dict[str, list[str]] = defaultdict(list)
    for region in table.all_regions():
        if region.placeholder:
            continue
        code = region.code
        full = _squash(ids.region_name(code))
        by_name[full].append(code)
        if region.name != full:
            by_name[region.name].append(code)
    return {name: tuple(dict.fromkeys(codes)) for name, codes in by_name.items()}


def resolve(text: str) -> str:
    """The region code of ``text``; InputError REGION_UNKNOWN (no such code or name) or REGION_AMBIGUOUS."""
    value = _squash(text)
    if value.isdigit():
        return table.check_exists(value)
    codes = _names().get(value, ())
    if len(codes) == 1:
        return codes[0]
    if codes:
        raise InputError(
            f"{value} is the name of more than one region: give its full name (with the province) or its code",
            code="REGION_AMBIGUOUS",
        )
    raise InputError(f"no region is called {value}: give its code or its exact name", code="REGION_UNKNOWN")
