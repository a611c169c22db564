"""Signed webhook calls: the URL check (SSRF), the signature, the POST.

The signature header is ``X-Checkpass-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256(secret, ``"<t>." + body``): the receiver recomputes it over the raw body, compares in constant time and
refuses a timestamp far from its clock (a replayed call). ``verify`` is the receiver's side, for tests and docs.

A webhook URL is http(s) only, and its host must resolve to public addresses: loopback, private, link-local,
multicast and reserved ones are refused (the server would otherwise call into the bureau's own network for whoever
sets a URL), unless CHECKPASS_WEBHOOK_ALLOW_PRIVATE. The check is made when the URL is saved and again at each call,
and the call connects to the address that was checked (a name that resolves elsewhere the second time is not
followed), with no redirects.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from passcore.errors import InputError

__all__ = ["SIGNATURE_HEADER", "check_url", "post", "resolve", "sign", "verify"]

SIGNATURE_HEADER = "X-Checkpass-Signature"
MAX_URL = 300


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL; InputError for anything else."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise InputError(f"the webhook URL is longer than {MAX_URL} characters", code="WEBHOOK_URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise InputError("the webhook URL is not a valid URL", code="WEBHOOK_URL") from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            "the webhook URL must start with http:// or https:// and name a host", code="WEBHOOK_URL"
        )
    if parts.username or parts.password:
        raise InputError("the webhook URL must not carry a user name or password", code="WEBHOOK_URL")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to for ``host``: the first it resolves to, when every one is public (or private ones
    are allowed); InputError otherwise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise InputError(f"the webhook host {host!r} does not resolve", code="WEBHOOK_URL") from err
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise InputError(f"the webhook host {host!r} does not resolve", code="WEBHOOK_URL")
    if not allow_private and not all(_public(a) for a in addresses):
        raise InputError(
            "the webhook URL points to a loopback, private or reserved address", code="WEBHOOK_PRIVATE"
        )
    return addresses[0]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance: int = 300) -> bool:
    """The receiver's check: the signature matches the body and the timestamp is within ``tolerance`` s of now."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool) -> int:
    """POST ``body`` to ``url`` (checked again, connecting to the checked address); the HTTP status. Network
    errors raise OSError (http.client's errors included)."""
    scheme, host, port, path = check_url(url)
    address = resolve(host, port, allow_private=allow_private)
    connection: http.client.HTTPConnection
    if scheme == "https":
        connection = http.client.HTTPSConnection(host, port, timeout=timeout)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)

    # The TLS name and the Host header stay the URL's host; the socket goes to the address that was checked.
    def pinned(_address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        return socket.create_connection((address, port), *args, **kwargs)

    connect: Callable[..., socket.socket] = pinned
    connection._create_connection = connect  # type: ignore[attr-defined]
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(
            64 * 1024
        )  # the receiver's answer is not used; read a little so the connection ends cleanly
        return response.status
    except http.client.HTTPException as err:
        raise OSError(f"{type(err).__name__}") from err
    finally:
        connection.close()
