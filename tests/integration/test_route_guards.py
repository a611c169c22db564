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
    ("GET", "/healthz"),
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/v1/trust-bundle"),
    ("GET", "/api/v1/trust-bundle/delta"),
    ("POST", "/api/v1/devices/enroll"),
}
STAFF_PREFIXES = ("/admin/", "/review/", "/api/v1/admin/")


def routes(app):
    for route in app.routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                yield method, route.path


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
