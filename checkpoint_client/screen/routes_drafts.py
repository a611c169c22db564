"""The form's drafts (checkpoint_client.drafts) for static/drafts.js: read when a vehicle is shown, saved while the
officer types, deleted when the vehicle is decided or dropped. Bad input is refused with the field and nothing is
saved."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from checkpoint_client.drafts import Drafts
from checkpoint_client.store import StoreError
from passcore.errors import InputError

__all__ = ["forget_decided", "router"]

router = APIRouter()
_Payload = Annotated[Any, Body()]


def _drafts(request: Request) -> Drafts:
    state = request.app.state
    if getattr(state, "drafts", None) is None:  # one per app: its connections are per thread
        state.drafts = Drafts(state.screen.store.path)
    return state.drafts


def forget_decided(request: Request, pass_id: str | None) -> None:
    """The draft of a pass just decided goes with its decision, here and not only when the page asks: a page or
    program that dies between the two would otherwise bring the old values back to a re-measure of that pass."""
    if not pass_id:
        return
    try:
        _drafts(request).forget(f"pass:{pass_id}")
    except StoreError:
        pass  # the decision is recorded; the draft expires on its own (drafts.EXPIRE)


def _problem(request: Request, err: InputError | StoreError, status: int) -> JSONResponse:
    screen = request.app.state.screen
    message = screen.words(request, f"E_{err.code}", detail=err.message)
    field = err.detail if isinstance(err, InputError) else None
    return JSONResponse({"code": err.code, "field": field, "message": message}, status_code=status)


@router.get("/api/drafts")
def load(request: Request, key: str = "") -> Any:
    screen = request.app.state.screen
    try:
        draft = _drafts(request).load(key[:80], now=screen.now())
    except InputError as err:
        return _problem(request, err, 422)
    except StoreError as err:
        return _problem(request, err, 503)
    if draft is None:
        return {"key": key, "form": None, "saved_at": None}
    return {"key": draft.key, "form": draft.form, "saved_at": draft.saved_at}


@router.put("/api/drafts")
def save(request: Request, payload: _Payload) -> Any:
    screen = request.app.state.screen
    if not isinstance(payload, dict) or set(payload) != {"key", "form"}:
        err = InputError("expected {key, form}", code="DRAFT_INVALID", detail="form")
        return _problem(request, err, 422)
    try:
        draft = _drafts(request).save(payload["key"], payload["form"], now=screen.now())
    except InputError as err:
        return _problem(request, err, 422)
    except StoreError as err:
        return _problem(request, err, 503)
    return {"key": draft.key, "saved_at": draft.saved_at}


@router.delete("/api/drafts")
def forget(request: Request, key: str = "") -> Any:
    try:
        deleted = _drafts(request).forget(key[:80])
    except InputError as err:
        return _problem(request, err, 422)
    except StoreError as err:
        return _problem(request, err, 503)
    return {"key": key, "deleted": deleted}
