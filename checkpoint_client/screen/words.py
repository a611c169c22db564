"""The screen's own words in Chinese (default) and English; reason and outcome messages come from passcore.reasons.

A missing key shows as the key itself, which the tests catch.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["LANGS", "catalog", "lang_words", "translate"]

LANGS = ("zh", "en")
_FILE = Path(__file__).with_name("words.json")


@cache
def catalog() -> dict[str, dict[str, str]]:
    return json.loads(_FILE.read_text(encoding="utf-8"))


class _Blanks(dict):
    def __missing__(self, key: str) -> str:
        return ""  # a blank the caller did not fill stays empty rather than failing the request


def translate(key: str, lang: str, **values: Any) -> str:
    words = catalog().get(key)
    text = (words.get(lang) or words["zh"]) if words else key
    return text.format_map(_Blanks(values)) if values else text


@cache
def lang_words(lang: str) -> dict[str, str]:
    """Every word in one language, handed to the page's script (which formats {placeholders} itself)."""
    return {key: words.get(lang) or words["zh"] for key, words in catalog().items()}
