"""Request bodies bounded before they are read: a pure ASGI middleware.

A declared ``Content-Length`` over the limit is answered 413 at once, before a byte of the body is read. A body
sent without one (chunked) is counted as its ``http.request`` messages arrive and refused the moment it passes the
limit. The server reads a body only as fast as the application asks for it, so what comes after the limit is
never held: uvicorn discards it once the answer has gone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "BodyTooLarge"]


class BodyTooLarge(HTTPException):
    """Raised from ``receive``. An HTTPException, because FastAPI lets those out of its body parsing unchanged:
    the application's own error handler then answers it, in the application's shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the {limit} bytes allowed here")


class BodyLimit:
    """``limit`` bytes per request body, or the larger limit ``routes`` names for a path, or the first of
    ``patterns`` (regular expressions matching the whole path, for paths with ids in them) that matches."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        routes: Mapping[str, int],
        refuse: Callable[[Scope, BodyTooLarge], Response],
        patterns: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.app, self.limit, self.routes, self.refuse = app, limit, dict(routes), refuse
        self.patterns = [(re.compile(pattern), size) for pattern, size in patterns]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.routes.get(scope["path"]) or next(
            (size for pattern, size in self.patterns if pattern.fullmatch(scope["path"])), self.limit
        )
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self.refuse(scope, BodyTooLarge(limit))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
