"""The rig for bench_latency.py: the camera (real signed passes held up in front of a webcam, as a Motion-JPEG
video) and the instruments on the screen's decoder and desk.

The frames are tests/framegen.make_sequence's (1280×720, a cab-like scene, the pass card drifting in the hand);
two frames of each pass and one of the empty lane after it are made once into a cache folder, then repeated into a
video at the camera's rate: the lane, then each pass held up for a moment, the lane again, and so on.
"""

from __future__ import annotations

import bisect
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2

from checkpoint_client.decoding import Decoder
from checkpoint_client.screen import ScanDesk
from passcore import wire
from tests import factories, framegen

LEAD_S = 1.5  # empty lane before the first pass: the page settles, the decoder warms up


def make_passes(count: int) -> list[str]:
    """``count`` real signed passes (the test issuer key), valid for years: the same texts, hence the same
    frames, on every run."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    plates = ("苏EA1234", "沪B52819", "鄂A7Q311", "浙C9K027", "皖A0M562", "苏E5D830")
    escorts = factories.make_claims().escorts
    texts = []
    for i in range(count):
        claims = factories.make_claims(
            pass_id=f"{i:06x}a1b2c3d4e5f60718"[:24],
            serial=f"320583-{i + 500:06d}",
            plate=plates[i % len(plates)],
            escorts=escorts[: i % 3],
            issued_at=start,
            valid_from=start,
            valid_until=start + timedelta(days=3650),
        )
        texts.append(wire.encode(claims, framegen.sample_key()))
    return texts


def unique_frames(count: int, seed: int, cache: Path) -> dict[str, Any]:
    """Two frames of each pass held up and one of the empty lane after it, made once into ``cache``."""
    index = cache / "index.json"
    if not index.exists():
        texts = make_passes(count)
        made = framegen.make_sequence(texts, hold=2, gap=1, seed=seed)
        for k, frame in enumerate(made):
            cv2.imwrite(str(cache / f"u-{k:05d}.jpg"), frame.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        index.write_text(json.dumps({"texts": texts}, ensure_ascii=False), encoding="utf-8")
    return json.loads(index.read_text(encoding="utf-8"))


def frame_order(count: int, fps: float, hold_s: float, gap_s: float) -> tuple[list[int], list[int]]:
    """The camera's view as unique frame numbers: the empty lane, then each pass held up for ``hold_s`` (its two
    frames alternating) and the lane again for ``gap_s``; and the video frame where each pass first shows."""
    hold, gap = max(1, round(hold_s * fps)), max(1, round(gap_s * fps))
    order, firsts = [0] * round(LEAD_S * fps), []
    for p in range(count):
        first = 1 + 3 * p  # make_sequence(hold=2, gap=1): lane, pass, pass, lane, pass, pass, lane …
        firsts.append(len(order))
        order += [first + k % 2 for k in range(hold)] + [first + 2] * gap
    return order, firsts


def camera_video(cache: Path, order: list[int], fps: float, hold_s: float, gap_s: float) -> Path:
    """The camera's view as a Motion-JPEG video (a webcam's own format, read by OpenCV as a webcam's frames
    are), written once per set of arguments into ``cache``."""
    path = cache / f"camera-{fps:g}fps-hold{hold_s:g}-gap{gap_s:g}.avi"
    if path.exists():
        return path
    images = {}
    for k in set(order):
        images[k] = cv2.imread(str(cache / f"u-{k:05d}.jpg"), cv2.IMREAD_COLOR)
    partial = path.with_suffix(".partial.avi")
    framegen.write_video([images[k] for k in order], partial, fps=fps)
    partial.rename(path)
    return path


class TimedDecoder(Decoder):
    """The screen's decoder, noting when each frame's decoding started and ended, and the CPU time its thread
    spent on it (far less than the elapsed time: the thread was waiting for a core)."""

    def __init__(self, backend: str) -> None:
        super().__init__(backend)
        self.calls: list[tuple[float, float, float]] = []

    def decode(self, image: Any) -> Any:
        start, cpu = time.monotonic(), time.thread_time()
        decoded = super().decode(image)
        self.calls.append((start, time.monotonic(), time.thread_time() - cpu))
        return decoded

    def call(self, decoded_at: float) -> tuple[float, float]:
        """(start, CPU seconds) of the decoding that ended just before ``decoded_at`` (a Scan's)."""
        ends = [end for _, end, _ in self.calls]
        start, _, cpu = self.calls[bisect.bisect_right(ends, decoded_at) - 1]
        return start, cpu


class TimedDesk(ScanDesk):
    """The screen's desk, remembering each vehicle it is given and whether it had to queue (the desk was busy:
    its wait would be the officer's, not the screen's, so it is left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[int, dict[str, Any]] = {}

    def on_scan(self, scan: Any) -> None:  # the camera's one decoding thread calls this
        self._frame = scan.frame_index
        super().on_scan(scan)

    def add_text(self, text: str, **kwargs: Any) -> Any:
        vehicle = super().add_text(text, **kwargs)
        if vehicle is not None and vehicle.captured_at is not None:
            queued = vehicle.state != "current"
            self.arrived[vehicle.id] = {"vehicle": vehicle, "queued": queued, "frame": self._frame}
        return vehicle
