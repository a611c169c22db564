#!/usr/bin/env python3
"""Regenerate server/web/static/regions.json: the current GB/T 2260 region codes, their names and pinyin.

Source: python-stdnum's cn/loc table (the codes and their dated names, collected from the national list; stdnum
updates it with its releases). A code is current when its latest name has no end year. Pinyin comes from
pypinyin (its phrase dictionary reads 重庆 chong-qing, 六安 lu-an) and is worked out here, once, so the server and
the browser need no pinyin library: the picker searches the file as it is.

    .venv/bin/python scripts/regions_data.py          # rewrite the file
    .venv/bin/python scripts/regions_data.py --check  # exit 1 when the file differs from what stdnum gives now
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from importlib import resources
from pathlib import Path

import stdnum
from pypinyin import Style, lazy_pinyin, pinyin

OUT = Path(__file__).resolve().parent.parent / "server" / "web" / "static" / "regions.json"
_DATED = re.compile(r"\[(\d*)-(\d*)\](.*)")
# Levels that only group their children ("urban districts", "counties", "directly administered units"):
# real codes, but no place a person comes from; the picker shows their children instead.
PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政单位", "省直辖行政单位", "自治区直辖县级行政单位"})
# Undated in stdnum's table although abolished (each is listed again under its current code): 神农架's old
# 422900/422921 (now 429021) and 随州's 429001 (a prefecture-level city 421300 since 2000). Found as names that
# occur twice in one province above the district level; check again when stdnum's table changes.
STALE = frozenset({"422900", "422921", "429001"})


def _current(names: str) -> str | None:
    """The name in use from ``[-1991]东郊区,[1992-]东丽区``; None when the last one has ended (abolished)."""
    last = names.split(",")[-1]
    match = _DATED.fullmatch(last)
    if match is None:
        return last  # undated: unchanged since the table starts
    return match[3] if not match[2] else None


def regions() -> list[list[object]]:
    text = resources.files(stdnum).joinpath("cn/loc.dat").read_text(encoding="utf-8")
    out: list[list[object]] = []
    province = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        part, value = line.split(None, 1)
        names = value.removeprefix('county="').removesuffix('"')
        name = _current(names)
        if name is None:
            continue
        code = province + part
        if code in STALE:
            continue
        spellings = readings(name)
        out.append(
            [code, name, " ".join(dict.fromkeys("".join(s) for s in spellings)),
             " ".join(dict.fromkeys("".join(syllable[0] for syllable in s) for s in spellings)),
             int(name in PLACEHOLDERS)]
        )  # fmt: skip
    return sorted(out)


def readings(name: str) -> list[list[str]]:
    """The name's syllables as pypinyin reads it, then with the two commonest readings of its first two characters.

    Place names keep old readings that the phrase dictionary misses (长治 chang-zhi, 曾都 zeng-du, 涡阳 guo-yang); the
    first two characters are what people type first, so their other readings are offered too (a few needless
    ones, such as zhang-zhi, find nothing else). The rest of the name keeps the dictionary's reading.
    """
    default = lazy_pinyin(name)
    spellings = [default]
    if len(default) == len(name):  # one syllable a character (every name in the table is in Han characters)
        heads = [options[:2] for options in pinyin(name[:2], style=Style.NORMAL, heteronym=True)]
        spellings += [[*combo, *default[2:]] for combo in itertools.product(*heads)]
    return spellings


def document() -> str:
    data = {
        "source": f"GB/T 2260 current codes from python-stdnum {stdnum.__version__} cn/loc; pinyin by pypinyin",
        "fields": [
            "code",
            "name",
            "pinyin (readings, space-separated)",
            "initials (likewise)",
            "placeholder",
        ],
        "regions": regions(),
    }
    # One region a line: diffs of a regenerated file show which codes changed.
    rows = ",\n".join(json.dumps(row, ensure_ascii=False) for row in data["regions"])
    head = {k: v for k, v in data.items() if k != "regions"}
    return json.dumps(head, ensure_ascii=False)[:-1] + ', "regions": [\n' + rows + "\n]}\n"


def main() -> int:
    text = document()
    if "--check" in sys.argv[1:]:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print("regions.json is current" if same else "regions.json differs: run scripts/regions_data.py")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({text.count(chr(10)) - 2} regions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
