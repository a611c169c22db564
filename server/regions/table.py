"""The current region table: does a code exist, its entry, its children, and the picker's search.

The data is the file the picker downloads (server/web/static/regions.json, made by scripts/regions_data.py), so
the browser offers exactly the codes the server accepts.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from passcore import ids
from passcore.errors import InputError

__all__ = ["DATA", "Region", "all_regions", "check_exists", "children", "exists", "get", "search"]

DATA = Path(__file__).resolve().parent.parent / "web" / "static" / "regions.json"


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    pinyin: tuple[str, ...]  # ("changzhishi", …): the dictionary's reading first, then other readings
    initials: tuple[str, ...]  # ("czs", …)
    placeholder: bool  # 市辖区, 县, 省直辖县级行政单位: groups its children, not a place


@functools.cache
def _table() -> dict[str, Region]:
    rows = json.loads(DATA.read_text(encoding="utf-8"))["regions"]
    return {
        row[0]: Region(row[0], row[1], tuple(row[2].split()), tuple(row[3].split()), bool(row[4]))
        for row in rows
    }


def get(code: str) -> Region | None:
    return _table().get(code)


def all_regions() -> tuple[Region, ...]:
    """Every entry of the table, in code order (a manifest's import looks regions up by name: server/manifests)."""
    return tuple(_table().values())


def exists(code: str) -> bool:
    return code in _table()


def check_exists(code: str | int) -> str:
    """A well-formed code that is in the current table; ``InputError`` REGION_INVALID (shape) or REGION_UNKNOWN."""
    code = ids.validate_region(code)
    if not exists(code):
        raise InputError(
            f"The region code {code} is not in the current GB/T 2260 table; choose the region from the list.",
            code="REGION_UNKNOWN",
        )
    return code


def _parent(code: str) -> str | None:
    if code.endswith("0000"):
        return None
    if code.endswith("00"):
        return code[:2] + "0000"
    city = code[:4] + "00"
    return city if exists(city) else code[:2] + "0000"


def children(code: str | None) -> list[Region]:
    """What the picker lists under ``code`` (None: the provinces); a placeholder level is replaced by its
    children, so 北京市 lists 东城区 … and 湖北省 lists 仙桃市 next to 武汉市."""
    out: list[Region] = []
    for region in _table().values():
        if _parent(region.code) != code:
            continue
        out.extend(children(region.code) if region.placeholder else [region])
    return out


def search(query: str, limit: int = 20) -> list[Region]:
    """Regions whose name contains ``query`` or whose pinyin or initials start with it (letters, any case).

    The same rule as static/regions.js: the picker finds 昆山市 by "昆山", "kunshan" or "ks". A code's prefix
    finds it too. Provinces first, then cities, then counties, each in code order.
    """
    q = "".join(query.split()).lower()
    if not q:
        return []
    found = [
        r
        for r in _table().values()
        if not r.placeholder
        and (
            q in r.name
            or any(p.startswith(q) for p in r.pinyin)
            or any(i.startswith(q) for i in r.initials)
            or r.code.startswith(q)
        )
    ]
    level = {True: 0, False: 1}
    found.sort(key=lambda r: (level[r.code.endswith("0000")], level[r.code.endswith("00")], r.code))
    return found[:limit]
