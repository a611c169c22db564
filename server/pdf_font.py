"""The one font every PDF the bureau prints is set in: a TrueType CJK font, embedded (subset) in each file.

Embedded, a pass prints the same on every printer and viewer: Adobe's CID fonts (STSong-Light) leave the glyphs to
the viewer, which substitutes whatever it has, and characters it lacks come out as boxes. reportlab embeds only
TrueType (glyf) outlines, not CFF-based OpenType such as Noto CJK, so the font is WenQuanYi Zen Hei
(Debian's fonts-wqy-zenhei, GPL-2 with the font-embedding exception): GB 18030's common characters, all of CJK
Extension A, and a few hundred of Extension B. Another TrueType font (or one face of a .ttc) can be set with
CHECKPASS_PDF_FONT.

Names are checked against the same font (``unrenderable``), so nothing accepted can later print as a box.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import unicodedata
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from passcore.errors import CheckpassError

__all__ = ["DEFAULT_FONT", "FontMissing", "font_name", "printable", "unrenderable", "use"]

DEFAULT_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
_NAME = "CheckpassCJK"


class FontMissing(CheckpassError):
    """The configured font file is missing or is not a TrueType font reportlab can embed (the CLIs print it as one
    line; the server does not start)."""

    code = "PDF_FONT_MISSING"


@functools.cache
def _load(path: Path) -> tuple[str, frozenset[int]]:
    if not path.is_file():
        raise FontMissing(
            f"the PDF font {path} does not exist: install fonts-wqy-zenhei (scripts/system-deps.sh) "
            "or set CHECKPASS_PDF_FONT to a TrueType CJK font"
        )
    # The default keeps its plain name; another file gets its own, so two fonts never share one name.
    name = _NAME if path == DEFAULT_FONT else f"{_NAME}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    try:
        font = TTFont(name, str(path), subfontIndex=0)
    except (TTFError, OSError) as err:
        raise FontMissing(f"the PDF font {path} cannot be embedded: {err}") from err
    pdfmetrics.registerFont(font)
    return name, frozenset(font.face.charToGlyph)


_lock = threading.Lock()
_current: Path | None = None


def use(path: Path) -> str:
    """Register the font at ``path`` and make it the one ``font_name`` answers; ``FontMissing`` if unusable.

    The server calls it at start with its setting, so a missing font stops it there rather than at the first pass.
    """
    global _current
    name = _load(Path(path))[0]
    with _lock:
        _current = Path(path)
    return name


def _font() -> tuple[str, frozenset[int]]:
    path = _current
    if path is None:
        # Nothing configured it (a script, a test): the setting as the environment gives it.
        from server.config import get_settings

        use(get_settings().pdf_font)
        path = _current
    assert path is not None
    return _load(path)


def font_name() -> str:
    """The registered font's name for reportlab's ``setFont`` (registered once)."""
    return _font()[0]


def _invisible(ch: str) -> bool:
    # Line breaks and tabs are layout; format characters (RLM, zero-width space and joiner) are never drawn.
    return ch in "\n\r\t" or unicodedata.category(ch) == "Cf"


def unrenderable(text: str) -> str:
    """The characters of ``text`` the font has no glyph for, each once, in order; "" when all render.

    Invisible characters (line breaks, format characters such as U+200F) never count: ``printable`` drops them.
    """
    glyphs = _font()[1]
    return "".join(dict.fromkeys(ch for ch in text if ord(ch) not in glyphs and not _invisible(ch)))


def printable(text: str) -> str:
    """``text`` without the invisible characters the font has no glyph for (they would print as boxes)."""
    glyphs = _font()[1]
    return "".join(ch for ch in text if ord(ch) in glyphs or not _invisible(ch))
