"""Where pictures come from: a webcam, a video file or a folder of images, as one ``FrameSource``.

This is the only module that imports OpenCV (a test keeps it so); the decoder's pixel operations live here too.
Images are hostile input: a file's size and pixel count are bounded before it is decoded, and a folder's
unreadable files are skipped with a note (``FrameSource.skipped``) instead of stopping the scan.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from passcore.errors import InputError

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "Frame",
    "FrameSource",
    "check_image",
    "encode_jpeg",
    "load_image",
    "open_source",
    "read_image_file",
]

log = logging.getLogger(__name__)
# OpenCV prints its own warnings for an absent camera or an unreadable video; we report those ourselves.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

MAX_IMAGE_BYTES = 25 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # a 48-megapixel phone photo is the largest anyone has a reason to send
# Raster formats only: Pillow would hand EPS or PDF-like files to external programs.
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
_CAMERA_FAILURES = 30  # consecutive empty reads (about a second) before a camera counts as gone


@dataclass(frozen=True)
class Frame:
    index: int  # 0, 1, 2 … in source order (a looping source keeps counting)
    name: str  # the file name for a folder source, "frame N" for a video or a webcam
    image: np.ndarray  # BGR uint8, as OpenCV gives it
    captured_at: float  # time.monotonic() when read


# --- single images ------------------------------------------------------------------------------------------


def load_image(data: bytes, name: str = "image") -> Image.Image:
    """Bytes of an image file -> a Pillow image in L or RGB; ``InputError(IMAGE_INVALID)`` for anything else."""
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError(
            f"{name} is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB", code="IMAGE_INVALID"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS)
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


def read_image_file(path: Path) -> np.ndarray:
    """An image file -> a BGR (or grey) uint8 array, bounded like ``load_image``."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_IMAGE_BYTES + 1)  # one byte over the limit is enough to refuse it
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}", code="IMAGE_INVALID") from err
    pixels = np.asarray(load_image(data, path.name))
    return np.ascontiguousarray(pixels[:, :, ::-1]) if pixels.ndim == 3 else pixels


