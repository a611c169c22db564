"""HTTP errors: one small tree, rendered by one handler as RFC 9457 problem+json (API) or an HTML page (portal)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "AppError",
    "BadRequest",
    "Conflict",
    "ContentTooLarge",
    "Forbidden",
    "LoginRequired",
    "NotFound",
    "ServerError",
    "SessionExpired",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
]


class AppError(Exception):
    status = 400
    code = "BAD_REQUEST"
    title = "Bad request"

    def __init__(
        self,
        detail: str = "",
        *,
        code: str | None = None,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code:
            self.code = code
        self.fields = fields or {}  # field name -> message, for forms
        self.headers = headers or {}

    def problem(self, instance: str, request_id: str | None = None) -> dict[str, Any]:
        """The RFC 9457 body; ``request_id`` (an extension member) is what the server's log line of this request
        carries, so whoever reports the error can quote it."""
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "instance": instance,
        }
        if self.fields:
            body["errors"] = self.fields
        if request_id:
            body["request_id"] = request_id
        return body


class BadRequest(AppError):
    status, code, title = 422, "INVALID_INPUT", "Invalid input"


class Unauthorized(AppError):
    status, code, title = 401, "UNAUTHORIZED", "Sign in first"


class LoginRequired(Unauthorized):
    """A portal page needs a signed-in user: the handler redirects to the login page."""


class SessionExpired(Unauthorized):
    """A form was sent with a portal session that has ended: the page says so and leads to sign-in, back to
    ``next`` (a same-site path), where the form's typed data is restored from the tab (static/form_draft.js)."""

    code, title = "SESSION_EXPIRED", "Session expired"

    def __init__(self, detail: str = "", *, next_path: str = "/") -> None:
        super().__init__(detail or "your session has expired; sign in again", code=self.code)
        self.next = next_path


class Forbidden(AppError):
    status, code, title = 403, "FORBIDDEN", "Not allowed"


class NotFound(AppError):
    status, code, title = 404, "NOT_FOUND", "Not found"


class Conflict(AppError):
    status, code, title = 409, "CONFLICT", "Conflict"


class ContentTooLarge(AppError):
    status, code, title = 413, "BODY_TOO_LARGE", "Request too large"


class TooManyRequests(AppError):
    status, code, title = 429, "TOO_MANY_REQUESTS", "Too many attempts"


class Unavailable(AppError):
    """The server cannot do this until its operator acts (a key ceremony is due); retrying later may work."""

    status, code, title = 503, "UNAVAILABLE", "Not available now"


class ServerError(AppError):
    """Something failed that the request did not cause; what it was stays in the log."""

    status, code, title = 500, "SERVER_ERROR", "Server error"
