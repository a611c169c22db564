"""Request lookups of the accounts: the administrator guard, and the caller's address, which throttling of sign-in
and registration counts by.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only as far as it was appended by
a reverse proxy we trust (``CHECKPASS_TRUSTED_PROXIES``): walking from the connection's peer back along the header,
the client is the first hop that is not a trusted proxy. With no proxy configured the header is ignored, so a
caller cannot pick a fresh address for each guess, nor spend someone else's.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Annotated

from fastapi import Depends, Request

from server.accounts.models import ROLE_ADMIN, User
from server.deps import SettingsDep, require

__all__ = ["AdminUser", "ClientAddress", "client_address", "resolve_client"]


def _address(text: str) -> str | None:
    try:
        return ip_address(text.strip().strip("[]")).compressed
    except ValueError:
        return None


def resolve_client(peer: str, forwarded: Sequence[str], trusted: Sequence[IPv4Network | IPv6Network]) -> str:
    """The client's address, from the connection's ``peer`` and the ``X-Forwarded-For`` headers, in order."""
    hops = [hop for header in forwarded for hop in header.split(",")]
    client = _address(peer) or peer
    while hops:
        here = _address(client)
        if here is None or not any(ip_address(here) in network for network in trusted):
            break  # an address we do not trust wrote everything to its left
        previous = _address(hops.pop())
        if previous is None:
            break  # a trusted proxy appends a real address; anything else is not believed
        client = previous
    return client


def client_address(request: Request, settings: SettingsDep) -> str:
    peer = request.client.host if request.client else "unknown"
    if not settings.trusted_proxies:
        return peer
    return resolve_client(peer, request.headers.getlist("x-forwarded-for"), settings.trusted_proxies)


ClientAddress = Annotated[str, Depends(client_address)]


AdminUser = Annotated[User, Depends(require(ROLE_ADMIN))]
