"""The bundle the screen decides with, as the header shows it: version, age, stale, expired, clock skew.

``truststore.held_bundle`` refuses an expired bundle outright; the screen must still show which bundle it holds
and why it will not decide, so it loads the bundle without the expiry check and judges expiry itself.
The parsed bundle is cached by file identity: a bundle with 100,000 revocations takes a while to parse, and the
page asks for the header every few seconds. A new file (sync, `bundle import`) is picked up at the next look.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from checkpoint_client import truststore
from checkpoint_client.config import Settings
from passcore import trust
from passcore.errors import CheckpassError

__all__ = ["BundleState", "TrustHolder"]


@dataclass(frozen=True)
class BundleState:
    bundle: trust.TrustBundle | None
    problem: str | None = None  # BUNDLE_MISSING | ROOT_NOT_PINNED | BUNDLE_REFUSED
    detail: str | None = None
    expired: bool = False
    stale: bool = False
    clock_skew: bool = False  # the device clock is earlier than the bundle's issue time

    @property
    def usable(self) -> bool:
        """Whether decisions may be made with it (an expired bundle may not)."""
        return self.bundle is not None and not self.expired


class TrustHolder:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._loaded: tuple[trust.TrustBundle | None, str | None, str | None] = (None, "BUNDLE_MISSING", None)

    def _file_key(self) -> tuple | None:
        try:
            bundle, root = self.settings.bundle_path.stat(), self.settings.root_path.stat()
        except FileNotFoundError:
            return None
        return (bundle.st_mtime_ns, bundle.st_size, bundle.st_ino, root.st_mtime_ns, root.st_size)

    def _load(self) -> tuple[trust.TrustBundle | None, str | None, str | None]:
        if not self.settings.bundle_path.exists():
            return None, "BUNDLE_MISSING", None
        try:
            root = truststore.pinned_root(self.settings)
            data = self.settings.bundle_path.read_bytes()
            return trust.load_bundle(data, root=root, now=None), None, None
        except CheckpassError as err:
            problem = "ROOT_NOT_PINNED" if err.code == "ROOT_NOT_PINNED" else "BUNDLE_REFUSED"
            return None, problem, err.message
        except OSError as err:
            return None, "BUNDLE_REFUSED", str(err)

    def state(self, now: datetime) -> BundleState:
        with self._lock:
            key = self._file_key()
            if key is None or key != self._key:
                self._loaded = self._load()
                self._key = key
            bundle, problem, detail = self._loaded
        if bundle is None:
            return BundleState(None, problem, detail)
        return BundleState(
            bundle,
            expired=now >= bundle.expires_at,
            stale=bundle.is_stale(now),
            clock_skew=now < bundle.issued_at,
        )
