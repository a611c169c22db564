"""Every route is closed to anonymous callers unless it is meant to be public, and staff pages to enterprises."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

PUBLIC = {
    ("GET", "/"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/register"),
    ("POST", "/register"),
    # Password reset by e-mail (issue 13): for those who cannot sign in.
    ("GET", "/password/forgot"),
    ("POST", "/password/forgot"),
    ("GET", "/password/reset"),
    ("POST", "/password/reset"),
    ("GET", "/healthz"),
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/v1/trust-bundle"),
    ("GET", "/api/v1/trust-bundle/delta"),
    ("POST", "/api/v1/devices/enroll"),
    # The driver's phone link (issue 13, B1): the token in the path is the authority; an unknown one is 404.
    ("GET", "/d/{token}"),
    ("GET", "/d/{token}/status"),
    ("GET", "/d/sw.js"),  # the phone page's service worker (no data in it)
    # The public checkpoint status page and its JSON (issue 13, E): names, places and states only.
    ("GET", "/checkpoints/status"),
    ("GET", "/api/v1/checkpoints/status"),
}
STAFF_PREFIXES = ("/admin/", "/review/", "/api/v1/admin/", "/department/")


def routes(app):
    """(method, path) of every route, through included routers: FastAPI includes them lazily, so
    ``app.routes`` alone lists only the app's own few."""

    def walk(found, prefix):
        for route in found:
            if isinstance(route, APIRoute):
                for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                    yield method, prefix + route.path
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)

    return list(walk(app.routes, ""))


def test_the_walk_finds_every_domain(app):
    paths = {path for _method, path in routes(app)}
    assert len(paths) > 60
    for expected in (
        "/enterprise/applications",
        "/review/queue",
        "/admin/enterprises",
        "/api/v1/crossings",
        "/audit",
    ):
        assert any(p.startswith(expected) for p in paths), expected


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_no_route_answers_an_anonymous_caller_with_success(api, portal, app):
    anonymous_api, anonymous_page = api(), portal()
    opened = []
    for method, path in routes(app):
        if (method, path) in PUBLIC:
            continue
        for client in (anonymous_api, anonymous_page):
            response = client.request(method, concrete(path), follow_redirects=False)
            if response.status_code < 300 or (
                response.status_code in (301, 302, 303, 307)
                and "/login" not in response.headers.get("location", "")
            ):
                opened.append(f"{method} {path}: {response.status_code}")
    assert opened == []


@pytest.mark.parametrize("username", ["clerk", "rival"])
def test_staff_pages_are_closed_to_enterprise_users(portal, app, username):
    page = portal(username)
    opened = []
    for method, path in routes(app):
        if method == "GET" and path.startswith(STAFF_PREFIXES):
            response = page.get(concrete(path), follow_redirects=False)
            if response.status_code < 400:
                opened.append(f"{path}: {response.status_code}")
    assert opened == []
