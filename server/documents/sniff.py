"""What an uploaded file really is, from its content alone: JPEG, PNG or PDF, or refused.

The client's file name and Content-Type are never believed. An image must start with its format's signature,
open in Pillow, decode to the end and stop there (bytes after the image's end are how image/HTML polyglots are
made); a PDF must start with ``%PDF-`` and end with its trailer. Anything a browser could take for markup in its
first kilobyte (HTML, SVG, XML) is refused whatever follows, and so is a PDF that carries scripts or launches.
"""

from __future__ import annotations

import io
import re
import warnings

from PIL import Image, UnidentifiedImageError

from server.errors import BadRequest, ContentTooLarge

__all__ = ["JPEG", "MEDIA_TYPES", "PDF", "PNG", "sniff"]

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
MEDIA_TYPES = (JPEG, PNG, PDF)
MAX_PIXELS = 60_000_000  # a 12,000 × 5,000 scan; more is a decompression bomb, not a licence
_MARKUP = re.compile(rb"<\s*(!doctype|html|head|body|script|svg|iframe|object|\?xml|meta)", re.IGNORECASE)
_PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|RichMedia|XFA)\b")
_PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")
_PNG_END = b"IEND\xaeB`\x82"


def _refused(why: str) -> BadRequest:
    return BadRequest(why, code="DOCUMENT_TYPE", fields={"file": "document_type"})


def _image(data: bytes, expected: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format != expected:
                    raise _refused(f"the content is {probe.format}, not {expected}")
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise _refused("the image is too large in pixels")
                probe.load()  # decodes every byte: a truncated or corrupt image fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise _refused("the image cannot be read") from err
    except Image.DecompressionBombWarning as err:
        raise _refused("the image is too large in pixels") from err


def sniff(data: bytes, *, max_bytes: int) -> str:
    """The media type of ``data`` (one of ``MEDIA_TYPES``), or BadRequest ``DOCUMENT_EMPTY``/``DOCUMENT_TYPE``
    and ContentTooLarge ``DOCUMENT_TOO_LARGE``; every refusal names the field ``file``."""
    if not data:
        raise BadRequest("the file is empty", code="DOCUMENT_EMPTY", fields={"file": "document_empty"})
    if len(data) > max_bytes:
        raise ContentTooLarge(
            f"the file is larger than {max_bytes} bytes",
            code="DOCUMENT_TOO_LARGE",
            fields={"file": "document_too_large"},
        )
    if _MARKUP.search(data[:1024]):
        raise _refused("markup is not a document")
    if data.startswith(b"\xff\xd8\xff"):
        _image(data, "JPEG")
        # End of image, then at most padding: anything else after it is a second file riding along.
        if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
            raise _refused("data follows the image")
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        _image(data, "PNG")
        if not data.endswith(_PNG_END):
            raise _refused("data follows the image")
        return PNG
    if _PDF_HEADER.match(data):
        tail = data[-1024:].rstrip()
        if not tail.endswith(b"%%EOF") or b"startxref" not in data[-1024:]:
            raise _refused("the PDF has no trailer")
        if _PDF_ACTIVE.search(data):
            raise _refused("the PDF carries scripts or attachments")
        return PDF
    raise _refused("only JPEG, PNG and PDF files are accepted")
