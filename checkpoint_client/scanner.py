"""Frames and image files -> QR texts, with zxing-cpp.

Image files are hostile input: their size and pixel count are bounded before decoding, and anything Pillow
cannot read is an ``InputError``.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import zxingcpp
from PIL import Image, UnidentifiedImageError

from passcore.errors import InputError

__all__ = ["MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS", "decode_frame", "decode_image_file", "load_image"]

MAX_IMAGE_BYTES = 25 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # a 48-megapixel phone photo is the largest anyone has a reason to send
# Raster formats only: Pillow would hand EPS or PDF-like files to external programs.
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")


def load_image(data: bytes, name: str = "image") -> Image.Image:
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError(
            f"{name} is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB", code="IMAGE_INVALID"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise InputError(
                    f"{name} has too many pixels ({image.width}×{image.height})", code="IMAGE_INVALID"
                )
            image.load()
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise InputError(f"{name} is not an image file this program can read", code="IMAGE_INVALID") from err
    except (OSError, ValueError, SyntaxError, EOFError) as err:  # truncated or corrupt image data
        raise InputError(f"{name} is damaged or truncated ({err})", code="IMAGE_INVALID") from err
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    return image


def decode_frame(frame: Any) -> list[str]:
    """QR texts in one frame (a PIL image or a numpy array), in reading order; binary codes are skipped."""
    results = zxingcpp.read_barcodes(frame, formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in results if r.valid and r.text]


def decode_image_file(path: Path) -> list[str]:
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_IMAGE_BYTES + 1)  # one byte over the limit is enough to refuse it
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}", code="IMAGE_INVALID") from err
    return decode_frame(load_image(data, path.name))