def check_image(image: object) -> np.ndarray:
    """A frame the decoders accept: uint8, grey or BGR(A), non-empty, at most MAX_IMAGE_PIXELS."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InputError("a frame must be a uint8 numpy array", code="IMAGE_INVALID")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise InputError(f"a frame must be grey or BGR, not shape {image.shape}", code="IMAGE_INVALID")
    pixels = image.shape[0] * image.shape[1]
    if pixels == 0 or pixels > MAX_IMAGE_PIXELS:
        raise InputError(
            f"a frame of {image.shape[1]}×{image.shape[0]} pixels is refused", code="IMAGE_INVALID"
        )
    return image


def encode_jpeg(image: np.ndarray, quality: int = 70) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise InputError("this frame cannot be encoded as JPEG", code="IMAGE_INVALID")
    return data.tobytes()


# --- pixel operations for the decoder's retries (kept here so OpenCV stays in one module) --------------------


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return image[:, :, 0].copy() if image.shape[2] == 1 else cv2.cvtColor(image, code)


def halve(gray: np.ndarray) -> np.ndarray:
    """Half size, averaging: sensor noise and JPEG blocks shrink faster than the modules."""
    return cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)


def otsu(gray: np.ndarray) -> np.ndarray:
    """One global threshold chosen from the histogram: holds up where dark or flat frames fool a local one."""
    return cv2.threshold(cv2.blur(gray, (3, 3)), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]


def unsharp(gray: np.ndarray, sigma: float = 2.0, amount: float = 6.0) -> np.ndarray:
    """Strong unsharp masking: gives defocused module edges back their step."""
    return cv2.addWeighted(gray, 1 + amount, cv2.GaussianBlur(gray, (0, 0), sigma), -amount, 0)


def clahe(gray: np.ndarray) -> np.ndarray:
    """Contrast stretched tile by tile: a glare-washed or shadowed part of a code gets its range back."""
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(gray)


def crop(gray: np.ndarray, corners: Sequence[tuple[int, int]], *, side: int = 640) -> np.ndarray:
    """The box around ``corners`` with a 30 % margin (the quiet zone and a little more), enlarged (up to 3×) so
    its longer side is about ``side`` pixels: small codes get finer modules, big ones cost no more than a frame."""
    points = np.array(corners, np.float32).reshape(-1, 2)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    margin = 0.3 * max(x1 - x0, y1 - y0, 8)
    height, width = gray.shape[:2]
    left, top = int(max(0, x0 - margin)), int(max(0, y0 - margin))
    right, bottom = int(min(width, x1 + margin + 1)), int(min(height, y1 + margin + 1))
    region = gray[top:bottom, left:right]
    if region.size == 0:
        return gray
    scale = min(3.0, side / max(region.shape))
    if scale <= 1.0:
        return np.ascontiguousarray(region)
    return cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)


# --- combining a burst of frames (the decoder's reading of a camera's recent frames together) ---------------


def box_around(corners: Sequence[tuple[int, int]], shape: tuple[int, ...], *, margin: float = 0.35) -> Box:
    """The box (left, top, right, bottom) around ``corners`` with a margin wide enough for the hand's drift
    over a burst and the quiet zone."""
    points = np.array(corners, np.float32).reshape(-1, 2)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    pad = margin * max(x1 - x0, y1 - y0, 16)
    height, width = shape[:2]
    return (
        int(max(0, x0 - pad)),
        int(max(0, y0 - pad)),
        int(min(width, x1 + pad + 1)),
        int(min(height, y1 + pad + 1)),
    )


Box = tuple[int, int, int, int]
_ALIGN_SIDE = 192  # pixels: the shift between two frames is measured on copies this size (sub-pixel anyway)
_MIN_RESPONSE = 0.04  # a phase correlation peak weaker than this is not the same card: the frame is left out


def _structure(gray: np.ndarray) -> np.ndarray:
    """Module edges without the slow shading: a moving glare spot or a sliding reflection would otherwise pull
    the correlation towards itself."""
    image = gray.astype(np.float32)
    return cv2.GaussianBlur(image, (0, 0), 1.0) - cv2.GaussianBlur(image, (0, 0), 4.0)


def aligned(grays: Sequence[np.ndarray], box: Box) -> list[np.ndarray]:
    """``box`` of each frame, shifted onto the last frame's (the card drifts in the hand between frames);
    a frame whose content does not match the last one's (another card, a hand across it) is left out."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    if width < 16 or height < 16:
        return [np.ascontiguousarray(grays[-1][top:bottom, left:right])]
    scale = min(1.0, _ALIGN_SIDE / max(width, height))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    window = cv2.createHanningWindow(size, cv2.CV_32F)

    def small(gray: np.ndarray) -> np.ndarray:
        region = gray[top:bottom, left:right]
        return _structure(cv2.resize(region, size, interpolation=cv2.INTER_AREA) if scale < 1 else region)

    reference = small(grays[-1])
    crops = []
    for gray in grays[:-1]:
        (dx, dy), response = cv2.phaseCorrelate(reference, small(gray), window)
        dx, dy = dx / scale, dy / scale
        if response < _MIN_RESPONSE or abs(dx) > width / 4 or abs(dy) > height / 4:
            continue
        shift = np.array([[1, 0, left + dx], [0, 1, top + dy]], np.float32)
        crops.append(
            cv2.warpAffine(
                gray,
                shift,
                (width, height),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )
        )
    crops.append(np.ascontiguousarray(grays[-1][top:bottom, left:right]))
    return crops


def mean_of(crops: Sequence[np.ndarray]) -> np.ndarray:
    """The average of aligned frames: sensor noise falls with the square root of their number."""
    total = np.zeros(crops[0].shape, np.float32)
    for crop in crops:
        cv2.accumulate(crop, total)
    return cv2.convertScaleAbs(total, alpha=1.0 / len(crops))


def best_tiles(crops: Sequence[np.ndarray], *, tile: int = 24) -> np.ndarray:
    """Each small tile taken from the frame where it shows most contrast without being washed out: a glare
    spot that moves as the card tilts leaves every part of the code clear in some frame."""
    stack = np.stack(crops)
    count, height, width = stack.shape
    rows, cols = height // tile, width // tile
    result = mean_of(crops)
    if rows == 0 or cols == 0:
        return result
    scores = np.empty((count, rows, cols), np.float32)
    for i, crop in enumerate(
        crops
    ):  # a tile's mean and spread from area-averaged copies: no per-pixel floats
        part = crop[: rows * tile, : cols * tile].astype(np.float32)
        mean = cv2.resize(part, (cols, rows), interpolation=cv2.INTER_AREA)
        spread = np.sqrt(
            np.maximum(cv2.resize(part * part, (cols, rows), interpolation=cv2.INTER_AREA) - mean**2, 0)
        )
        scores[i] = spread - 2.0 * np.maximum(0.0, mean - 200.0)  # near white: glare, not paper and ink
    best = scores.argmax(axis=0)
    tiles = stack[:, : rows * tile, : cols * tile].reshape(count, rows, tile, cols, tile)
    picked = np.take_along_axis(tiles, best[None, :, None, :, None], axis=0)
    result[: rows * tile, : cols * tile] = picked.reshape(rows * tile, cols * tile)
    return result


