"""Accounts: registration, sign-in, throttling, CSRF, sessions and tokens — on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import Session, select

from server.enterprises.models import Enterprise
from tests.integration.conftest import PASSWORD

HOSTILE_NAME = "<script>alert(1)</script>' OR 1=1; -- \u200f企业\u200b"


def registration(**changes):
    return {
        "name": "昆山新材料科技有限公司",
        "uscc": "91320583MA1MQ3K8DC",
        "contact": "周敏",
        "phone": "0512-5550",
        "region": "320583",
        "username": "newco",
        "password": "long-enough-pw",
    } | changes


def test_an_enterprise_registers_unverified_and_can_sign_in(portal, app):
    visitor = portal()
    csrf = visitor.get("/register").cookies.get("cp_csrf")
    response = visitor.post("/register", data=registration() | {"csrf_token": csrf})
    assert response.status_code == 200 and "注册已提交" in response.text
    with Session(app.state.engine) as session:
        enterprise = session.get(Enterprise, "91320583MA1MQ3K8DC")
    assert enterprise is not None and enterprise.verified is False
    portal().login("newco", "long-enough-pw")


def test_registration_errors_are_shown_next_to_the_field_in_the_users_language(portal):
    visitor = portal()
    csrf = visitor.get("/register?lang=en").cookies.get("cp_csrf")
    response = visitor.post(
        "/register", data=registration(uscc="91320583MA1MQ3K8DD", region="12") | {"csrf_token": csrf}
    )
    assert response.status_code == 422
    assert 'id="e-uscc"' in response.text and "Not a valid unified social credit code" in response.text
    assert 'id="e-region"' in response.text


def test_hostile_enterprise_name_is_stored_verbatim_and_rendered_escaped(portal, app):
    visitor = portal()
    csrf = visitor.get("/register").cookies.get("cp_csrf")
    response = visitor.post("/register", data=registration(name=HOSTILE_NAME) | {"csrf_token": csrf})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    with Session(app.state.engine) as session:
        stored = session.exec(select(Enterprise).where(Enterprise.uscc == "91320583MA1MQ3K8DC")).one()
    assert stored.name == HOSTILE_NAME.strip()


def test_post_without_csrf_token_is_refused_and_changes_nothing(portal, app):
    response = portal().post("/register", data=registration())
    assert response.status_code == 403
    with Session(app.state.engine) as session:
        assert session.get(Enterprise, "91320583MA1MQ3K8DC") is None
    signed_in = portal("clerk")
    assert signed_in.post("/logout", data={}, follow_redirects=False).status_code == 403


def test_login_errors_are_generic_and_throttled(portal, app_settings):
    visitor = portal()
    csrf = visitor.get("/login").cookies.get("cp_csrf")
    wrong_user = visitor.post("/login", data={"username": "nobody", "password": "x", "csrf_token": csrf})
    wrong_password = visitor.post("/login", data={"username": "clerk", "password": "x", "csrf_token": csrf})
    assert wrong_user.status_code == wrong_password.status_code == 401
    assert "用户名或密码错误" in wrong_user.text and "用户名或密码错误" in wrong_password.text
    for _ in range(app_settings.login_max_failures):
        visitor.post("/login", data={"username": "clerk", "password": "wrong", "csrf_token": csrf})
    throttled = visitor.post("/login", data={"username": "clerk", "password": PASSWORD, "csrf_token": csrf})
    assert throttled.status_code == 429  # even the right password waits out the window


def test_session_cookie_flags_and_logout(portal):
    visitor = portal()
    csrf = visitor.get("/login").cookies.get("cp_csrf")
    response = visitor.post(
        "/login", data={"username": "clerk", "password": PASSWORD, "csrf_token": csrf}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    csrf = visitor.page_csrf("/login")
    assert visitor.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert visitor.get("/enterprise/applications", follow_redirects=False).status_code in (303, 404)


def test_open_redirect_after_login_is_not_followed(portal):
    visitor = portal()
    csrf = visitor.get("/login").cookies.get("cp_csrf")
    response = visitor.post(
        "/login",
        data={"username": "clerk", "password": PASSWORD, "csrf_token": csrf, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/enterprise/applications"


def test_api_tokens_authenticate_without_cookies(api):
    client = api()
    assert (
        client.post("/api/v1/auth/token", json={"username": "clerk", "password": "nope"}).status_code == 401
    )
    assert client.post("/api/v1/auth/token", json={"username": "clerk"}).status_code == 422
    reviewer = api("reviewer")
    assert reviewer.headers["authorization"].startswith("Bearer cpt_")
    bogus = api()
    bogus.headers["authorization"] = "Bearer cpt_forged"
    assert bogus.get("/healthz").status_code == 401


def test_errors_are_problem_json_on_the_api(api):
    response = api().get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "NOT_FOUND"


def test_security_headers_are_set(portal):
    response = portal().get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]
