"""Background sync while the screen runs: every ``interval_s`` when the device is enrolled, and on demand.

One sync at a time (a press of "sync now" during a scheduled sync waits for the next turn instead of running
two). Whatever goes wrong is shown in the header and retried at the next turn; the officer keeps working
offline — decisions are in the local store and go up later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from checkpoint_client import device, sync
from checkpoint_client.config import Settings
from checkpoint_client.store import Store
from passcore.errors import CheckpassError

__all__ = ["Syncer"]

log = logging.getLogger(__name__)


class Syncer:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], datetime],
        interval_s: float | None = 30.0,
        after: Callable[[], None] | None = None,
    ) -> None:
        self.settings, self.store, self.clock = settings, store, clock
        self.interval_s = interval_s
        self.after = after or (lambda: None)  # called after each sync (a new bundle may revoke a held pass)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._running = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_at: datetime | None = None
        self.last_error: str | None = None
        self.last_code: str | None = None  # the page has words for the common ones (offline, device revoked)
        self.last_report: Any = None
        self.busy = False

    def enrolled(self) -> bool:
        try:
            return device.load_device(self.settings) is not None
        except CheckpassError:
            return False

    def start(self) -> None:
        if self.interval_s is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="screen-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def trigger(self) -> None:
        """Sync soon (the "sync now" button); returns at once."""
        if self._thread is None:
            threading.Thread(target=self.run_once, name="screen-sync-now", daemon=True).start()
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self.enrolled():
                self.run_once()
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def run_once(self) -> None:
        if not self._running.acquire(blocking=False):
            return  # a sync is already under way
        self.busy = True
        try:
            report = sync.sync_once(self.settings, self.store, now=self.clock())
            self.last_report = report
            refused = report.bundle.get("status") == "refused"  # a forged or rolled-back bundle: say so
            self.last_error = report.bundle.get("message") if refused else None
            self.last_code = report.bundle.get("code") if refused else None
        except CheckpassError as err:
            self.last_error, self.last_code = err.message, err.code
        except Exception as err:  # the screen must keep running whatever the network or server does
            log.exception("sync failed")
            self.last_error, self.last_code = f"{type(err).__name__}: {err}", None
        finally:
            self.last_at = self.clock()
            self.busy = False
            self._running.release()
        self.after()

    def state(self) -> dict[str, Any]:
        return {
            "enrolled": self.enrolled(),
            "busy": self.busy,
            "last_at": self.last_at,
            "error": self.last_error,
            "code": self.last_code,
        }
