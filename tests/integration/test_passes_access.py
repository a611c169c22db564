"""Who may see and revoke which pass: every route with a pass id, tried by every role, another enterprise and
an anonymous visitor, on the portal and the API."""

from __future__ import annotations

from tests.integration.test_passes import issue_pass, revocation_of

ROLES = ("clerk", "rival", "reviewer", "auditor", "admin", None)
# The pass belongs to clerk's enterprise: rival must not learn that it exists (404, not 403).
SEE = {"clerk": 200, "rival": 404, "reviewer": 200, "auditor": 200, "admin": 200}
REVOKE = {"clerk": 200, "rival": 404, "reviewer": 200, "auditor": 403, "admin": 200}
PORTAL_GETS = ("", "/phone", "/png", "/svg", "/pdf")
API_GETS = ("", "/png", "/svg", "/pdf")


def anonymous_portal(portal):
    client = portal()
    client.csrf = client.get("/login").cookies.get("cp_csrf")  # a valid form token, but nobody signed in
    return client


def client_pair(portal, api, who):
    return (portal(who) if who else anonymous_portal(portal)), api(who)


def test_viewing_a_pass(app, portal, api):
    record = issue_pass(app)
    for who in ROLES:
        web, client = client_pair(portal, api, who)
        for suffix in PORTAL_GETS:
            response = web.get(f"/enterprise/passes/{record.pass_id}{suffix}", follow_redirects=False)
            if who is None:
                assert response.status_code == 303, suffix
                assert response.headers["location"].startswith("/login"), suffix
            else:
                assert response.status_code == SEE[who], (who, suffix)
        for suffix in API_GETS:
            response = client.get(f"/api/v1/passes/{record.pass_id}{suffix}")
            assert response.status_code == (SEE[who] if who else 401), (who, suffix)
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/problem+json"


def test_revoking_a_pass_in_the_portal(app, portal, api):
    for who in ROLES:
        record = issue_pass(app)
        web, _ = client_pair(portal, api, who)
        response = web.form(
            f"/enterprise/passes/{record.pass_id}/revoke",
            {"reason": "测试", "confirm": "yes"},
            follow_redirects=False,
        )
        expected = (303 if REVOKE[who] == 200 else REVOKE[who]) if who else 401
        assert response.status_code == expected, who
        assert (revocation_of(app, record.pass_id) is not None) == (expected == 303), who


def test_revoking_a_pass_through_the_api(app, api):
    for who in ROLES:
        record = issue_pass(app)
        response = api(who).post(f"/api/v1/passes/{record.pass_id}/revoke", json={"reason": "测试"})
        assert response.status_code == (REVOKE[who] if who else 401), who
        revocation = revocation_of(app, record.pass_id)
        assert (revocation is not None) == (response.status_code == 200), who
        if revocation is not None:
            assert revocation.revoked_by == who


def test_unknown_or_malformed_ids_answer_404(app, api, portal):
    reviewer, clerk = api("reviewer"), portal("clerk")
    for pass_id in ("0" * 24, "not-a-pass-id", "A" * 200, "%27%20OR%201%3D1", "%00"):
        assert reviewer.get(f"/api/v1/passes/{pass_id}").status_code == 404, pass_id
        assert reviewer.post(f"/api/v1/passes/{pass_id}/revoke", json={"reason": "x"}).status_code == 404
        assert clerk.get(f"/enterprise/passes/{pass_id}/phone").status_code == 404, pass_id


def test_portal_revocation_without_the_csrf_token_is_refused(app, portal):
    record = issue_pass(app)
    clerk = portal("clerk")
    response = clerk.post(f"/enterprise/passes/{record.pass_id}/revoke", data={"reason": "测试"})
    assert response.status_code == 403
    assert revocation_of(app, record.pass_id) is None


def test_nul_and_control_characters_are_refused_not_stored(app, api):
    record = issue_pass(app)
    clerk = api("clerk")
    assert clerk.get("/api/v1/passes", params={"q": "苏E\x00A1234"}).status_code == 200
    refused = clerk.post(f"/api/v1/passes/{record.pass_id}/revoke", json={"reason": "停运\x00"})
    assert refused.status_code == 422 and refused.json()["errors"] == {"reason": "passes_reason_required"}
    assert revocation_of(app, record.pass_id) is None
