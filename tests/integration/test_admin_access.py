"""Administrator pages and API are for administrators only: every route, every other role, anonymous."""

from __future__ import annotations

from sqlmodel import Session, select

from server.keyring.models import KeyRecord
from tests.integration.conftest import OTHER_USCC
from tests.integration.test_passes_access import anonymous_portal

OTHERS = ("clerk", "rival", "reviewer", "auditor")
PAGES = ("/admin/enterprises", "/admin/keys", "/admin/policy")
API_GETS = ("/api/v1/enterprises", "/api/v1/keys")


def posts(app) -> list[tuple[str, str, dict]]:
    """(portal path, API path, API body) of every administrator action, ids included."""
    with Session(app.state.engine) as session:
        kid = session.exec(select(KeyRecord.kid).where(KeyRecord.role == "issuer")).first()
    return [
        (f"/admin/enterprises/{OTHER_USCC}/verify", f"/api/v1/enterprises/{OTHER_USCC}/verify", {}),
        ("/admin/keys/rotate", "/api/v1/keys/rotate", {}),
        (f"/admin/keys/{kid}/retire", f"/api/v1/keys/{kid}/retire", {}),
        ("/admin/policy", "", {}),
    ]


def key_rows(app) -> int:
    with Session(app.state.engine) as session:
        return len(session.exec(select(KeyRecord)).all())


def test_other_roles_are_forbidden(app, portal, api):
    for who in OTHERS:
        forbidden(app, portal(who), api(who))
    assert key_rows(app) == 2  # nothing rotated


def forbidden(app, web, client):
    for path in PAGES:
        assert web.get(path).status_code == 403, path
    for path, api_path, body in posts(app):
        assert web.form(path, {"hard_hit": "420000"}).status_code == 403, path
        if api_path:
            assert client.post(api_path, json=body).status_code == 403, api_path
    for path in API_GETS:
        response = client.get(path)
        assert response.status_code == 403 and response.json()["code"] == "ROLE_FORBIDDEN", path
    assert client.put("/api/v1/policy", json={"hard_hit": ["420000"]}).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in_or_refused(app, portal, api):
    web, client = anonymous_portal(portal), api()
    for path in PAGES:
        response = web.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}"
    for path, api_path, body in posts(app):
        assert web.form(path, {}).status_code == 401, path
        if api_path:
            assert client.post(api_path, json=body).status_code == 401, api_path
    for path in API_GETS:
        assert client.get(path).status_code == 401
    assert client.put("/api/v1/policy", json={}).status_code == 401
    assert client.get("/api/v1/policy").status_code == 401
    assert key_rows(app) == 2


def test_administrators_may(app, portal, api):
    web = portal("admin")
    for path in PAGES:
        assert web.get(path).status_code == 200, path
    for path in API_GETS:
        assert api("admin").get(path).status_code == 200, path


def test_admin_forms_need_the_csrf_token(app, portal):
    web = portal("admin")
    assert web.post("/admin/keys/rotate", data={}).status_code == 403
    assert key_rows(app) == 2


def test_malformed_ids_in_admin_routes_answer_404(app, api):
    admin = api("admin")
    for uscc in ("%00", "x" * 300, "91320583MA1XY71232"):
        assert admin.post(f"/api/v1/enterprises/{uscc}/verify").status_code == 404, uscc
    for kid in ("%00", "z" * 16, "0" * 300):
        assert admin.post(f"/api/v1/keys/{kid}/retire").status_code == 404, kid
    assert admin.put("/api/v1/policy", json={"note": "a\x00b"}).status_code == 422