# --- a shake undone (the decoder's last try on a frame smeared by motion) ----------------------------------


def shake_direction(gray: np.ndarray) -> tuple[float, float]:
    """The direction (radians) a shake smeared the frame along, and how one-sided the frame's edges are
    (smallest over largest gradient energy, 0…1). A shake blurs the whole picture, scene and card, along one
    line: edges across that line fade while edges along it stay, whereas a QR code and a street have edges
    both ways. Measured on a half-size copy (the direction does not need every pixel)."""
    small = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA).astype(np.float32)
    gx, gy = cv2.Sobel(small, cv2.CV_32F, 1, 0), cv2.Sobel(small, cv2.CV_32F, 0, 1)
    xx, yy, xy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    half_sum, half_gap = (xx + yy) / 2, float(np.hypot((xx - yy) / 2, xy))
    if half_sum + half_gap <= 0:
        return 0.0, 1.0  # a flat frame: nothing smeared, nothing to undo
    strongest = 0.5 * float(np.arctan2(2 * xy, xx - yy))  # the gradients' main direction, across the smear
    return strongest + np.pi / 2, (half_sum - half_gap) / (half_sum + half_gap)


def _line_otf(length: float, angle: float, shape: tuple[int, int]) -> np.ndarray:
    """The spectrum of a straight smear ``length`` pixels long at ``angle`` (a shake during the exposure)."""
    size = 2 * (int(length) // 2) + 3
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = np.cos(angle) * (length - 1) / 2, np.sin(angle) * (length - 1) / 2
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    full = np.zeros(shape, np.float32)
    full[:size, :size] = kernel / kernel.sum()
    return np.fft.rfft2(np.roll(full, (-c, -c), (0, 1)))


def unshaken(
    gray: np.ndarray, angle: float, lengths: Sequence[float], *, noise: float = 0.01
) -> Iterator[np.ndarray]:
    """``gray`` with a straight smear along ``angle`` undone (Wiener deconvolution), one copy per guessed
    length, shortest first. How long a shake was cannot be read off a frame cheaply and a real one varies, so
    the decoder tries a few; ``noise`` keeps the filter from amplifying sensor noise and JPEG blocks where the
    smear wiped a frequency out. The frame's spectrum is computed once for all lengths; the border is mirrored
    so that the frame's edges do not ring into the picture."""
    pad = int(max(lengths, default=0)) + 2
    padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REFLECT).astype(np.float32)
    spectrum = np.fft.rfft2(padded)
    for length in lengths:
        otf = _line_otf(length, angle, padded.shape)
        restored = np.fft.irfft2(spectrum * np.conj(otf) / (np.abs(otf) ** 2 + noise), s=padded.shape)
        yield np.clip(restored[pad:-pad, pad:-pad], 0, 255).astype(np.uint8)


# --- sources ------------------------------------------------------------------------------------------------


class FrameSource:
    """An iterable of ``Frame``; a context manager; ``close()`` releases the device or file."""

    realtime = False  # a webcam: frames come at its pace and cannot wait
    kind = "source"

    def __init__(self, description: str, *, fps: float | None = None, loop: bool = False) -> None:
        if fps is not None and not 0 < fps <= 240:
            raise InputError(f"fps must be between 0 and 240, not {fps}", code="SOURCE_UNAVAILABLE")
        self.description = description
        self.pace = fps  # None: as fast as the reader asks
        self.loop = loop
        self.fps = fps or 30.0  # nominal frame rate (a video's own rate when it declares one)
        self.skipped: list[tuple[str, str]] = []  # (file name, why) for a folder's unreadable files
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[Frame]:
        index, started = 0, time.monotonic()
        while not self._closed.is_set():
            produced = False
            for name, image in self._read_once():
                if self.pace:  # behave like a camera: frame N at N/fps seconds
                    delay = started + index / self.pace - time.monotonic()
                    if delay > 0 and self._closed.wait(delay):
                        return
                if self._closed.is_set():
                    return
                yield Frame(index, name or f"frame {index}", image, time.monotonic())
                index += 1
                produced = True
            if not (self.loop and produced):
                return
            self._rewind()

    def _read_once(self) -> Iterator[tuple[str | None, np.ndarray]]:
        raise NotImplementedError

    def _rewind(self) -> None:
        pass

    def close(self) -> None:
        self._closed.set()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _CaptureSource(FrameSource):
    """A webcam or a video file, both read through OpenCV's VideoCapture."""

    def __init__(self, capture: cv2.VideoCapture, description: str, **kwargs) -> None:
        super().__init__(description, **kwargs)
        self._capture = capture
        self._lock = threading.Lock()  # close() may come from another thread while a read is running
        width, height = capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
        if width * height > MAX_IMAGE_PIXELS:
            self.close()
            raise InputError(
                f"{description}: frames of {width:.0f}×{height:.0f} are too large", code="SOURCE_UNAVAILABLE"
            )
        declared = capture.get(cv2.CAP_PROP_FPS)
        if kwargs.get("fps") is None and 0 < declared <= 240:
            self.fps = declared

    def _read_once(self) -> Iterator[tuple[str | None, np.ndarray]]:
        failures = 0
        while not self._closed.is_set():
            with self._lock:
                ok, image = self._capture.read() if self._capture.isOpened() else (False, None)
            if ok and image is not None:
                failures = 0
                yield None, check_image(image)
            elif self.realtime and failures < _CAMERA_FAILURES and not self._closed.is_set():
                failures += 1  # a webcam may miss a frame or two; a gone one misses them all
                time.sleep(0.03)
            elif self.realtime and not self._closed.is_set():
                raise InputError(f"{self.description} stopped sending pictures", code="SOURCE_UNAVAILABLE")
            else:
                return

    def _rewind(self) -> None:
        with self._lock:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)

    def close(self) -> None:
        super().close()
        with self._lock:
            self._capture.release()


