"""The officer's screen: a small web app served to this laptop's own browser (`checkpoint run`).

``create_app`` wires the pieces: the scan desk (camera scans and pasted texts), the held trust bundle, the local
store (every decision committed before its outcome is shown) and the background sync.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from checkpoint_client.config import Settings
from checkpoint_client.device import load_device
from checkpoint_client.screen import routes, routes_bus, routes_drafts, routes_input, routes_shift, views
from checkpoint_client.screen.bus_view import manifest_view, page_view
from checkpoint_client.screen.desk import ScanDesk, Vehicle
from checkpoint_client.screen.guard import ScreenGuard
from checkpoint_client.screen.manifests import ManifestBook
from checkpoint_client.screen.syncer import Syncer
from checkpoint_client.screen.trustview import TrustHolder
from checkpoint_client.screen.words import LANGS, translate
from checkpoint_client.shifts import Shifts
from checkpoint_client.store import Store, StoreError

__all__ = ["Screen", "create_app"]

HERE = Path(__file__).parent
MAX_BODY = 64 * 1024  # the largest form (20 people, or a bus's roll of 100) is a few KiB


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _device_label(settings: Settings) -> str:
    # A shift names the device it ran on; a laptop not enrolled (tests, a bundle carried in) has no id yet.
    device = load_device(settings)
    return device.device_id if device is not None else "local"


@dataclass
class Screen:
    """Everything the routes need, held on ``app.state.screen``."""

    settings: Settings
    store: Store
    camera: Any  # decoding.CameraLoop | None
    desk: ScanDesk
    trust: TrustHolder
    syncer: Syncer
    token: str
    lang: str
    clock: Callable[[], datetime]
    shifts: Shifts  # the officer signed in (checkpoint_client.shifts)
    manifests: ManifestBook  # buses' manifest pages scanned here (issue 14)
    camera_error: str | None = None
    started: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.clock()

    def describe(self, vehicle: Vehicle) -> dict[str, Any]:
        now = self.now()
        bundle = self.trust.state(now).bundle
        view = views.vehicle_view(
            vehicle.text, bundle, now=now, zone=self.settings.timezone, on_bus=self.manifests.pass_seen
        )
        view["repeat"] = self.repeat_of(view, bundle, now)
        return view | {
            "source": vehicle.source,
            "captured_at": vehicle.captured_at,
            "decoded_at": vehicle.decoded_at,
        }

    @staticmethod
    def bus_pass(vehicle: Vehicle | None) -> str | None:
        """The pass id of ``vehicle`` when it is a bus with a valid personnel-transport pass (bus mode)."""
        view = vehicle.view if vehicle is not None else {}
        claims = view.get("claims") or {}
        return claims.get("pass_id") if view.get("valid") and claims.get("bus") else None

    def bus_extra(self, vehicle: Vehicle) -> dict[str, Any]:
        """The current vehicle's manifest so far, when it is a bus (joins the desk's snapshot)."""
        pass_id = self.bus_pass(vehicle)
        bus = self.manifests.get(pass_id) if pass_id else None
        if bus is None or bus.claims is None:
            return {}
        bundle = self.trust.state(self.now()).bundle
        policy = bundle.policy if bundle is not None else None
        return {"manifest": manifest_view(bus, policy, zone=self.settings.timezone)}

    def page_scanned(self, text: str, source: str) -> None:
        """A manifest page from the camera or the scanner (the desk hands it over instead of queueing it)."""
        del source  # a page is a page whichever way it came; its note says what became of it
        bundle = self.trust.state(self.now()).bundle
        self.manifests.page_scanned(text, bundle, current=self.bus_pass(self.desk.current_vehicle()))
        self.desk.poke()

    def repeat_of(self, view: dict[str, Any], bundle: Any, now: datetime) -> dict[str, Any] | None:
        """This device's decision for the same pass within the policy's repeat window (issue 12, point 2)."""
        # Only a verified pass id: a forged pass claiming another's id must not borrow that pass's history.
        claims = view.get("claims") or {}
        if not claims.get("pass_id") or bundle is None:
            return None
        window = bundle.policy.repeat_window_minutes
        try:
            stored = self.store.last_decision_for_pass(claims["pass_id"], now - timedelta(minutes=window))
        except StoreError:  # the form still works; the officer sees the pass as if new
            return None
        return views.repeat_view(stored, zone=self.settings.timezone) if stored else None

    def words(self, request: Request, key: str, **values: Any) -> str:
        return translate(key, routes.lang_of(request, self.lang), **values)


def create_app(
    settings: Settings,
    store: Store,
    camera: Any = None,
    *,
    desk: ScanDesk | None = None,
    token: str | None = None,
    lang: str | None = None,
    clock: Callable[[], datetime] = _utcnow,
    sync_interval_s: float | None = 30.0,
    camera_error: str | None = None,
) -> FastAPI:
    """The screen app. ``camera`` is a running CameraLoop whose ``on_scan`` is ``desk.on_scan`` (run.py builds
    the desk first); ``sync_interval_s`` None turns the background sync off (tests drive sync themselves)."""
    desk = desk or ScanDesk()
    trust = TrustHolder(settings)
    syncer = Syncer(settings, store, clock=clock, interval_s=sync_interval_s, after=desk.refresh_views)
    screen = Screen(
        settings=settings,
        store=store,
        camera=camera,
        desk=desk,
        trust=trust,
        syncer=syncer,
        token=token or secrets.token_urlsafe(24),
        lang=lang if lang in LANGS else settings.lang,
        clock=clock,
        shifts=Shifts(store, device=_device_label(settings), clock=clock),
        manifests=ManifestBook(clock),
        camera_error=camera_error,
    )
    desk.describe = screen.describe
    desk.on_page = screen.page_scanned
    desk.current_extra = screen.bus_extra
    desk.page_note = lambda: page_view(screen.manifests.last)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        syncer.start()
        try:
            yield
        finally:
            desk.close()  # ends the page's event streams so the server can stop
            syncer.stop()

    app = FastAPI(
        title="checkpoint screen",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        max_body_size=MAX_BODY,
    )
    app.state.screen = screen
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(routes.router)
    app.include_router(routes_input.router)
    app.include_router(routes_bus.router)
    app.include_router(routes_drafts.router)
    app.include_router(routes_shift.router)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        detail = f"{'.'.join(map(str, first.get('loc', ())))}: {first.get('msg')}"
        message = screen.words(request, "E_REQUEST_INVALID", detail=detail)
        return JSONResponse({"code": "REQUEST_INVALID", "message": message, "field": None}, status_code=422)

    app.add_middleware(ScreenGuard, token=screen.token)
    return app
