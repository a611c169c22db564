"""Frames -> QR texts, and the camera loop that turns a stream of frames into scans.

zxing-cpp is the default decoder (issue 4 measured it against pyzbar and OpenCV). When its first read of a
frame fails, a few cheap retries on a changed copy (half size, a global threshold, strong sharpening, a median
filter) read codes that noise, darkness, haze or defocus kept from it; a frame it reads at once costs nothing
more. pyzbar is the alternative backend (it needs the system library libzbar0).

A live camera gives many frames of one held-up pass: the camera loop reads a frame that is not read alone together
with its predecessors (``BurstReader``: aligned, averaged, the clearest tiles of each), which reads through moving
glare and sensor noise that spoil every single frame; a frame smeared by a shake, which averaging cannot help, is
deconvolved along its smear (bench/bench_hardlight.py measures both).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import zxingcpp

from checkpoint_client import frames
from checkpoint_client.frames import MAX_IMAGE_BYTES, Frame, FrameSource, load_image
from passcore.errors import InputError

__all__ = [
    "BACKENDS",
    "MAX_IMAGE_BYTES",
    "BurstReader",
    "CameraLoop",
    "Decoded",
    "Decoder",
    "Repeats",
    "Scan",
    "decode_frame",
    "decode_image_file",
    "load_image",
]

log = logging.getLogger(__name__)
BACKENDS = ("zxing", "pyzbar")
DARK_LUMA = 50.0  # mean luma (0–255) under which the officer is told to switch on the torch
DIM_LUMA, FLAT_CONTRAST = 90.0, 16.0  # a dim frame whose luma barely varies needs light as well
_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
# zxing-cpp 3's QRCode is the whole family. A Micro QR M1 symbol (error detection, no correction) turns up in dark,
# noisy frames out of nothing ("409518" read from a night frame's glare), so only standard QR reads count; the
# family is still searched, as that reads more blurred standard codes than asking for model 2 alone (96 against 90
# of 120 frames of moderate blur, bench_hardlight's set). Micro-sized candidates found in a glare spot are not
# "a code seen" either: the burst reader would combine the wrong region.
_NOT_QR = (zxingcpp.BarcodeFormat.MicroQRCode, zxingcpp.BarcodeFormat.RMQRCode)


# A shake (bench_hardlight's moderate motion blur) leaves a frame's edges one-sided: the weaker direction's
# gradient energy under half the stronger one's. Every other moderate group measured 0.51 or more, smeared frames
# 0.38 at their median; some severe glare, steep tilt and mixed frames fall below and pay for a try in vain.
SHAKEN_BELOW = 0.5
# Shake lengths tried, in 720p pixels, shortest first: a hand's shake over one exposure. They span about what
# bench_hardlight's moderate shakes measure (5–15 px, any direction); longer ones (severe, up to 24 px) are read
# only where a frame's shake happened to be short. Not tuned further: a real shake varies.
SHAKE_LENGTHS = (7.0, 11.0, 15.0)


Corners = tuple[tuple[int, int], ...]  # a code's four corners in the frame, clockwise from top left


@dataclass(frozen=True)
class Decoded:
    texts: tuple[str, ...]  # QR texts read in this frame, in reading order, each once (may be empty)
    brightness: float  # mean luma 0–255
    too_dark: bool  # suggest the torch / more light
    detected_unread: bool  # a code was seen but not read (hint: hold steady / closer); zxing-cpp only
    contrast: float = 0.0  # standard deviation of luma
    unread_at: tuple[
        Corners, ...
    ] = ()  # where codes were seen but not read (zxing-cpp; for the burst reader)


def _zxing(gray: np.ndarray, binarizer: Any = None) -> tuple[list[str], list[Corners]]:
    """Texts read, and where codes were found that could not be read."""
    options = {"binarizer": binarizer} if binarizer is not None else {}
    results = zxingcpp.read_barcodes(gray, formats=_QR, return_errors=True, **options)
    texts = [r.text for r in results if r.valid and r.text and r.format not in _NOT_QR]
    unread = [_corners(r.position) for r in results if not r.valid and r.format not in _NOT_QR]
    return texts, unread


def _corners(p: Any) -> Corners:
    return tuple((q.x, q.y) for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left))


def _retries(gray: np.ndarray, unread: list[Corners]) -> Iterator[tuple[list[str], bool]]:
    """Reads of changed copies of a frame whose first read failed, cheapest and most useful first (measured
    with bench/bench_decode.py); yields the texts and whether a code was seen. Half size and a global threshold
    run on every such frame (a quarter of their rescues are frames where nothing was seen); the rest only where
    zxing-cpp found a code it could not read, so an empty frame stays cheap."""
    texts, seen = _zxing(frames.halve(gray))  # (its corners are in half-size pixels: not kept)
    yield texts, bool(seen)
    texts, seen = _zxing(frames.otsu(gray))
    unread += seen
    yield texts, bool(seen)
    if not unread:
        return
    # Where a code was found but not read: its region enlarged and sharpened (finer modules for the binarizer),
    # the whole frame sharpened (in case the region was wrong), the region's contrast stretched tile by tile.
    region = frames.crop(gray, unread[0])
    for change in (
        lambda: frames.unsharp(region, 3.0, 3.0),
        lambda: frames.unsharp(gray),
        lambda: frames.clahe(region),
    ):
        texts, seen = _zxing(change())
        yield texts, bool(seen)


def _pyzbar_module() -> Any:
    try:
        from pyzbar import pyzbar
    except (ImportError, OSError) as err:  # pyzbar loads libzbar when it is imported
        raise InputError(
            "the pyzbar decoder needs the system library libzbar0 (apt-get install libzbar0), "
            "or use --decoder zxing",
            code="DECODER_UNAVAILABLE",
        ) from err
    return pyzbar


class Decoder:
    """One frame -> ``Decoded``. ``retries=False`` is plain zxing-cpp (kept for comparison)."""

    def __init__(self, backend: str = "zxing", *, retries: bool = True) -> None:
        if backend not in BACKENDS:
            raise InputError(
                f"unknown decoder {backend!r}: choose {' or '.join(BACKENDS)}", code="DECODER_UNAVAILABLE"
            )
        self.backend = backend
        self.retries = retries and backend == "zxing"
        self._pyzbar = _pyzbar_module() if backend == "pyzbar" else None

    def decode(self, image: np.ndarray) -> Decoded:
        gray = frames.to_gray(frames.check_image(image))
        sample = gray[::4, ::4]  # a sixteenth of the pixels estimates exposure as well as all of them
        brightness, contrast = float(sample.mean()), float(sample.std())
        unread: list[Corners] = []
        if self._pyzbar is not None:
            found = self._pyzbar.decode(gray, symbols=[self._pyzbar.ZBarSymbol.QRCODE])
            texts, detected = [r.data.decode("utf-8", "replace") for r in found if r.data], False
        else:
            texts, unread = _zxing(gray)
            detected = bool(unread)
            for retried, seen in _retries(gray, unread) if self.retries and not texts else ():
                detected = detected or seen
                if retried:
                    texts = retried
                    break
        return Decoded(
            texts=tuple(dict.fromkeys(texts)),
            brightness=round(brightness, 1),
            too_dark=brightness < DARK_LUMA or (brightness < DIM_LUMA and contrast < FLAT_CONTRAST),
            detected_unread=detected and not texts,
            contrast=round(contrast, 1),
            unread_at=() if texts else tuple(unread),
        )


class _Seen:
    """A recent frame, and its grey copy once one was needed (each frame takes part in several bursts)."""

    __slots__ = ("_gray", "at", "image")

    def __init__(self, at: float, image: np.ndarray) -> None:
        self.at, self.image = at, image
        self._gray: np.ndarray | None = None

    def gray(self) -> np.ndarray:
        if self._gray is None:
            self._gray = frames.to_gray(frames.check_image(self.image))
        return self._gray


class BurstReader:
    """A camera's recent frames read together when the newest alone is not read.

    A live camera sends 30 frames a second of one pass held up: what spoils one frame (sensor noise in the dark,
    a lamp's glare that moves as the card tilts, a shake) changes from frame to frame while the code does not.
    So when a frame is not read, the region where a code was seen is cut from the last few frames, each shifted
    onto the newest (the card drifts in the hand), and read as their average (noise) and as a mosaic of the
    clearest tiles (glare). Only where a code was seen in the last ``window_s``: the empty lane costs nothing.
    What is read is a text zxing-cpp found, its error correction intact, in frames of that moment; a pass is
    accepted only after its signature is verified anyway."""

    def __init__(self, decoder: Decoder, *, depth: int = 6, window_s: float = 0.4) -> None:
        self.decoder, self.depth, self.window_s = decoder, depth, window_s
        self.enabled = decoder.backend == "zxing" and decoder.retries
        self._recent: deque[_Seen] = deque(maxlen=depth)
        self._lock = threading.Lock()  # the camera loop's reading thread remembers, its decoding thread reads
        self._seen: tuple[float, Corners] | None = None  # the newest place a code was seen, and when

    def remember(self, image: np.ndarray, at: float) -> None:
        """A frame the camera loop had no time to decode still joins the burst."""
        if self.enabled:
            with self._lock:
                self._recent.append(_Seen(at, image))

    def read(self, image: np.ndarray, at: float) -> Decoded:
        """``image`` decoded (``Decoder.decode``); if nothing is read, the recent frames with it combined."""
        decoded = self.decoder.decode(image)
        if not self.enabled:
            return decoded
        with self._lock:
            self._recent.append(_Seen(at, image))
            if decoded.texts:
                self._recent.clear()  # the code is read: its frames have nothing more to give
        if decoded.texts:
            self._seen = None
            return decoded
        if decoded.unread_at:
            self._seen = (at, decoded.unread_at[0])
        texts = self._combined(at) or self._unshaken(image)
        if not texts:
            return decoded
        return replace(decoded, texts=texts, detected_unread=False, unread_at=())

    def _unshaken(self, image: np.ndarray) -> tuple[str, ...]:
        """A frame smeared by a shake, the shake undone. Averaging aligned frames cannot help there (every
        frame is smeared, each its own way), and zxing-cpp rarely even finds the smeared code, so there is no
        region to go by: the whole frame is deconvolved, along the direction its edges say it was smeared, for
        a few shake lengths. Only frames whose edges are clearly one-sided pay for it (about 100 ms on a 720p
        frame; a still card under glare, noise or darkness measures above ``SHAKEN_BELOW``), and only
        ``len(SHAKE_LENGTHS)`` tries a frame, so the camera loop stays on time."""
        gray = frames.to_gray(frames.check_image(image))
        angle, evenness = frames.shake_direction(gray)
        if evenness >= SHAKEN_BELOW:
            return ()
        for restored in frames.unshaken(gray, angle, SHAKE_LENGTHS):
            texts, _ = _zxing(restored)
            if texts:
                return tuple(dict.fromkeys(texts))
        return ()

    def _combined(self, at: float) -> tuple[str, ...]:
        if self._seen is None or at - self._seen[0] > self.window_s:
            return ()
        with self._lock:
            recent = sorted(self._recent, key=lambda entry: entry.at)
        now = [entry for entry in recent if 0 <= at - entry.at <= self.window_s]
        if len(now) < 2:
            return ()
        grays = [entry.gray() for entry in now]
        if any(g.shape != grays[-1].shape for g in grays):
            return ()
        crops = frames.aligned(grays, frames.box_around(self._seen[1], grays[-1].shape))
        if len(crops) < 2:
            return ()
        for combine in (frames.mean_of, frames.best_tiles):
            texts, _ = _zxing(combine(crops))
            if texts:
                return tuple(dict.fromkeys(texts))
        return ()


def decode_frame(frame: Any, backend: str = "zxing") -> list[str]:
    """QR texts in one picture (a Pillow image or a numpy array)."""
    image = frame if isinstance(frame, np.ndarray) else np.asarray(frame.convert("L"))
    return list(Decoder(backend).decode(image).texts)


def decode_image_file(path: Path, backend: str = "zxing") -> list[str]:
    """QR texts in an image file (used by `checkpoint verify IMAGE`); ``InputError`` for a bad file."""
    return list(Decoder(backend).decode(frames.read_image_file(Path(path))).texts)


# --- scans from a stream of frames --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    text: str
    frame_index: int
    source_name: str
    captured_at: float  # monotonic, when the frame was read
    decoded_at: float  # monotonic, when decoding finished


class Repeats:
    """Which texts of a frame are new scans. A pass held in front of the camera is one scan, even when some
    frames in between fail to read it; it counts again only after it has been absent ``repeat_after_s``."""

    def __init__(self, repeat_after_s: float = 3.0) -> None:
        self.repeat_after_s = repeat_after_s
        self._last_seen: dict[str, float] = {}
        self._previous: frozenset[str] = frozenset()

    def new(self, texts: Iterable[str], at: float) -> list[str]:
        current = list(dict.fromkeys(texts))
        fresh = [
            t
            for t in current
            if t not in self._previous
            and (t not in self._last_seen or at - self._last_seen[t] >= self.repeat_after_s)
        ]
        self._last_seen.update(dict.fromkeys(current, at))
        self._last_seen = {
            t: s for t, s in self._last_seen.items() if at - s < self.repeat_after_s or t in current
        }
        self._previous = frozenset(current)
        return fresh


class CameraLoop:
    """Reads frames in one thread and decodes the newest in another. A frame that arrives while one is being
    decoded replaces it and is counted as dropped: decoding never falls behind the camera. An unpaced file
    source (``fps=None``) is the exception: a file can wait, so every frame of it is decoded."""

    def __init__(
        self,
        source: FrameSource,
        decoder: Decoder,
        on_scan: Callable[[Scan], None],
        *,
        repeat_after_s: float = 3.0,
        burst: bool = True,
        on_seen: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.source, self.decoder, self.on_scan = source, decoder, on_scan
        # Every decoded frame's texts, after its scans: the screen's desk tells a pass still in view from one back.
        self.on_seen = on_seen
        self._repeats = Repeats(repeat_after_s)
        # The live camera's many frames: a frame not read alone is read with its predecessors (BurstReader).
        self._burst = BurstReader(decoder) if burst else None
        self._wait_for_decoder = not source.realtime and source.pace is None
        self._cond = threading.Condition()
        self._pending: Frame | None = None
        self._latest: Frame | None = None
        self._jpeg: tuple[int, bytes] | None = None
        self._reading_done = self._stopping = self._ended = False
        self._counts = {"frames": 0, "dropped": 0, "decoded": 0, "scans": 0}
        self._last: Decoded | None = None
        self._error: str | None = None
        self._times: deque[float] = deque(maxlen=60)
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self._threads:
            return
        self._threads = [
            threading.Thread(target=self._read, name="camera-read", daemon=True),
            threading.Thread(target=self._decode, name="camera-decode", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.source.close()  # ends a paced wait at once
        for thread in self._threads:
            thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the source has ended and its last frame is decoded; True if it has."""
        with self._cond:
            return self._cond.wait_for(lambda: self._ended, timeout)

    def latest_jpeg(self) -> bytes | None:
        """The newest frame as JPEG, for the live picture (encoded once per frame, when asked for)."""
        with self._cond:
            frame, cached = self._latest, self._jpeg
        if frame is None:
            return None
        if cached is not None and cached[0] == frame.index:
            return cached[1]
        data = frames.encode_jpeg(frame.image)
        with self._cond:
            self._jpeg = (frame.index, data)
        return data

    def status(self) -> dict[str, Any]:
        with self._cond:
            times, last = list(self._times), self._last
            fps = (
                (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
            )
            return self._counts | {
                "too_dark": bool(last and last.too_dark),
                "detected_unread": bool(last and last.detected_unread),
                "brightness": last.brightness if last else None,
                "fps": round(fps, 1),
                "error": self._error,
                "ended": self._ended,
                "skipped": len(self.source.skipped),
            }

    def _fail(self, message: str) -> None:
        log.error("camera loop: %s", message)
        with self._cond:
            self._error = message

    def _read(self) -> None:
        try:
            for frame in self.source:
                with self._cond:
                    if self._wait_for_decoder:
                        self._cond.wait_for(lambda: self._pending is None or self._stopping)
                    if self._stopping:
                        break
                    self._counts["frames"] += 1
                    if self._pending is not None:
                        self._counts["dropped"] += 1
                        if self._burst is not None:
                            self._burst.remember(self._pending.image, self._pending.captured_at)
                    self._pending = self._latest = frame
                    self._times.append(frame.captured_at)
                    self._cond.notify_all()
        except InputError as err:
            self._fail(err.message)
        except Exception as err:  # a camera driver or codec failure must show, not kill the thread silently
            log.exception("camera loop: reading failed")
            self._fail(f"reading frames failed: {type(err).__name__}: {err}")
        finally:
            self.source.close()
            with self._cond:
                self._reading_done = True
                self._cond.notify_all()

    def _decode(self) -> None:
        try:
            while (frame := self._next_frame()) is not None:
                self._decode_one(frame)
        except Exception as err:  # a bug here must show in the status, and must not leave the reader waiting
            log.exception("camera loop: the decoding thread failed")
            self._fail(f"the decoding thread failed: {type(err).__name__}: {err}")
            with self._cond:
                self._stopping = self._ended = True
                self._cond.notify_all()

    def _next_frame(self) -> Frame | None:
        """The newest frame, once there is one; None when stopped or when the source has ended."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending is not None or self._reading_done or self._stopping)
            frame, self._pending = self._pending, None
            if self._stopping or frame is None:
                self._ended = True
                frame = None
            self._cond.notify_all()
            return frame

    def _decode_one(self, frame: Frame) -> None:
        try:
            if self._burst is not None:
                decoded = self._burst.read(frame.image, frame.captured_at)
            else:
                decoded = self.decoder.decode(frame.image)
        except Exception as err:  # one bad frame must not stop the camera
            log.exception("camera loop: decoding frame %s failed", frame.index)
            self._fail(f"decoding failed: {type(err).__name__}: {err}")
            return
        done = time.monotonic()
        with self._cond:
            self._counts["decoded"] += 1
            self._last = decoded
            fresh = self._repeats.new(decoded.texts, frame.captured_at)
            self._counts["scans"] += len(fresh)
        for text in fresh:
            try:
                self.on_scan(Scan(text, frame.index, frame.name, frame.captured_at, done))
            except Exception as err:
                log.exception("camera loop: on_scan failed")
                self._fail(f"handling a scan failed: {type(err).__name__}: {err}")
        if self.on_seen is not None and decoded.texts:
            try:
                self.on_seen(list(decoded.texts))
            except Exception as err:
                log.exception("camera loop: on_seen failed")
                self._fail(f"handling a sighting failed: {type(err).__name__}: {err}")
