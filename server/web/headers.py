"""The headers every answer carries, error answers included: the browser's security policy, and no caching.

``SecurityHeaders`` wraps the whole application, outside the framework's own error handling, so a 500 or any
answer Starlette makes by itself gets them too. Pages and API answers hold names, plates, ID numbers and health
data: none may be kept in a cache (``no-store``) unless the route set its own caching (the trust bundle,
revalidated by its ETag). Public static assets are the only other exception.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SECURITY_HEADERS", "SecurityHeaders"]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
}
PUBLIC_ASSETS = "/static/"


def _add_headers(headers: MutableHeaders, path: str) -> None:
    """The security headers, and ``no-store`` unless the answer has its own caching or is a public asset."""
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if not path.startswith(PUBLIC_ASSETS):
        headers.setdefault("Cache-Control", "no-store")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_headers(MutableHeaders(scope=message), scope["path"])
            await send(message)

        await self.app(scope, receive, with_headers)