class CameraSource(_CaptureSource):
    realtime = True
    kind = "camera"


class VideoSource(_CaptureSource):
    kind = "video"


class FolderSource(FrameSource):
    """Image files in name order; one that cannot be read is noted in ``skipped`` and passed over."""

    kind = "folder"

    def __init__(self, files: list[Path], description: str, **kwargs) -> None:
        super().__init__(description, **kwargs)
        self._files = files

    def _read_once(self) -> Iterator[tuple[str | None, np.ndarray]]:
        for path in self._files:
            try:
                image = read_image_file(path)
            except InputError as err:
                if (path.name, err.message) not in self.skipped:
                    self.skipped.append((path.name, err.message))
                    log.warning("skipped %s: %s", path.name, err.message)
                continue
            yield path.name, image


def _unavailable(message: str) -> InputError:
    return InputError(message, code="SOURCE_UNAVAILABLE")


def _open_camera(index: int, **kwargs) -> FrameSource:
    if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
        raise _unavailable(
            f"no camera {index} (/dev/video{index} does not exist): connect a webcam, "
            "or give a video file or a folder of images"
        )
    backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
    capture = cv2.VideoCapture(index, backend)
    if not capture.isOpened():
        raise _unavailable(f"camera {index} cannot be opened (in use by another program, or no permission?)")
    # Most webcams give 1280×720 at full rate only as Motion-JPEG; a one-frame buffer keeps the picture fresh.
    capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
    capture.set(cv2.CAP_PROP_FRAME_WIDTH, 1280)
    capture.set(cv2.CAP_PROP_FRAME_HEIGHT, 720)
    capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return CameraSource(capture, f"camera {index}", **kwargs)


def _open_video(path: Path, **kwargs) -> FrameSource:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    ok = capture.isOpened() and capture.read()[0]  # some files open but hold nothing that decodes
    if not ok:
        capture.release()
        raise _unavailable(f"{path} is not a video file this program can read")
    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
    return VideoSource(capture, str(path), **kwargs)


def open_source(spec: str, *, fps: float | None = None, loop: bool = False) -> FrameSource:
    """``spec``: "0", "1"… a webcam index; a video file; a folder of images (name order); one image file.

    ``fps`` paces a file source like a camera (None: as fast as it is read); ``loop`` restarts it at the end.
    Write ``./0`` for a file or folder whose name is a number.
    """
    spec = str(spec).strip()
    if spec.isdigit() and len(spec) <= 3:
        return _open_camera(int(spec), fps=fps, loop=loop)
    path = Path(spec)
    if not spec or not path.exists():
        raise _unavailable(f"{spec or 'an empty name'}: no such file, folder or camera index")
    if path.is_dir():
        try:
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        except OSError as err:
            raise _unavailable(f"cannot list {path}: {err.strerror or err}") from err
        if not files:
            raise _unavailable(f"folder {path} has no files to read")
        return FolderSource(files, str(path), fps=fps, loop=loop)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return FolderSource([path], str(path), fps=fps, loop=loop)
    if not path.is_file():
        raise _unavailable(f"{path} is neither a file nor a folder")
    return _open_video(path, fps=fps, loop=loop)
