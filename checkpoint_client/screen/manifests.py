"""The manifest pages scanned at this screen, held by the pass they are bound to (issue 14, bus mode).

A bus shows its pass and then its printed manifest pages, one QR each ("3/5"), to the camera or the handheld
scanner, in any order. Every page is verified on arrival (``passcore.manifest.verify_page``) and kept here by the
pass id it is signed for, so a page scanned before its pass waits for it, and a page already read is said to be
("第 3 页已扫") instead of being counted twice. A page scanned while another bus is in front of the officer is
refused for that bus and stays with it as evidence (``Manifest.add`` answers ``other_pass``; decided anyway, the
rules see it as MANIFEST_INVALID); it is also kept for its own pass, which may be the next bus in line.

``arrived_at`` is when a bus first showed itself here (its pass or any of its pages): the priority lane's wait is
measured from it to the decision.

Like a pass's raw QR text (desk.py), the pages live in memory only: names and masked ID numbers of up to a hundred
passengers. They go after ``KEEP`` and when there are more than ``MAX_PASSES`` buses; the decision's record keeps
what the audit needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from passcore import manifest, trust
from passcore.claims import PassClaims

__all__ = ["KEEP", "MAX_PASSES", "BusPages", "ManifestBook", "PageEvent"]

KEEP = timedelta(
    hours=2
)  # a bus is decided in minutes; a repeat within the policy's window still finds its pages
MAX_PASSES = (
    30  # buses held at once (pages of a queue, the last ones decided): bounded against a looping video
)
MAX_PAGES = 60  # pages held for one pass: more than any manifest has (50), fewer than a flood of copies
MAX_FOREIGN = 10  # refused pages kept as evidence for one bus


@dataclass(frozen=True)
class PageEvent:
    """What happened to one scanned page, for the officer's note. ``result``: added | duplicate | other_pass |
    waiting (kept until its pass is scanned) | invalid (did not verify: ``code`` says why)."""

    seq: int
    result: str
    number: int | None = None
    pages: int | None = None
    code: str | None = None
    pass_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "result": self.result,
            "number": self.number,
            "pages": self.pages,
            "code": self.code,
        }


@dataclass
class BusPages:
    """One pass's pages: every verified page scanned for it (in scan order) and the refused ones."""

    arrived_at: datetime
    seen_at: datetime
    claims: PassClaims | None = None
    pages: list[Any] = field(default_factory=list)  # manifest.PageVerification, valid and bound to this pass
    # Refused pages: of another pass (or manifest) or not genuine, scanned while this bus was current. The rules
    # see them (MANIFEST_INVALID) if the officer decides the bus anyway.
    foreign: list[Any] = field(default_factory=list)
    decided: bool = False

    def collector(self, *, evidence: bool = False) -> Any:
        """A ``manifest.Manifest`` of the pages kept for this pass; with ``evidence`` the refused pages too (what
        the rules judge at the decision). Only once the pass was scanned."""
        assert self.claims is not None
        collected = manifest.Manifest(self.claims)
        for page in [*self.pages, *(self.foreign if evidence else ())]:
            collected.add(page)
        return collected


class ManifestBook:
    """Pages by pass id. Thread-safe: the camera thread adds pages while the page's requests read them."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buses: dict[str, BusPages] = {}
        self._seq = 0
        self.last: PageEvent | None = None

    # ---- arrivals -------------------------------------------------------------------------------------------

    def _bus(self, pass_id: str, now: datetime) -> BusPages:  # caller holds the lock
        self._expire(now)
        bus = self._buses.get(pass_id)
        if bus is None:
            while len(self._buses) >= MAX_PASSES:  # the bus seen longest ago goes first
                oldest = min(self._buses, key=lambda key: self._buses[key].seen_at)
                del self._buses[oldest]
            bus = self._buses[pass_id] = BusPages(arrived_at=now, seen_at=now)
        bus.seen_at = now
        return bus

    def pass_seen(self, claims: PassClaims) -> datetime:
        """A verified personnel pass was scanned: its pages can be collected now. When it first arrived."""
        now = self._clock()
        with self._lock:
            bus = self._bus(claims.pass_id, now)
            bus.claims = claims
            if bus.decided:  # back after its decision: a new arrival
                bus.arrived_at, bus.decided = now, False
            return bus.arrived_at

    def page_scanned(self, text: str, bundle: trust.TrustBundle | None, *, current: str | None) -> PageEvent:
        """A page's text from the camera or the scanner; ``current``: the pass id of the bus in front of the
        officer, if one is. What became of it."""
        now = self._clock()
        if bundle is None:
            return self._event("invalid", code="BUNDLE_MISSING")
        page = manifest.verify_page(text, bundle, now=now)
        if not page.valid:  # not genuine: evidence against the bus in front of the officer, if one is
            with self._lock:
                if current is not None and current in self._buses:
                    bus = self._buses[current]
                    if len(bus.foreign) < MAX_FOREIGN:
                        bus.foreign.append(page)
            return self._event("invalid", code=page.detail or page.code)
        assert page.pass_id is not None  # a valid page names its pass
        with self._lock:
            own = self._bus(page.pass_id, now)
            if own.claims is None:  # its pass is not here yet: kept for it, each page once
                known = any(p.number == page.number and p.digest == page.digest for p in own.pages)
                result = "duplicate" if known else "waiting"
                if not known and len(own.pages) < MAX_PAGES:
                    own.pages.append(page)
            else:
                result = own.collector().add(page)  # added | duplicate | other_pass (digest differs)
                if result == "added":
                    own.pages.append(page)
                elif result == "other_pass" and len(own.foreign) < MAX_FOREIGN:
                    own.foreign.append(page)  # signed for this pass with another manifest: evidence
            if current is not None and current != page.pass_id and current in self._buses:
                bus = self._buses[current]
                if len(bus.foreign) < MAX_FOREIGN:
                    bus.foreign.append(page)
                result = "other_pass"
        return self._event(result, number=page.number, pages=page.pages, pass_id=page.pass_id)

    def _event(self, result: str, **values: Any) -> PageEvent:
        with self._lock:
            self._seq += 1
            self.last = PageEvent(self._seq, result, **values)
            return self.last

    # ---- what the screen shows and decides from --------------------------------------------------------------

    def get(self, pass_id: str) -> BusPages | None:
        with self._lock:
            return self._buses.get(pass_id)

    def decided(self, pass_id: str) -> None:
        """The bus was decided: its pages stay (a re-measure within the repeat window needs them), but its next
        arrival (the pass scanned again later) is timed afresh and starts without refused pages."""
        with self._lock:
            bus = self._buses.get(pass_id)
            if bus is not None:
                bus.decided = True
                bus.foreign.clear()

    def _expire(self, now: datetime) -> None:  # caller holds the lock
        for key in [key for key, bus in self._buses.items() if now - bus.seen_at > KEEP]:
            del self._buses[key]
