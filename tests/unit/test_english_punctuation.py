"""English pages use English punctuation (issue 13): no full-width ，。：；（） in any English word the portal
shows — the locale files' "en" texts, passcore's English reason and outcome words — and no template writes a
full-width mark of its own (every template serves both languages: separators come from locales/punctuation.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from passcore import reasons
from server.web.i18n import LOCALES

TEMPLATES = LOCALES.parent / "templates"
# CJK punctuation and the full-width forms of ASCII punctuation. Curly quotes (“ ” ‘ ’) are English punctuation
# too, and the middle dot of a plate (苏E·A1234) is part of the example, so neither is listed.
FULL_WIDTH = re.compile(r"[\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]")


def english_texts() -> list[tuple[str, str]]:
    found = []
    for path in sorted(LOCALES.glob("*.json")):
        for key, words in json.loads(path.read_text(encoding="utf-8")).items():
            if "en" in words:
                found.append((f"{path.name}: {key}", words["en"]))
    found += [(f"passcore.reasons {code}", english) for code, (english, _) in reasons.MESSAGES.items()]
    found += [(f"outcome {outcome}", reasons.outcome_words(outcome, "en")) for outcome in reasons.OUTCOMES]
    return found


def test_the_pattern_catches_the_usual_marks_and_spares_english_ones():
    assert all(FULL_WIDTH.search(mark) for mark in "，。：；！？（）【】、《》「」～")
    assert not FULL_WIDTH.search("Plate, e.g. 苏E·A1234 (“a quote”): done; ok? yes! [x] {y} ~ - 36.5 °C")


def test_every_english_text_uses_english_punctuation():
    texts = english_texts()
    assert len(texts) > 500  # the walk found the catalogue
    wrong = [f"{where}: {text!r}" for where, text in texts if FULL_WIDTH.search(text)]
    assert wrong == []


@pytest.mark.parametrize(
    "path", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_no_template_writes_full_width_punctuation_of_its_own(path: Path):
    lines = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if FULL_WIDTH.search(line)
    ]
    assert lines == [], "use t('punct.list'), t('punct.semicolon') or t('punct.colon')"
