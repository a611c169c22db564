"""create_app(settings): the engine, the routers, the error handlers. Nothing happens at import time."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Scope

from passcore.errors import CheckpassError
from server import pdf_font
from server.accounts import api as accounts_api
from server.accounts import router as accounts_pages
from server.alerts import api as alerts_api
from server.alerts import router as alerts_pages
from server.applications import api as applications_api
from server.applications import router as applications_pages
from server.audit import api as audit_api
from server.audit import router as audit_pages
from server.bundles import api as bundles_api
from server.checkpoints import api as checkpoints_api
from server.checkpoints import router as checkpoints_pages
from server.checkpoints import router_traffic as checkpoint_traffic
from server.config import Settings, get_settings
from server.crossings import api as crossings_api
from server.crossings import router as crossings_pages
from server.db import make_engine, make_read_engine
from server.departments import router as departments_pages
from server.deps import SESSION_COOKIE, Principal, csrf_protect
from server.documents import api as documents_api
from server.documents import router as documents_pages
from server.documents import uploads as documents_uploads
from server.driver_links import router as driver_links_pages
from server.enterprises import api as enterprises_api
from server.enterprises import router as enterprises_pages
from server.errors import AppError, BadRequest, ContentTooLarge, LoginRequired, NotFound, ServerError
from server.keyring import api as keyring_api
from server.keyring import router as keyring_pages
from server.manifests import api as manifests_api
from server.manifests import router as manifests_pages
from server.notices import router as notices_pages
from server.officers import api as officers_api
from server.officers import router as officers_pages
from server.ops import router as ops_pages
from server.ops.requests import RequestContext
from server.passes import api as passes_api
from server.passes import router as passes_pages
from server.policy import api as policy_api
from server.policy import router as policy_pages
from server.problems import router as problems_pages
from server.problems import router_duty as duty_pages
from server.quarantine import api as quarantine_api
from server.quarantine import router as quarantine_pages
from server.web.headers import SecurityHeaders
from server.web.limits import BodyLimit, BodyTooLarge
from server.web.templating import page

__all__ = ["create_app", "create_app_from_env"]

PROBLEM = "application/problem+json"
UPLOAD_ROUTES = ("/api/v1/crossings",)  # a checkpoint's batch of records: larger bodies than anything else


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _render_error(request: Request, err: AppError) -> Response:
    if isinstance(err, LoginRequired) and request.method == "GET" and _wants_html(request):
        # A session cookie the server no longer knows: it expired (or was ended), and the login page says so.
        expired = "&expired=1" if request.cookies.get(SESSION_COOKIE) else ""
        return RedirectResponse(f"/login?next={request.url.path}{expired}", status_code=303)
    if _wants_html(request):
        principal = getattr(request.state, "principal", None) or Principal()
        return page(request, "error.html", principal, status=err.status, error=err)
    request_id = getattr(request.state, "request_id", None)
    return JSONResponse(
        err.problem(request.url.path, request_id),
        status_code=err.status,
        media_type=PROBLEM,
        headers=err.headers,
    )


class _App(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Outside everything, Starlette's own error handling included: every answer gets the security headers,
        # and a request id, its log line and its metrics (a crash too, as a 500).
        stack = SecurityHeaders(super().build_middleware_stack())
        return RequestContext(stack, trusted_proxies=self.state.settings.trusted_proxies)


def _too_large(scope: Scope, err: BodyTooLarge) -> Response:
    return _render_error(Request(scope), ContentTooLarge(str(err.detail)))


def create_app(settings: Settings) -> FastAPI:
    app = _App(
        title="checkpass",
        version="1",
        summary="Checkpoint vehicle passes: the bureau's server",
        dependencies=[Depends(csrf_protect)],
    )
    app.state.settings = settings
    # A missing PDF font stops the server here, not at the first pass someone prints (or a name it checks).
    pdf_font.use(settings.pdf_font)
    app.state.engine = make_engine(settings)
    # The audit pages read from a replica when one is configured (server/audit/deps.py); everything else, the primary.
    app.state.read_engine = make_read_engine(settings, app.state.engine)

    @app.exception_handler(AppError)
    def app_error(request: Request, err: AppError) -> Response:
        return _render_error(request, err)

    @app.exception_handler(CheckpassError)
    def core_error(request: Request, err: CheckpassError) -> Response:
        return _render_error(request, BadRequest(err.message, code=err.code))

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    @app.exception_handler(StatementError)
    def out_of_range(request: Request, err: Exception) -> Response:
        # PostgreSQL refuses NUL characters in text and both databases refuse integers past their range; a time
        # at the calendar's edge overflows on its way to UTC before the statement runs. The request's values were
        # unusable, whatever route let them through. Other statement errors (the database gone, a deadlock) are
        # not the request's fault: they stay 500s.
        caused_by_input = isinstance(err, DataError | OverflowError) or (
            isinstance(err, StatementError) and isinstance(err.orig, OverflowError | ValueError)
        )
        if not caused_by_input:
            raise err
        return _render_error(
            request,
            BadRequest("a value is out of range or contains forbidden characters", code="VALUE_UNUSABLE"),
        )

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, err: RequestValidationError) -> Response:
        fields = {".".join(str(p) for p in e["loc"][1:]) or "body": str(e["msg"]) for e in err.errors()}
        return _render_error(request, BadRequest("the request is not valid", fields=fields))

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, err: StarletteHTTPException) -> Response:
        if err.status_code == 413:
            return _render_error(request, ContentTooLarge(str(err.detail)))
        error = NotFound() if err.status_code == 404 else AppError(str(err.detail))
        error.status = err.status_code
        return _render_error(request, error)

    @app.exception_handler(Exception)
    def crashed(request: Request, err: Exception) -> Response:
        # The failure itself goes to the log (the framework re-raises it); the answer says nothing about it.
        return _render_error(request, ServerError("the server could not answer; try again later"))

    app.add_middleware(
        BodyLimit,
        limit=settings.max_body_bytes,
        routes=dict.fromkeys(UPLOAD_ROUTES, settings.max_upload_bytes),
        refuse=_too_large,
        patterns=documents_uploads.body_limits(settings),
    )

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # Each domain's portal pages (router.py: `web`) and its JSON API under /api/v1 (api.py: `api`).
    for pages in (
        accounts_pages,
        applications_pages,
        passes_pages,
        enterprises_pages,
        documents_pages,
        policy_pages,
        keyring_pages,
        checkpoints_pages,
        officers_pages,
        crossings_pages,
        audit_pages,
        alerts_pages,
        driver_links_pages,
        notices_pages,
        checkpoint_traffic,
        departments_pages,
        problems_pages,
        duty_pages,
        manifests_pages,
        quarantine_pages,
        ops_pages,
    ):
        app.include_router(pages.web)
    for api in (
        accounts_api,
        applications_api,
        passes_api,
        enterprises_api,
        documents_api,
        policy_api,
        keyring_api,
        bundles_api,
        checkpoints_api,
        officers_api,
        crossings_api,
        audit_api,
        alerts_api,
        manifests_api,
        quarantine_api,
    ):
        app.include_router(api.api)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static")
    return app


def create_app_from_env() -> FastAPI:
    """For `checkpass serve` (uvicorn --factory): settings from the environment, read when a worker starts."""
    return create_app(get_settings())
