"""Who may talk to the screen: only this laptop's own browser.

The server binds 127.0.0.1, but a web page from anywhere can still make the browser send requests there, and a
DNS-rebinding page can even read the answers under its own name. So every request must name localhost in its
Host header (a rebinding page's requests carry its own host name), a request the browser marks as coming from
another site or origin is refused, and every /api/ call must carry the per-run token that only the screen's
own page knows (an X-Screen-Token header, or ?token= where the browser cannot set headers: EventSource, <img>).
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LOCAL_HOSTS", "ScreenGuard"]

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def _hostname(value: str) -> str | None:
    try:
        return urlsplit(f"//{value}").hostname
    except ValueError:
        return None


class ScreenGuard:
    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self._problem(scope)
        if problem is not None:
            await _refuse(send, problem)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _problem(self, scope: Scope) -> str | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if _hostname(host) not in LOCAL_HOSTS:
            return "this screen answers only to http://127.0.0.1 (Host not allowed)"
        origin = headers.get("origin")
        if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host.lower()):
            return "requests from other pages are refused (Origin not allowed)"
        if headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
            return "requests from other sites are refused"
        if scope["path"].startswith("/api/"):
            given = headers.get("x-screen-token")
            if given is None and scope["method"] == "GET":  # only reads may carry it in the address
                given = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token") or [""])[0]
            if not secrets.compare_digest((given or "").encode(), self.token.encode()):
                return (
                    "missing or wrong screen token: reload the page from the address `checkpoint run` printed"
                )
        return None


async def _refuse(send: Send, message: str) -> None:
    body = f'{{"code": "FORBIDDEN", "message": "{message}"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
