"""``GET /metrics`` for a Prometheus scraper: with the configured Bearer token, or from a configured network.

Anyone else — the public, and a signed-in user by their session alone — gets the same 404 as a path that does
not exist, so the route is not even visible; with neither ``metrics_token`` nor ``metrics_networks`` set it is
off. The network is checked on the caller's address as ``CHECKPASS_TRUSTED_PROXIES`` resolves it: a request
relayed by our own nginx counts as coming from its client, not from nginx's loopback address.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from ipaddress import ip_address

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session

from server.accounts.deps import resolve_client
from server.config import Settings
from server.deps import get_now
from server.errors import NotFound
from server.ops import metrics

__all__ = ["allowed", "web"]

web = APIRouter(include_in_schema=False)


def _token_matches(request: Request, settings: Settings) -> bool:
    if settings.metrics_token is None:
        return False
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = settings.metrics_token.get_secret_value()
    # compare_digest: the time taken says nothing about how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


def _network_matches(address: str, settings: Settings) -> bool:
    try:
        caller = ip_address(address)
    except ValueError:
        return False
    return any(caller in network for network in settings.metrics_networks)


def allowed(request: Request, address: str, settings: Settings) -> bool:
    """A configured scraper: the token, or an address in one of the networks."""
    return _token_matches(request, settings) or _network_matches(address, settings)


def _clock(request: Request) -> Callable[[], datetime]:
    """The app's clock, as the FastAPI routes get it (a test may set the instant through the override)."""
    return request.app.dependency_overrides.get(get_now, get_now)  # type: ignore[no-any-return]


def scrape(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    peer = request.client.host if request.client else ""
    address = resolve_client(peer, request.headers.getlist("x-forwarded-for"), settings.trusted_proxies)
    if not allowed(request, address, settings):
        raise NotFound()  # the same answer as a path that does not exist
    with Session(request.app.state.engine) as session:
        body = metrics.exposition(session, _clock(request)())
    return Response(body, media_type=metrics.CONTENT_TYPE)


# A plain Starlette route, outside FastAPI's dependencies: the app-wide ones read `Authorization: Bearer` as a
# user's API token and would refuse the scraper's token as an unknown one; a session cookie is never looked at.
web.add_route("/metrics", scrape, methods=["GET"], include_in_schema=False)
