"""What the page needs to take input fast: the handheld scanner's settings (static/scanner.js), the province keys
in this checkpoint's order and the plate in the form the server keeps (static/plates.js). The plate rule lives once,
in passcore.ids: the page asks here rather than re-implementing it."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from checkpoint_client.device import load_device
from checkpoint_client.screen import provinces
from passcore import ids, wire
from passcore.errors import CheckpassError, InputError

__all__ = ["router"]

router = APIRouter()
MAX_PLATE_QUERY = 40  # twice the longest plate input passcore.ids reads


def _region(request: Request) -> str | None:
    """The checkpoint's region code, from the enrolment (a laptop not enrolled has none: keys in the usual order)."""
    try:
        device = load_device(request.app.state.screen.settings)
    except CheckpassError:
        return None
    region = device.checkpoint.get("region") if device else None
    return region if isinstance(region, str) else None


def _run(request: Request) -> str:
    """This run's id: the desk numbers vehicles from 1 again after a restart, so a draft kept by vehicle number
    (a pass with no id to key it by) names the run too, and never comes back onto another vehicle."""
    state = request.app.state
    if getattr(state, "run_id", None) is None:
        state.run_id = secrets.token_hex(4)
    return str(state.run_id)


@router.get("/api/input")
def input_settings(request: Request) -> dict[str, Any]:
    settings = request.app.state.screen.settings
    return {
        "run": _run(request),
        "scanner": {
            "end": settings.scanner_end,
            "prefix": settings.scanner_prefix,
            "suffix": settings.scanner_suffix,
            "gap_ms": settings.scanner_gap_ms,
            "min_chars": settings.scanner_min_chars,
            "pass_prefix": wire.PREFIX,
        },
        "provinces": provinces.ordered(_region(request)),
    }


@router.get("/api/plate")
def plate(request: Request, text: str = "") -> Any:
    """``text`` as the server will keep it: {"plate": "苏E·A1234", "normal": "苏EA1234"}, or 422 PLATE_INVALID with
    passcore's explanation."""
    screen = request.app.state.screen
    try:
        normal = ids.normalize_plate(text[:MAX_PLATE_QUERY])
    except InputError as err:
        message = screen.words(request, "E_PLATE_INVALID", detail=err.message)
        return JSONResponse({"code": err.code, "field": "plate", "message": message}, status_code=422)
    return {"plate": ids.format_plate(normal), "normal": normal}
