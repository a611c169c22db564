"""Every HTTP request: its id, its one log line and its metrics — a pure ASGI middleware around everything else.

The request id is the one nginx sent in ``X-Request-ID`` when the request came from a trusted proxy
(``CHECKPASS_TRUSTED_PROXIES``) and the id is well formed; otherwise a fresh one. A caller anywhere else cannot
choose what goes into our logs or make two requests look like one. The id is returned in ``X-Request-ID``, kept
in ``request.state.request_id`` for the error pages and problem bodies, and set in a context variable that every
log line written while the request runs carries.

Outside everything, the framework's error handling included: a request that crashed is still one line with
status 500, and its answer still carries the id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.ops import counters
from server.ops.logs import request_id_var

__all__ = ["HEADER", "METHODS", "RequestContext", "route_of", "well_formed"]

HEADER = "X-Request-ID"
# nginx's $request_id is 32 hex digits; other proxies send UUIDs. Nothing else: no spaces, quotes or
# control characters that could forge a log line or a header.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{8,64}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATIC = "/static/"
logger = logging.getLogger(__name__)


def well_formed(value: str) -> bool:
    return _WELL_FORMED.fullmatch(value) is not None


def route_of(scope: Scope) -> str:
    """The route template that answered (never the raw path: it holds ids), or a fixed name for the others."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope["path"].startswith(STATIC):
        return STATIC + "{path}"
    return "unmatched"


class RequestContext:
    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[IPv4Network | IPv6Network] = ()) -> None:
        self.app, self.trusted = app, tuple(trusted_proxies)

    def _from_proxy(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not client or not self.trusted:
            return False
        try:
            peer = ip_address(client[0])
        except ValueError:
            return False
        return any(peer in network for network in self.trusted)

    def _request_id(self, scope: Scope) -> str:
        incoming = Headers(scope=scope).get(HEADER.lower(), "")
        if incoming and well_formed(incoming) and self._from_proxy(scope):
            return incoming
        return uuid.uuid4().hex

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500  # what the client gets if the application fails before it answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = route_of(scope)
            counters.HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            counters.HTTP_DURATION.labels(method=method, route=route).observe(duration)
            logger.info(
                "%s %s %d",
                method,
                route,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(duration * 1000, 1),
                },
            )
            request_id_var.reset(token)
