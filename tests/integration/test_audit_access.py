"""Who may see the audit, on both databases: every audit route for each role, anonymous callers and a device;
an enterprise sees only its own crossings, and another enterprise's crossing answers 404."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from server.audit import api as audit_api
from server.audit import router as audit_pages
from tests.integration import test_audit_views as views
from tests.integration.conftest import OTHER_USCC

device_factory, world = views.device_factory, views.world  # the fixtures, for this module

USERS = ("clerk", "rival", "reviewer", "auditor", "admin")
BUREAU = {"reviewer": 200, "auditor": 200, "admin": 200, "clerk": 403, "rival": 403}


def audit_routes() -> list[str]:
    """Every GET path of the audit's routers (walked directly: the app mounts included routers lazily)."""

    def walk(router) -> list[str]:
        found = []
        for route in router.routes:
            if isinstance(route, APIRoute):
                assert route.methods <= {"GET", "HEAD"}, route.path  # the audit only reads
                found.append(route.path)
            elif hasattr(route, "original_router"):
                found += walk(route.original_router)
        return found

    return walk(audit_pages.web) + walk(audit_api.api)


def status_of(client, path: str) -> int:
    return client.get(path, follow_redirects=False).status_code


def test_every_audit_route_is_for_the_bureau_and_enterprise_routes_for_enterprises(api, portal, world):
    crossing = world["ids"]["release"]  # the clerk's enterprise's
    paths = [route.replace("{crossing_id}", crossing) for route in audit_routes()]
    paths = [path + "?day=2026-12-04" if path == "/audit/report.pdf" else path for path in paths]
    # With the daily report (issue 13) and a bus's roll CSV (issue 14); the quarantine tasks are server.quarantine's
    # one list (/review/quarantine, tests/integration/test_quarantine_access.py).
    assert len(paths) == 19
    web = {user: portal(user) for user in USERS}
    tokens = {user: api(user) for user in USERS}
    anonymous_page, anonymous_api, device = portal(), api(), world["ours"]
    for path in paths:
        clients = tokens if path.startswith("/api/") else web
        results = {user: status_of(client, path) for user, client in clients.items()}
        if "/enterprise/" in path:
            own = path.rstrip("/").endswith(crossing)
            expected = {"clerk": 200, "rival": 404 if own else 200} | {
                u: 403 for u in ("reviewer", "auditor", "admin")
            }
        elif path.startswith("/audit/report.pdf"):
            expected = BUREAU | {"reviewer": 403}  # the leadership's report: auditors and administrators
        elif path.endswith("/passengers.csv"):
            # The role is checked first; then this freight crossing has no roll: 404 for the bureau.
            expected = BUREAU | {"reviewer": 404, "auditor": 404, "admin": 404}
        else:
            expected = BUREAU
        assert results == expected, path
        if path.startswith("/api/"):
            assert status_of(anonymous_api, path) == 401, path
        else:
            answer = anonymous_page.get(path, follow_redirects=False)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
        assert status_of(device, path) in (401, 403), path  # a checkpoint device's token reads nothing here


def test_an_enterprise_sees_only_its_own_crossings(api, portal, world):
    ids = world["ids"]
    own = {ids["release"], ids["escort"]}
    listed = {item["id"] for item in api("clerk").get("/api/v1/enterprise/crossings").json()["items"]}
    assert listed == own
    # Asking for another enterprise's crossings by filter gives nothing, not theirs.
    widened = api("clerk").get("/api/v1/enterprise/crossings", params={"enterprise": OTHER_USCC}).json()
    assert widened["items"] == []
    rival = {item["id"] for item in api("rival").get("/api/v1/enterprise/crossings").json()["items"]}
    assert rival == {ids["forged"], ids["fever"]}
    page = portal("clerk").get("/enterprise/crossings")
    shown = set(re.findall(r'href="/enterprise/crossings/([0-9a-f-]{36})"', page.text))
    assert shown == own and "本企业车辆通行记录" in page.text
    assert 'name="enterprise"' not in page.text  # no enterprise filter for an enterprise
    for name in ("forged", "fever"):
        assert portal("clerk").get(f"/enterprise/crossings/{ids[name]}").status_code == 404
        assert api("clerk").get(f"/api/v1/enterprise/crossings/{ids[name]}").status_code == 404
    assert portal("clerk").get("/enterprise/crossings/not-an-id").status_code == 404


def test_an_enterprise_detail_keeps_health_data_and_the_bureau_s_checks_to_the_bureau(api, portal, world):
    crossing = world["ids"]["release"]
    text = portal("clerk").get(f"/enterprise/crossings/{crossing}").text
    assert "张伟" in text and "放行" in text
    assert "36.5" not in text and 'id="replay"' not in text and 'id="conflicts"' not in text
    detail = api("clerk").get(f"/api/v1/enterprise/crossings/{crossing}").json()
    assert [o["temperature_c"] for o in detail["occupants"]] == [None, None]
    assert detail["replay"] is None and detail["conflicts"] == []


def test_the_navigation_offers_the_audit_to_bureau_roles_and_own_crossings_to_enterprises(portal):
    for user in ("reviewer", "auditor", "admin"):
        text = portal(user).get("/audit/crossings").text
        assert 'href="/audit/dashboard"' in text and 'href="/enterprise/crossings"' not in text
    text = portal("clerk").get("/enterprise/crossings").text
    assert 'href="/enterprise/crossings"' in text and 'href="/audit/dashboard"' not in text
