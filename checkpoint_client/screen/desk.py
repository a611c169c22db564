"""The vehicles in front of the officer: the one being processed and the scans queued behind it.

Scans arrive from the camera thread (``CameraLoop.on_scan``), the paste field or a handheld scanner; requests come
from the server's worker threads and the page listens for changes over Server-Sent Events. One lock guards the
state; listeners (asyncio events of the event loop serving the page) are woken thread-safely.

The raw QR text lives here, in memory only, while the vehicle is processed: the store keeps the pass id, never
the text (issue 4, local store).

A vehicle in front of the officer is never replaced by a scan: scans that arrive while it is being checked or
decided wait in the queue (issue 12, point 2). A pass still held up to the camera after its decision is the same
vehicle, not a new one: camera reads of a text just decided are ignored until the camera has not seen it for
``linger_s`` (it left the view; ``seen`` hears of every frame's texts, ``on_scan`` only of new appearances); after
that it comes back as a new vehicle, which the page shows as a repeat.

A bus's manifest page (``CPM1:``) is not a vehicle: it goes to ``on_page`` (the app's manifest book, issue 14), and
the current vehicle's ``extra`` (its manifest so far) joins every snapshot.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from passcore import manifest, wire

__all__ = ["MAX_QUEUE", "DeskError", "ScanDesk", "Vehicle"]

MAX_QUEUE = 20  # a looping demo video or a stuck scanner must not grow the queue without bound
MAX_TEXT = 8192  # as station.MAX_PASS_TEXT: longer than any QR can hold
# The camera reports a pass again after it was out of sight 3 s (decoding.Repeats); glare and a hand that moves
# make a pass held at the window vanish that long, so a decided pass must be gone longer than that.
LINGER_S = 8.0
MANUAL = "manual"  # the source of a handheld scanner's or a pasted text: the officer meant it


class DeskError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Vehicle:
    """One vehicle at the barrier: with a scanned QR text, or none (a vehicle without a pass)."""

    id: int
    text: str | None
    source: str
    captured_at: float | None = None  # monotonic, camera frame read (for the frame-to-verdict latency)
    decoded_at: float | None = None
    received_at: float = field(default_factory=time.monotonic)
    view: dict[str, Any] = field(default_factory=dict)
    state: str = "queued"  # queued | current | deciding | done | dropped

    @property
    def stray(self) -> bool:
        """A QR code that is not a pass at all (a shop's or a phone's code)."""
        return self.text is not None and not self.text.startswith(wire.PREFIX)


class ScanDesk:
    def __init__(
        self,
        describe: Callable[[Vehicle], dict[str, Any]] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        linger_s: float = LINGER_S,
    ) -> None:
        # describe(vehicle) -> what the page shows (verification, pass contents); set by the app factory.
        self.describe = describe or (lambda vehicle: {})
        self._clock, self.linger_s = clock, linger_s
        self._decided: dict[str, float] = {}  # text just decided -> when the camera last reported it
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._current: Vehicle | None = None
        self._queue: deque[Vehicle] = deque()
        self._listeners: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.version = 0
        self.closed = False
        # A manifest page's text and source go here instead of the queue (set by the app factory).
        self.on_page: Callable[[str, str], None] | None = None
        # What changes about the current vehicle after its scan (a bus's pages read so far), for the snapshot.
        self.current_extra: Callable[[Vehicle], dict[str, Any]] = lambda vehicle: {}
        # The last manifest page's fate ("第 3 页已扫"), for the officer's note; None before any.
        self.page_note: Callable[[], dict[str, Any] | None] = lambda: None

    # --- arrivals -------------------------------------------------------------------------------------------

    def on_scan(self, scan: Any) -> None:
        """CameraLoop's callback (camera thread): a decoding.Scan."""
        self.add_text(
            scan.text, source=scan.source_name, captured_at=scan.captured_at, decoded_at=scan.decoded_at
        )

    def add_text(
        self,
        text: str,
        *,
        source: str,
        captured_at: float | None = None,
        decoded_at: float | None = None,
        now_first: bool = False,
    ) -> Vehicle | None:
        """Queue a scanned text, or make it current when the desk is free. ``now_first`` (the officer scanned it
        on purpose): ahead of the queue, still behind the vehicle being handled.

        Returns None for a text already current or queued (the camera holding a pass in view is one vehicle) and
        for a camera read of a text just decided that has not left the view.
        """
        text = text.strip()[:MAX_TEXT]
        if self.on_page is not None and manifest.is_page(text):
            self.on_page(text, source)  # a page of a bus's manifest, never a vehicle of its own
            return None
        if source != MANUAL and self._still_in_view(text):
            return None
        vehicle = Vehicle(next(self._ids), text, source, captured_at, decoded_at)
        vehicle.view = self.describe(vehicle)  # verified outside the lock: the queue never waits on crypto
        with self._lock:
            held = ([self._current] if self._current else []) + list(self._queue)
            if any(v.text == text and v.state in ("queued", "current") for v in held):
                return None
            current = self._current
            if current is not None and current.state == "current" and current.stray:
                current.state = "dropped"  # a stray QR (a shop's code) gives way to the next real scan
                self._current = None
            if self._current is None:
                vehicle.state = "current"
                self._current = vehicle
            elif now_first:
                self._queue.appendleft(vehicle)
                while len(self._queue) > MAX_QUEUE:
                    self._queue.pop()
            elif len(self._queue) < MAX_QUEUE:
                self._queue.append(vehicle)
            else:
                return None
            self._changed()
        return vehicle

    def start_without_pass(self) -> Vehicle:
        """The officer starts a vehicle without a pass; an undecided current vehicle goes back to the queue."""
        vehicle = Vehicle(next(self._ids), None, "manual")
        vehicle.view = self.describe(vehicle)
        with self._lock:
            current = self._current
            if current is not None and current.state == "current":
                if current.text is None:
                    return current  # already a vehicle without a pass: keep what was typed
                if current.stray:
                    current.state = "dropped"  # a stray QR is not a vehicle to come back to
                else:
                    current.state = "queued"
                    self._queue.appendleft(current)
            vehicle.state = "current"
            self._current = vehicle
            self._changed()
        return vehicle

    # --- processing -----------------------------------------------------------------------------------------

    def begin_decision(self, vehicle_id: int) -> Vehicle:
        """Claim the current vehicle for one decision: a second submit (double Enter) gets SCAN_UNKNOWN."""
        with self._lock:
            vehicle = self._current
            if vehicle is None or vehicle.id != vehicle_id or vehicle.state != "current":
                raise DeskError("SCAN_UNKNOWN")
            vehicle.state = "deciding"
            return vehicle

    def end_decision(self, vehicle: Vehicle, *, recorded: bool) -> None:
        with self._lock:
            vehicle.state = "done" if recorded else "current"
            if recorded and vehicle.text is not None:
                self._decided[vehicle.text] = self._clock()
            if recorded and self._current is vehicle:
                self._current = None  # the outcome stays on the page; the next scan becomes current
            self._changed()

    def next_vehicle(self, drop: int | None = None) -> Vehicle | None:
        """Take the next queued vehicle, dropping the undecided current one only if it is ``drop`` — the one
        the officer saw: a scan that became current a moment ago, not yet on the page, is never thrown away."""
        with self._lock:
            current = self._current
            if current is not None and current.state == "current" and current.id == drop:
                current.state = "dropped"
            if self._current is None or self._current.state in ("dropped", "done"):
                self._current = self._queue.popleft() if self._queue else None
                if self._current is not None:
                    self._current.state = "current"
            self._changed()
            return self._current

    def seen(self, texts: list[str]) -> None:
        """CameraLoop's per-frame callback (camera thread): these texts are in view now. A pass decided a moment
        ago that the camera keeps seeing has not left, however long it stays."""
        if not self._decided:  # the common case, without taking the lock on every frame
            return
        now = self._clock()
        with self._lock:
            for text in texts:
                if text.strip()[:MAX_TEXT] in self._decided:
                    self._decided[text.strip()[:MAX_TEXT]] = now

    def _still_in_view(self, text: str) -> bool:
        """A camera read of a text decided a moment ago: the pass never left; the read renews its stay."""
        now = self._clock()
        with self._lock:
            self._decided = {t: at for t, at in self._decided.items() if now - at < self.linger_s}
            if text not in self._decided:
                return False
            self._decided[text] = now
            return True

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            current = self._current
            shown = None if current is None else {"id": current.id, **current.view}
            result: dict[str, Any] = {"version": self.version, "queued": len(self._queue), "current": shown}
        if current is not None and shown is not None:  # outside the lock: the manifest book has its own
            shown |= self.current_extra(current)
        result["page"] = self.page_note()
        return result

    def current_vehicle(self) -> Vehicle | None:
        """The vehicle in front of the officer (being checked or decided), if any."""
        with self._lock:
            current = self._current
            return current if current is not None and current.state in ("current", "deciding") else None

    def poke(self) -> None:
        """Something the snapshot shows changed outside the desk (a manifest page arrived): tell the page."""
        with self._lock:
            self._changed()

    def refresh_views(self) -> None:
        """Re-verify what is held (a new bundle arrived: a revocation may now apply)."""
        with self._lock:
            held = ([self._current] if self._current else []) + list(self._queue)
        for vehicle in held:
            vehicle.view = self.describe(vehicle)
        with self._lock:
            self._changed()

    # --- listeners (the page's event stream) ----------------------------------------------------------------

    def listen(self) -> asyncio.Event:
        event = asyncio.Event()
        with self._lock:
            self._listeners.add((asyncio.get_running_loop(), event))
        return event

    def unlisten(self, event: asyncio.Event) -> None:
        with self._lock:
            self._listeners = {item for item in self._listeners if item[1] is not event}

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._changed()

    def _changed(self) -> None:  # caller holds the lock
        self.version += 1
        for loop, event in list(self._listeners):
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed: its page is gone
                self._listeners.discard((loop, event))
