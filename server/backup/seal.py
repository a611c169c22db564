"""The manifest's seal: an HMAC-SHA256 over the manifest, keyed by CHECKPASS_KEY_PASSPHRASE (through scrypt).

Checksums show that the members are the ones the manifest lists; anyone can recompute them after changing a member.
The seal shows that the manifest itself was written by someone holding the passphrase, so an archive rebuilt by
someone without it (a changed database, an added key) is refused. Made whenever a passphrase is set; an archive
made without one carries no seal, and is only as trustworthy as the place it was kept (its sha256, printed by
`checkpass backup`, can be compared with the one noted then).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

__all__ = ["make", "verify"]

_ALG = "HMAC-SHA256"
# As the data keys are wrapped (keyring.datakeys): about 32 MiB and a tenth of a second, once per backup.
_N, _R, _P = 2**15, 8, 1


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _key(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(b"checkpass backup seal\0" + passphrase)


def make(body: dict[str, Any], passphrase: bytes) -> dict[str, Any]:
    salt = secrets.token_bytes(16)
    mac = hmac.new(_key(passphrase, salt, _N, _R, _P), _canonical(body), hashlib.sha256).hexdigest()
    kdf = {
        "name": "scrypt",
        "salt": base64.urlsafe_b64encode(salt).decode("ascii"),
        "n": _N,
        "r": _R,
        "p": _P,
    }
    return {"alg": _ALG, "kdf": kdf, "mac": mac}


def verify(body: dict[str, Any], seal: Any, passphrase: bytes) -> bool:
    """Whether ``seal`` is the seal of ``body`` under ``passphrase``; a malformed seal does not verify."""
    try:
        kdf = seal["kdf"]
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        # Bounds on the cost an archive may ask of us: a forged seal must not make the check itself a burden.
        if seal["alg"] != _ALG or kdf["name"] != "scrypt" or not (2**10 <= n <= 2**17 and r <= 16 and p <= 4):
            return False
        salt = base64.urlsafe_b64decode(str(kdf["salt"]).encode("ascii"))
        expected = hmac.new(_key(passphrase, salt, n, r, p), _canonical(body), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, str(seal["mac"]))
    except (KeyError, TypeError, ValueError):
        return False
