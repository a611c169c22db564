"""The screen's page and its JSON calls. Sync routes run in worker threads (store and crypto block)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from checkpoint_client.screen import status
from checkpoint_client.screen.decide import CheckedForm, DecisionForm, FieldError, decide
from checkpoint_client.screen.desk import DeskError, Vehicle
from checkpoint_client.screen.routes_drafts import forget_decided
from checkpoint_client.screen.views import decision_view
from checkpoint_client.screen.words import LANGS, lang_words
from checkpoint_client.store import StoreError
from passcore import reasons
from passcore.errors import InputError
from passcore.trust import TrustBundle

__all__ = ["Deciding", "error_response", "lang_of", "router", "run_decision"]

router = APIRouter()
templates = Jinja2Templates(directory=status.HERE / "templates")  # autoescape is on for .html
LANG_COOKIE = "screen_lang"
PING_S = 10.0
# The hand-over dialog's fields, by the error passcore.handover raises for them.
HANDOVER_FIELDS = {"HANDOVER_STAFF_NAME_INVALID": "staff_name", "HANDOVER_STAFF_ID_INVALID": "staff_id_last4"}
_Payload = Annotated[Any, Body()]
_Form = TypeVar("_Form", bound=CheckedForm)


def lang_of(request: Request, default: str) -> str:
    for candidate in (
        request.query_params.get("lang"),
        request.headers.get("x-screen-lang"),
        request.cookies.get(LANG_COOKIE),
    ):
        if candidate in LANGS:
            return candidate
    return default


def _screen(request: Request) -> Any:
    return request.app.state.screen


def error_response(
    request: Request, status_code: int, code: str, field: str | None = None, **values: Any
) -> JSONResponse:
    """The page's error: the code, the field it concerns and the message in the page's language."""
    screen = _screen(request)
    key = f"E_{code}"
    values.setdefault("detail", "")
    message = screen.words(request, key, **values)
    if message == key:  # a code without words of its own: show what the error said
        message = screen.words(request, "error_generic", error=values.get("detail") or code)
    return JSONResponse({"code": code, "field": field, "message": message}, status_code=status_code)


_error = error_response


def _page_words(lang: str) -> dict[str, str]:
    words = dict(lang_words(lang))
    words |= {f"reason_{code}": reasons.describe(code, lang) for code in reasons.MESSAGES}
    words |= {f"outcome_{code}": reasons.outcome_words(code, lang) for code in reasons.OUTCOMES}
    return words


@router.get("/", response_class=HTMLResponse)
def page(request: Request) -> Response:
    screen = _screen(request)
    lang = lang_of(request, screen.lang)
    response = templates.TemplateResponse(
        request,
        "screen.html",
        {
            "lang": lang,
            "other": "en" if lang == "zh" else "zh",
            "t": lambda key, **values: screen.words(request, key, **values),
            "token": screen.token,
            "words": _page_words(lang),
        },
    )
    response.set_cookie(LANG_COOKIE, lang, samesite="strict", httponly=True, max_age=365 * 86400)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/api/overview")
def overview(request: Request) -> dict[str, Any]:
    return status.overview(_screen(request))


@router.get("/api/vehicle")
def vehicle(request: Request) -> dict[str, Any]:
    return _screen(request).desk.snapshot()


@router.post("/api/vehicle/scan")
def scan(request: Request, payload: _Payload) -> Any:
    """A QR text typed by a handheld scanner or pasted: current when the desk is free, else the next in line
    (it never replaces the vehicle being handled)."""
    text = payload.get("text") if isinstance(payload, dict) else None
    if not isinstance(text, str) or not text.strip():
        return _error(request, 422, "REQUEST_INVALID", "paste", detail="text")
    if len(text) > 8192:
        return _error(
            request, 422, "REQUEST_INVALID", "paste", detail=_screen(request).words(request, "scan_too_long")
        )
    desk = _screen(request).desk
    desk.add_text(text, source="manual", now_first=True)
    return desk.snapshot()


@router.post("/api/vehicle/nopass")
def without_pass(request: Request) -> dict[str, Any]:
    desk = _screen(request).desk
    desk.start_without_pass()
    return desk.snapshot()


@router.post("/api/vehicle/next")
def next_vehicle(request: Request, payload: _Payload = None) -> dict[str, Any]:
    """The next vehicle; ``{"drop": id}`` drops that undecided vehicle (the one on the officer's page)."""
    drop = payload.get("drop") if isinstance(payload, dict) else None
    desk = _screen(request).desk
    desk.next_vehicle(drop if isinstance(drop, int) and not isinstance(drop, bool) else None)
    return desk.snapshot()


@dataclass(frozen=True)
class Deciding:
    """What a decision route's deciding step is given: the moment, the bundle in force, the officer signed in and
    the earlier decision this one re-decides (a pass decided here within the repeat window: a re-measure)."""

    screen: Any
    now: datetime
    bundle: TrustBundle
    officer: str | None
    repeat_of: str | None


def run_decision(
    request: Request,
    payload: Any,
    parse: Callable[[Any], _Form],
    decide_step: Callable[[_Form, Vehicle, Deciding], Callable[[], Any]],
) -> Any:
    """What ``/api/decide`` and ``/api/bus/decide`` share: a bundle in force and an officer signed in, the form,
    the desk's hold on the vehicle while it is decided, and the answers for input to correct (422, nothing
    recorded) and a store that did not commit (503). ``decide_step`` decides and commits (FieldError and
    StoreError pass through it) and answers what to do once the desk has let the vehicle go: the page's view."""
    screen = _screen(request)
    now = screen.now()
    state = screen.trust.state(now)
    if state.bundle is None:
        return _error(request, 409, "BUNDLE_MISSING")
    if state.expired:
        return _error(request, 409, "BUNDLE_EXPIRED")
    officer = screen.shifts.officer()
    if officer is None and screen.shifts.required():  # every decision names the officer who made it
        return _error(request, 409, "SIGN_IN_NEEDED")
    try:
        form = parse(payload)
        vehicle = screen.desk.begin_decision(form.vehicle_id)
    except FieldError as err:
        return _error(request, 422, err.code, err.field, **err.values)
    except DeskError as err:
        return _error(request, 409, err.code)
    recorded = False
    try:
        repeat = vehicle.view.get("repeat") or {}
        context = Deciding(screen, now, state.bundle, officer, repeat.get("id"))
        finish = decide_step(form, vehicle, context)
        recorded = True
    except FieldError as err:
        return _error(request, 422, err.code, err.field, **err.values)
    except StoreError as err:
        message = screen.words(request, "not_recorded", error=err.message)
        return JSONResponse(
            {"code": err.code, "recorded": False, "message": message, "field": None}, status_code=503
        )
    finally:
        screen.desk.end_decision(vehicle, recorded=recorded)
    return finish()


@router.post("/api/decide")
def decide_route(request: Request, payload: _Payload) -> Any:
    def decide_step(form: DecisionForm, vehicle: Vehicle, context: Deciding) -> Callable[[], Any]:
        decision, stored, occupants = decide(
            form,
            vehicle,
            context.bundle,
            context.screen.store,
            now=context.now,
            officer=context.officer,
            repeat_of=context.repeat_of,
        )

        def finish() -> Any:
            forget_decided(request, decision.pass_id)
            return decision_view(decision, occupants, crossing=stored, zone=context.screen.settings.timezone)

        return finish

    return run_decision(request, payload, DecisionForm.parse, decide_step)


@router.post("/api/escorts/{crossing_id}/handover")
def handover(request: Request, crossing_id: str, payload: _Payload = None) -> Any:
    """``{"staff_name", "staff_id_last4"}``: who took the vehicle over; the officer signed in is recorded with it.
    Answers the overview and ``recorded``: this escort as the panel shows it (with the total wait)."""
    screen = _screen(request)
    if len(crossing_id) > 64:
        return _error(request, 404, "ESCORT_UNKNOWN")
    shifts = getattr(screen, "shifts", None)
    officer = shifts.officer() if shifts is not None else None
    if officer is None and shifts is not None and shifts.required():  # every hand-over names its officer
        return _error(request, 409, "SIGN_IN_NEEDED")
    body = payload if isinstance(payload, dict) else {}
    try:
        screen.store.record_handover(
            crossing_id,
            screen.now(),
            staff_name=body.get("staff_name"),  # checked by passcore.handover: a wrong type is refused there
            staff_id_last4=body.get("staff_id_last4"),
            officer=officer,
        )
    except InputError as err:
        if err.code in HANDOVER_FIELDS:
            return _error(request, 422, err.code, HANDOVER_FIELDS[err.code])
        code = "ESCORT_UNKNOWN" if err.code == "ESCORT_UNKNOWN" else err.code
        return _error(request, 404 if code == "ESCORT_UNKNOWN" else 409, code, detail=err.message)
    except StoreError as err:
        return _error(request, 503, err.code, detail=err.message)
    screen.syncer.trigger()  # tell the server soon, when there is a network
    result = status.overview(screen)
    result["recorded"] = status.escort(screen, crossing_id)  # for the dialog's confirmation
    return result


@router.post("/api/sync")
def sync_now(request: Request) -> dict[str, Any]:
    screen = _screen(request)
    screen.syncer.trigger()
    return status.overview(screen)


@router.get("/api/camera.jpg")
def camera_picture(request: Request) -> Response:
    camera = _screen(request).camera
    picture = camera.latest_jpeg() if camera is not None else None
    if picture is None:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return Response(picture, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/api/events")
async def events(request: Request) -> StreamingResponse:
    """Server-Sent Events: the current vehicle whenever the desk changes, camera hints when they change."""
    screen = _screen(request)

    async def stream() -> AsyncIterator[str]:
        wake = screen.desk.listen()
        seen, hint, idle = -1, None, 0.0
        try:
            yield "retry: 1000\n\n"
            while not screen.desk.closed:
                if screen.desk.version != seen:
                    snapshot = screen.desk.snapshot()
                    seen = snapshot["version"]
                    yield f"event: vehicle\ndata: {json.dumps(snapshot, ensure_ascii=False)}\n\n"
                now_hint = status.camera_hint(screen)
                if now_hint != hint:
                    hint = now_hint
                    yield f"event: camera\ndata: {json.dumps(hint, ensure_ascii=False)}\n\n"
                try:
                    await asyncio.wait_for(wake.wait(), timeout=0.5)
                    idle = 0.0
                except TimeoutError:
                    idle += 0.5
                    if idle >= PING_S:
                        idle = 0.0
                        yield ": ping\n\n"
                wake.clear()
        finally:
            screen.desk.unlisten(wake)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.get("/api/region/{code}")
def region_name(request: Request, code: str) -> dict[str, Any]:
    from passcore import ids

    try:
        valid = ids.validate_region(code[:16])
    except InputError:
        return {"code": code[:16], "name": None}
    return {"code": valid, "name": ids.region_name(valid)}
