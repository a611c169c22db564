"""The screen's shift calls: who is signed in, sign in (number + PIN, checked offline), sign out, the shift log,
and a shift's paper trail as CSV and PDF (downloads: GET with ``?token=``, as the browser cannot add headers to
a link)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response

from checkpoint_client import shift_pdf, shift_report
from checkpoint_client.device import load_device
from checkpoint_client.screen.routes import lang_of
from checkpoint_client.shifts import ShiftError
from checkpoint_client.store import StoreError

__all__ = ["router", "shift_state"]

router = APIRouter()
_Payload = Annotated[Any, Body()]
ShiftId = Annotated[int | None, Query(ge=1, le=2**53)]


def _screen(request: Request) -> Any:
    return request.app.state.screen


def _fail(request: Request, status: int, code: str, field: str | None = None, **values: Any) -> JSONResponse:
    screen = _screen(request)
    message = screen.words(request, f"E_{code}", **values)
    if message == f"E_{code}":
        message = screen.words(request, "error_generic", error=values.get("detail") or code)
    return JSONResponse({"code": code, "field": field, "message": message, **values}, status_code=status)


def shift_state(screen: Any) -> dict[str, Any]:
    """What the page shows: whether a sign-in is needed and who is signed in."""
    shifts = screen.shifts
    shift = shifts.current()
    return {
        "required": shifts.required(),
        "officer": {"number": shift.officer, "name": shift.name} if shift else None,
        "shift": shift.to_dict() if shift else None,
    }


@router.get("/api/shift")
def current(request: Request) -> dict[str, Any]:
    return shift_state(_screen(request))


_FIELDS = {
    "OFFICER_NUMBER_INVALID": "number",
    "PIN_INVALID": "pin",
    "PIN_WRONG": "pin",
    "SIGN_IN_LOCKED": "pin",
}
_STATUS = {"PIN_WRONG": 401, "SIGN_IN_LOCKED": 429, "OFFICER_INACTIVE": 403, "NO_OFFICERS": 409}


@router.post("/api/shift/signin")
def sign_in(request: Request, payload: _Payload) -> Any:
    screen = _screen(request)
    data = payload if isinstance(payload, dict) else {}
    number, pin = data.get("number"), data.get("pin")
    if not isinstance(number, str) or len(number) > 64:
        return _fail(request, 422, "OFFICER_NUMBER_INVALID", "number")
    if not isinstance(pin, str) or len(pin) > 64:
        return _fail(request, 422, "PIN_INVALID", "pin")
    try:
        screen.shifts.sign_in(number.strip(), pin)
    except ShiftError as err:
        values: dict[str, Any] = {}
        if err.left is not None:
            values["left"] = err.left
        if err.wait_s is not None:
            values["wait"] = err.wait_s
        return _fail(request, _STATUS.get(err.code, 422), err.code, _FIELDS.get(err.code), **values)
    except StoreError as err:
        return _fail(request, 503, err.code, detail=err.message)
    return shift_state(screen)


@router.post("/api/shift/signout")
def sign_out(request: Request) -> Any:
    screen = _screen(request)
    try:
        ended = screen.shifts.sign_out()
    except StoreError as err:
        return _fail(request, 503, err.code, detail=err.message)
    return shift_state(screen) | {"ended": ended.to_dict() if ended else None}


@router.get("/api/shift/log")
def log(request: Request) -> dict[str, Any]:
    """This laptop's shifts, newest first, with their times in the checkpoint's zone as the page shows them."""
    screen = _screen(request)
    zone = ZoneInfo(screen.settings.timezone)

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else None

    return {
        "shifts": [
            s.to_dict() | {"started_local": local(s.started_at), "ended_local": local(s.ended_at)}
            for s in screen.shifts.log(50)
        ]
    }


def _report(request: Request, shift_id: int | None) -> Any:
    screen = _screen(request)
    shift = screen.shifts.shift(shift_id)
    if shift is None:
        return None
    device = load_device(screen.settings)
    checkpoint = str((device.checkpoint or {}).get("name") or "") if device else ""
    now: datetime = screen.now()
    return shift_report.build(
        screen.store, shift, checkpoint=checkpoint, now=now, zone=screen.settings.timezone
    )


def _download(content: bytes, media: str, name: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(content, media_type=media, headers=headers)


def _name(report: Any, ext: str) -> str:
    return f"shift-{report.shift.officer}-{report.local(report.shift.started_at, '%Y%m%d-%H%M')}.{ext}"


@router.get("/api/shift/report.csv")
def report_csv(request: Request, shift: ShiftId = None) -> Any:
    report = _report(request, shift)
    if report is None:
        return _fail(request, 404, "SHIFT_UNKNOWN")
    lang = lang_of(request, _screen(request).lang)
    return _download(shift_report.to_csv(report, lang), "text/csv; charset=utf-8", _name(report, "csv"))


@router.get("/api/shift/report.pdf")
def report_pdf(request: Request, shift: ShiftId = None) -> Any:
    report = _report(request, shift)
    if report is None:
        return _fail(request, 404, "SHIFT_UNKNOWN")
    lang = lang_of(request, _screen(request).lang)
    return _download(shift_pdf.render(report, lang), "application/pdf", _name(report, "pdf"))
