"""Portal words in Chinese (default) and English.

Each domain keeps its words in ``locales/<domain>.json`` as ``{"key": {"zh": "…", "en": "…"}}``; they are
merged at first use. A missing key shows as the key itself, which tests catch.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["LANGS", "catalog", "translate"]

LANGS = ("zh", "en")
LOCALES = Path(__file__).parent / "locales"


@cache
def catalog() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(LOCALES.glob("*.json")):
        for key, words in json.loads(path.read_text(encoding="utf-8")).items():
            if key in merged:
                raise ValueError(f"{path.name}: key {key!r} is defined twice")
            merged[key] = words
    return merged


def translate(key: str, lang: str, **values: Any) -> str:
    words = catalog().get(key)
    text = (words.get(lang) or words.get("zh") or key) if words else key
    return text.format(**values) if values else text
