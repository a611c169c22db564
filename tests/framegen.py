"""Frames for the tests: the generator (server/demo/frames.py) plus a few real signed sample passes."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ed25519

from passcore import wire
from passcore.claims import Person
from passcore.keys import SigningKey
from server.demo.frames import (
    CONDITIONS,
    HEIGHT,
    WIDTH,
    GeneratedFrame,
    blank_frame,
    make_frames,
    make_sequence,
    render_frame,
    write_video,
)
from tests import factories

__all__ = [
    "CONDITIONS",
    "HEIGHT",
    "WIDTH",
    "GeneratedFrame",
    "blank_frame",
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
