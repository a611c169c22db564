"""Webcam-like frames of real pass QR codes: the demo's recorded video (`checkpass demo`), and the frame sets of
the decoding tests, benchmarks and the screen's browser tests.

Each frame is a 1280×720 scene (a lorry cab, a windscreen) with a printed pass card held in it, then spoiled
the way a checkpoint camera spoils it: out-of-plane tilt, rotation, defocus, motion, sensor noise, under-exposure,
haze, glare, heavy JPEG, distance. Every condition group sweeps its severity from mild to hard across its frames,
and every frame ends as a webcam's MJPG frame does (JPEG). Same arguments and seed, same pixels.

    frames = make_frames([qr_text], out_dir, conditions=("clean", "blur"), per_condition=10, seed=7)
    write_video(frames, out_dir / "passes.avi", fps=10)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import qrcode
import qrcode.constants

try:  # the `demo` extra: the server itself runs without OpenCV
    import cv2
    import numpy as np
except ImportError as err:
    raise ImportError(
        f"the synthetic camera video needs OpenCV and numpy ({err.name} is missing): "
        "install the demo extra, pip install 'checkpass[demo]'"
    ) from err

from server.passes.render import qr_code

__all__ = [
    "CONDITIONS",
    "HEIGHT",
    "WIDTH",
    "GeneratedFrame",
    "blank_frame",
    "make_frames",
    "make_sequence",
    "render_frame",
    "write_video",
]

WIDTH, HEIGHT = 1280, 720
CONDITIONS = (
    "clean",
    "perspective",
    "rotation",
    "blur",
    "motion_blur",
    "noise",
    "dark",
    "low_contrast",
    "glare",
    "jpeg",
    "distance",
    "mixed",
)
_SINGLE = CONDITIONS[1:-2]  # what "mixed" combines ("distance" only changes the size)
_WEBCAM_JPEG_QUALITY = 85
_FOCAL_PX = 1100.0  # a 1280-wide webcam with a ~60° field of view


@dataclass(frozen=True)
class GeneratedFrame:
    image: np.ndarray  # BGR uint8, exactly the pixels of ``path`` when one was written
    text: str  # the QR text in the frame ("" for a frame without a pass)
    condition: str
    severity: float  # 0 mild … 1 hardest of the group
    path: Path | None = None


@functools.lru_cache(maxsize=64)  # choosing the QR mask is the slow part of a frame
def _qr_modules(text: str) -> np.ndarray:
    """The symbol as issued (the server's own renderer, quiet zone included) as a 0/1 matrix, 1 = dark.
    A text that is not a pass (a web address, Chinese, HTML) gets an ordinary QR code at the same level."""
    try:
        qr = qr_code(text)
    except ValueError:  # not Base45: the pass renderer refuses it
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
        qr.add_data(text)
        qr.make(fit=True)
    return np.array(qr.get_matrix(), dtype=np.uint8)


def _card(modules: np.ndarray, px: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A printed card (off-white paper, the QR, lines of details) and the QR's corners on it."""
    qr = np.where(np.kron(modules, np.ones((px, px), np.uint8)) > 0, 25, 245).astype(np.uint8)
    side = qr.shape[0]
    margin, details = px * 3, px * 22
    card = np.full((side + 2 * margin + details, side + 2 * margin), 245, np.uint8)
    card[margin : margin + side, margin : margin + side] = qr
    y = margin * 2 + side
    while y < card.shape[0] - margin:  # lines of printed details under the code
        length = int(rng.uniform(0.35, 0.95) * side)
        card[y : y + px * 2, margin : margin + length] = 70
        y += px * 4
    corners = np.array(
        [[margin, margin], [margin + side, margin], [margin + side, margin + side], [margin, margin + side]],
        np.float32,
    )
    return cv2.cvtColor(card, cv2.COLOR_GRAY2BGR), corners


def _scene(rng: np.random.Generator) -> np.ndarray:
    """A cab behind a windscreen: a tinted gradient, some panels, a little texture."""
    top, bottom = rng.uniform(40, 200, 3), rng.uniform(30, 160, 3)
    ramp = np.linspace(0.0, 1.0, HEIGHT, dtype=np.float32)[:, None, None]
    scene = np.empty((HEIGHT, WIDTH, 3), np.float32)
    scene[:] = top * (1 - ramp) + bottom * ramp
    for _ in range(int(rng.integers(4, 9))):
        x, y = int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))
        w, h = int(rng.integers(60, 500)), int(rng.integers(40, 300))
        cv2.rectangle(scene, (x, y), (x + w, y + h), rng.uniform(10, 230, 3).tolist(), -1)
    texture = cv2.resize(_gauss(rng, 12, (HEIGHT // 16, WIDTH // 16)), (WIDTH, HEIGHT))
    scene += texture[:, :, None]
    return scene


def _gauss(rng: np.random.Generator, sigma: float, shape: tuple[int, ...]) -> np.ndarray:
    # OpenCV's generator is several times faster than numpy's; seeding it from ``rng`` keeps frames reproducible.
    cv2.setRNGSeed(int(rng.integers(1, 2**31)))
    noise = np.empty(shape, np.float32)
    cv2.randn(
        noise.reshape(shape[0], -1), np.array([0.0]), np.array([float(sigma)])
    )  # one channel view: every channel gets noise
    return noise


def _quad(qr_px: float, rng: np.random.Generator, *, tilt_deg: float, roll_deg: float) -> np.ndarray:
    """Corners in the frame of a square ``qr_px`` wide at 1 m, tilted out of plane and rolled, then projected."""
    half = qr_px / 2
    square = np.array([[-half, -half, 0], [half, -half, 0], [half, half, 0], [-half, half, 0]], np.float64)
    axis = rng.uniform(0, 2 * math.pi)
    k = np.array([math.cos(axis), math.sin(axis), 0.0])
    tilt = math.radians(tilt_deg)
    rot, _ = cv2.Rodrigues(k * tilt)
    roll, _ = cv2.Rodrigues(np.array([0.0, 0.0, math.radians(roll_deg)]))
    points = square @ (roll @ rot).T + np.array([0, 0, _FOCAL_PX])
    projected = points[:, :2] * (_FOCAL_PX / points[:, 2:3])
    span = projected.max(axis=0) - projected.min(axis=0)
    centre = [_within(rng, span[0], WIDTH), _within(rng, span[1], HEIGHT)]
    return (projected - (projected.max(axis=0) + projected.min(axis=0)) / 2 + np.array(centre)).astype(
        np.float32
    )


def _within(rng: np.random.Generator, span: float, extent: int) -> float:
    """A centre that keeps the whole code (and a little room) inside the frame."""
    low, high = span / 2 + 8, extent - span / 2 - 8
    return float(rng.uniform(low, high)) if high > low else extent / 2


def _place(scene: np.ndarray, card: np.ndarray, card_qr: np.ndarray, quad: np.ndarray) -> None:
    matrix = cv2.getPerspectiveTransform(card_qr, quad)
    h, w = card.shape[:2]
    outline = cv2.perspectiveTransform(np.array([[[0, 0], [w, 0], [w, h], [0, h]]], np.float32), matrix)[0]
    x0, y0 = np.clip(np.floor(outline.min(axis=0)).astype(int) - 2, 0, [WIDTH, HEIGHT])
    x1, y1 = np.clip(np.ceil(outline.max(axis=0)).astype(int) + 2, 0, [WIDTH, HEIGHT])
    if x1 <= x0 or y1 <= y0:
        return
    # warp only into the card's bounding box: most of the frame is untouched scene
    shifted = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ matrix
    size = (int(x1 - x0), int(y1 - y0))
    warped = cv2.warpPerspective(card.astype(np.float32), shifted, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), shifted, size, flags=cv2.INTER_LINEAR)[:, :, None]
    roi = scene[y0:y1, x0:x1]
    roi *= 1 - mask
    roi += warped * mask


def _motion_kernel(length: float, angle: float) -> np.ndarray:
    size = math.ceil(length) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = math.cos(angle) * (length - 1) / 2, math.sin(angle) * (length - 1) / 2
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    return kernel / kernel.sum()


def _spoil(
    image: np.ndarray, condition: str, s: float, rng: np.random.Generator, quad: np.ndarray
) -> np.ndarray:
    if condition == "blur":
        image = cv2.GaussianBlur(image, (0, 0), 0.6 + 3.0 * s)
    elif condition == "motion_blur":
        image = cv2.filter2D(image, -1, _motion_kernel(3 + 22 * s, rng.uniform(0, math.pi)))
    elif condition == "noise":
        image = image + _gauss(rng, 8 + 82 * s, image.shape)
    elif condition == "dark":
        gain = 0.4 - 0.37 * s  # a night-time checkpoint: the card's white ends at 100 … 8 grey levels
        image = image * gain + _gauss(rng, 2 + 5 * s, image.shape)
    elif condition == "low_contrast":
        contrast = 0.4 - 0.37 * s  # haze or a dirty windscreen squeezes the range around a light grey
        image = 150 + (image - 128) * contrast + _gauss(rng, 2, image.shape)
    elif condition == "glare":
        centre = quad.mean(axis=0) + rng.uniform(-0.3, 0.3, 2) * (quad.max(axis=0) - quad.min(axis=0))
        radius = (0.12 + 0.3 * s) * float(np.ptp(quad[:, 0]))
        xx = np.arange(WIDTH, dtype=np.float32)[None, :] - np.float32(centre[0])
        yy = (np.arange(HEIGHT, dtype=np.float32)[:, None] - np.float32(centre[1])) * np.float32(1.6)
        spot = np.exp((xx**2 + yy**2) * np.float32(-0.5 / radius**2))
        # a veil of scattered light over everything, and the reflection of a lamp on the card
        image = image * (1 - 0.25 * s) + 60 * s + spot[:, :, None] * np.float32(120 + 260 * s)
    return image


def _decoded(jpeg: np.ndarray) -> np.ndarray:
    image = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    if image is None:  # our own encoder's output: never, unless OpenCV itself is broken
        raise RuntimeError("OpenCV could not decode a JPEG it had just encoded")
    return np.asarray(image)


def render_frame(text: str, condition: str, severity: float, rng: np.random.Generator) -> np.ndarray:
    """One BGR frame of ``text`` under ``condition`` at ``severity`` (0…1); "" gives a frame without a pass."""
    return _decoded(_render_jpeg(text, condition, severity, rng))


def _render_jpeg(
    text: str,
    condition: str,
    severity: float,
    rng: np.random.Generator,
    *,
    scene: np.ndarray | None = None,
    quad: np.ndarray | None = None,
) -> np.ndarray:
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS)}")
    s = min(max(float(severity), 0.0), 1.0)
    parts = [(condition, s)]
    if condition == "mixed":
        picked = rng.choice(len(_SINGLE), size=int(rng.integers(2, 4)), replace=False)
        parts = [(_SINGLE[i], float(rng.uniform(0.15, 0.35 + 0.35 * s))) for i in picked]
    names = dict(parts)
    qr_px = 64 + 196 * (1 - s) if condition == "distance" else rng.uniform(220, 420)
    tilt = 20 + 56 * names["perspective"] if "perspective" in names else rng.uniform(0, 12)
    roll = rng.uniform(0, 180 * names["rotation"]) if "rotation" in names else rng.uniform(-8, 8)
    image = _scene(rng) if scene is None else scene.copy()
    quad = _quad(qr_px, rng, tilt_deg=tilt, roll_deg=roll) if quad is None else quad
    if text:
        modules = _qr_modules(text)
        module_px = max(2, math.ceil(2 * qr_px / len(modules)))  # render finer than it lands, then warp down
        card, card_qr = _card(modules, module_px, rng)
        _place(image, card, card_qr, quad)
    image = cv2.GaussianBlur(image, (0, 0), 0.5)  # the lens is never perfect
    for name, level in parts:
        image = _spoil(image, name, level, rng, quad)
    quality = int(50 - 48 * names["jpeg"]) if "jpeg" in names else _WEBCAM_JPEG_QUALITY
    frame = np.clip(image, 0, 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return data


def make_frames(
    qr_texts: Sequence[str],
    out_dir: Path | None = None,
    *,
    conditions: Iterable[str] = CONDITIONS,
    per_condition: int = 10,
    seed: int = 0,
) -> list[GeneratedFrame]:
    """``per_condition`` frames for each condition, severity swept 0→1, cycling through ``qr_texts``.

    With ``out_dir`` each frame is also written as ``NNNN-condition.jpg`` (sorted = generated order): the very
    JPEG the simulated webcam produced, so the file decodes (with OpenCV) to exactly ``image``.
    """
    if not qr_texts:
        raise ValueError("give at least one QR text")
    frames: list[GeneratedFrame] = []
    for g, condition in enumerate(conditions):
        for i in range(per_condition):
            n = len(frames)
            rng = np.random.default_rng([seed, g, i])
            severity = i / (per_condition - 1) if per_condition > 1 else 0.5
            text = qr_texts[n % len(qr_texts)]
            data = _render_jpeg(text, condition, severity, rng)
            path = None
            if out_dir is not None:
                path = Path(out_dir) / f"{n:04d}-{condition}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data.tobytes())
            image = _decoded(data)
            frames.append(GeneratedFrame(image, text, condition, severity, path))
    return frames


def blank_frame(seed: int = 0) -> np.ndarray:
    """A frame of the scene with no pass in it (the camera between two lorries)."""
    return render_frame("", "clean", 0.0, np.random.default_rng([seed, 99]))


def make_sequence(
    qr_texts: Sequence[str], *, hold: int = 8, gap: int = 4, seed: int = 0, condition: str = "clean"
) -> list[GeneratedFrame]:
    """What a fixed camera sees at a checkpoint: ``gap`` frames of the empty lane, then each pass held up for
    ``hold`` frames (the hand drifting and shaking a little), then ``gap`` empty frames again — one scene
    throughout, as in a real video; for demo videos and the screen's tests."""
    scene = _scene(np.random.default_rng([seed, 7]))
    held = _quad(300.0, np.random.default_rng([seed, 8]), tilt_deg=10, roll_deg=4)
    frames: list[GeneratedFrame] = []

    def frame(text: str, rng: np.random.Generator, quad: np.ndarray) -> GeneratedFrame:
        data = _render_jpeg(text, condition, 0.2, rng, scene=scene, quad=quad)
        return GeneratedFrame(_decoded(data), text, condition if text else "blank", 0.2)

    def empty(k: int) -> None:
        frames.extend(frame("", np.random.default_rng([seed, 500 + k, i]), held) for i in range(gap))

    empty(0)
    for t, text in enumerate(qr_texts):
        for i in range(hold):
            rng = np.random.default_rng([seed, 1000 + t, i])
            drift = np.array([8 * math.sin(i / 2), 5 * math.cos(i / 3)], np.float32)
            frames.append(frame(text, rng, held + drift + rng.normal(0, 1.5, (4, 2)).astype(np.float32)))
        empty(t + 1)
    return frames


def write_video(frames: Sequence[GeneratedFrame | np.ndarray], path: Path, fps: float = 10.0) -> Path:
    """Motion-JPEG in an AVI container (what OpenCV writes everywhere without extra codecs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write an MJPG video to {path}")
    try:
        for frame in frames:
            image = frame.image if isinstance(frame, GeneratedFrame) else frame
            writer.write(np.ascontiguousarray(image))
    finally:
        writer.release()
    return path
