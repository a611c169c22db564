"""Frames for the tests: the generator (server/demo/frames.py) plus a few real signed sample passes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
from cryptography.hazmat.primitives.asymmetric import ed25519

from passcore import wire
from passcore.claims import Person
from passcore.keys import SigningKey

# The generator's parts, to build bursts and clips from the very same scene, card and spoiling (tests only).
from server.demo.frames import (
    CONDITIONS,
    HEIGHT,
    WIDTH,
    GeneratedFrame,
    _card,
    _place,
    _qr_modules,
    _quad,
    _scene,
    _spoil,
    blank_frame,
    make_frames,
    make_sequence,
    render_frame,
    write_video,
)
from tests import factories

__all__ = [
    "CONDITIONS",
    "HARD_GROUPS",
    "HEIGHT",
    "LEVELS",
    "WIDTH",
    "GeneratedFrame",
    "blank_frame",
    "make_burst",
    "make_clip",
    "make_frames",
    "make_sequence",
    "render_frame",
    "sample_key",
    "sample_passes",
    "write_video",
]


def sample_key(seed: int = 0) -> SigningKey:
    """A fixed issuer key (Ed25519 signatures are deterministic, so the same passes give the same frames)."""
    return SigningKey(ed25519.Ed25519PrivateKey.from_private_bytes(bytes([seed % 256 + 1]) * 32))


def sample_passes(count: int = 3, key: SigningKey | None = None) -> list[str]:
    """``count`` real signed passes (passcore.wire.encode of tests/factories' claims): plates and escorts vary,
    as a queue of lorries does. Verify them with a bundle naming ``key`` (default ``sample_key()``)."""
    key = key or sample_key()
    escorts = (Person("李娜", "320583********4567"), Person("王强", "320506********3215"))
    plates = ("苏EA1234", "沪B52819", "鄂A7Q311", "浙C9K027", "皖A0M562", "苏E5D830")
    texts = []
    for i in range(count):
        claims = factories.make_claims(
            pass_id=f"{i:04x}a1b2c3d4e5f60718293a"[:24],
            serial=f"320583-{i + 120:06d}",
            plate=plates[i % len(plates)],
            escorts=escorts[: i % 3],
        )
        texts.append(wire.encode(claims, key))
    return texts


# --- bursts and clips in hard light (issue 12): the live camera's many frames of one held-up pass -------------

# The groups of "Reading the QR in hard light": what a person would still call readable at "moderate", and the
# hard end at "severe" (severities on server/demo/frames.py's sweeps, 0 mild … 1 hardest). "reflection" is a
# windscreen's reflection of the sky and the buildings over the card; "mixed" is glare, reflection and low light.
HARD_GROUPS = ("blur", "motion_blur", "glare", "dark", "reflection", "perspective", "noise", "mixed")
LEVELS = {"moderate": 0.5, "severe": 0.85}
# Low light first: the lamp's glare and the windscreen's reflection stay bright at night.
_MIXED = (("dark", 0.4), ("glare", 0.35), ("reflection", 0.4))


def _reflection_layer(rng: np.random.Generator) -> np.ndarray:
    """What a windscreen reflects: large soft bright and dark patches (sky, trees, buildings) and two or three
    streaks of light along the glass, 0…1, larger than the frame so that it can slide across it."""
    h, w = HEIGHT + 2 * _SLIDE, WIDTH + 2 * _SLIDE
    soft = cv2.resize(rng.normal(0, 1, (7, 12)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    layer = np.clip(0.5 + 0.35 * soft, 0, 1)
    for _ in range(int(rng.integers(2, 4))):
        x = int(rng.integers(0, w))
        width, slant = int(rng.integers(30, 120)), int(rng.integers(-400, 400))
        cv2.line(layer, (x, 0), (x + slant, h), 1.0, width, cv2.LINE_AA)
    return cv2.GaussianBlur(layer, (0, 0), 18) ** 1.5


_SLIDE = 48  # how far (px) a reflection may slide over a burst or a clip


def _reflect(image: np.ndarray, level: float, layer: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
    x, y = _SLIDE + shift[0], _SLIDE + shift[1]
    part = layer[y : y + HEIGHT, x : x + WIDTH, None]
    strength = 0.25 + 0.75 * level  # the glass adds light and takes away the contrast of what is behind it
    return image * (1 - 0.45 * strength * part) + 255 * strength * part


def _hard_frame(
    text: str,
    parts: Sequence[tuple[str, float]],
    rng: np.random.Generator,
    *,
    scene: np.ndarray,
    card: tuple[np.ndarray, np.ndarray] | None,
    quad: np.ndarray,
    layer: np.ndarray,
    shift: tuple[int, int],
) -> np.ndarray:
    """One webcam frame (the JPEG decoded again, as the camera's MJPG is): the card at ``quad`` in ``scene``,
    spoiled by ``parts`` in order."""
    image = scene.copy()
    if text and card is not None:
        _place(image, card[0], card[1], quad)
    image = cv2.GaussianBlur(image, (0, 0), 0.5)
    for name, level in parts:
        if name == "reflection":
            image = _reflect(image, level, layer, shift)
        else:
            image = _spoil(image, name, level, rng, quad)
    ok, data = cv2.imencode(".jpg", np.clip(image, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_COLOR))


def _held_card(text: str, qr_px: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    if not text:
        return None
    modules = _qr_modules(text)
    return _card(modules, max(2, math.ceil(2 * qr_px / len(modules))), rng)


def make_burst(
    text: str, condition: str, severity: float, *, count: int = 6, seed: int = 0
) -> list[GeneratedFrame]:
    """``count`` consecutive frames (30 fps) of one pass held up under ``condition`` (a HARD_GROUPS name) at
    ``severity``: one scene and card, the hand drifting a few pixels a frame, and what varies from frame to
    frame varying — sensor noise, the glare's spot (the card tilts under the lamp), the direction of a shake,
    the focus (±10 % of the severity), the reflection sliding over the glass. "" gives the empty lane."""
    if condition not in HARD_GROUPS:
        raise ValueError(f"unknown condition {condition!r}; choose from {', '.join(HARD_GROUPS)}")
    rng = np.random.default_rng([seed, 31])
    s = min(max(float(severity), 0.0), 1.0)
    parts = (
        [(name, min(1.0, level * s / LEVELS["moderate"])) for name, level in _MIXED]
        if condition == "mixed"
        else [(condition, s)]
    )
    names = dict(parts)
    qr_px = float(rng.uniform(240, 380))
    tilt = 20 + 56 * s if condition == "perspective" else rng.uniform(0, 12)
    quad = _quad(qr_px, rng, tilt_deg=tilt, roll_deg=rng.uniform(-8, 8))
    scene, layer = _scene(rng), _reflection_layer(rng)
    card = _held_card(text, qr_px, rng)
    step = rng.normal(0, 2.5, 2)  # the hand's slow drift, pixels a frame
    frames = []
    for i in range(count):
        f_rng = np.random.default_rng([seed, 32, i])
        moved = quad + step * i + f_rng.normal(0, 0.8, (4, 2))
        # A hand is steadier in some frames than in others: a shake's length varies much more than the rest.
        jittered = [
            (n, min(1.0, level * f_rng.uniform(*((0.2, 1.1) if n == "motion_blur" else (0.9, 1.1)))))
            for n, level in parts
        ]
        shift = (6 * i * (1 if seed % 2 else -1), 2 * i)
        image = _hard_frame(
            text,
            jittered,
            f_rng,
            scene=scene,
            card=card,
            quad=moved.astype(np.float32),
            layer=layer,
            shift=shift,
        )
        frames.append(GeneratedFrame(image, text, condition, max(names.values())))
    return frames


def make_clip(
    texts: Sequence[str],
    *,
    fps: float = 30.0,
    enter_s: float = 0.3,
    hold_s: float = 1.5,
    gap_s: float = 0.8,
    glare: float = 0.5,
    reflection: float = 0.4,
    seed: int = 0,
) -> tuple[list[np.ndarray], list[int]]:
    """A recorded checkpoint clip: the empty lane, then each pass brought into view from the frame's edge over
    ``enter_s`` (blurred by its motion), held up for ``hold_s`` under a lamp's glare that moves as the card
    tilts and a windscreen reflection that slides, then the lane again. Returns the frames and, for each pass,
    the index of the first frame where any of its code is in view."""
    rng = np.random.default_rng([seed, 41])
    scene, layer = _scene(rng), _reflection_layer(rng)
    enter, hold, gap = max(1, round(enter_s * fps)), max(1, round(hold_s * fps)), max(1, round(gap_s * fps))
    frames: list[np.ndarray] = []
    firsts: list[int] = []
    empty_quad = np.zeros((4, 2), np.float32)

    def lane(k: int) -> None:
        for i in range(gap):
            f_rng = np.random.default_rng([seed, 42, k, i])
            shift = (len(frames) % 40, 0)
            parts = [("reflection", reflection), ("noise", 0.05)]
            frames.append(
                _hard_frame(
                    "", parts, f_rng, scene=scene, card=None, quad=empty_quad, layer=layer, shift=shift
                )
            )

    lane(0)
    for t, text in enumerate(texts):
        p_rng = np.random.default_rng([seed, 43, t])
        qr_px = float(p_rng.uniform(260, 360))
        quad = _quad(qr_px, p_rng, tilt_deg=p_rng.uniform(4, 14), roll_deg=p_rng.uniform(-8, 8))
        card = _held_card(text, qr_px, p_rng)
        start = np.array([-(quad[:, 0].max() + 40), p_rng.uniform(-60, 60)], np.float32)  # left of the frame
        firsts.append(len(frames))
        for i in range(enter + hold):
            f_rng = np.random.default_rng([seed, 44, t, i])
            if i < enter:  # sliding in, fast: motion blur along the way
                moved = quad + start * (1 - (i + 1) / enter) ** 2
                parts = [("motion_blur", 0.35 * (1 - i / enter))]
            else:
                moved = quad + np.array([6 * math.sin(i / 4), 4 * math.cos(i / 5)], np.float32)
                parts = [("motion_blur", 0.05)]
            parts += [("glare", glare), ("reflection", reflection), ("noise", 0.1)]
            shift = (len(frames) % 40, 0)
            frames.append(
                _hard_frame(
                    text,
                    parts,
                    f_rng,
                    scene=scene,
                    card=card,
                    quad=(moved + f_rng.normal(0, 0.8, (4, 2))).astype(np.float32),
                    layer=layer,
                    shift=shift,
                )
            )
        lane(t + 1)
    return frames, firsts
