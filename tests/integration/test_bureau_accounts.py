"""Administrators manage the bureau's accounts: create a reviewer, auditor or administrator with a generated
one-time password shown once, generate a new password, deactivate after a confirmation (never themselves) and
reactivate. On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from server.accounts.models import User


def one_time_password(text: str) -> str:
    found = re.search(r'class="one-time-password">([^<]+)<', text)
    assert found, text[:2000]
    return found.group(1)


def signs_in(portal, username: str, password: str) -> bool:
    page = portal()
    page.csrf = page.get("/login").cookies.get("cp_csrf") or page.cookies.get("cp_csrf") or ""
    answer = page.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": page.csrf},
        follow_redirects=False,
    )
    return answer.status_code == 303


@pytest.mark.parametrize("role", ["reviewer", "auditor", "admin"])
def test_an_administrator_creates_a_bureau_account_with_a_one_time_password(portal, app, role):
    admin = portal("admin")
    assert 'href="/admin/accounts/new"' in admin.get("/admin/users").text
    made = admin.form(
        "/admin/accounts/new", {"username": f"new-{role}", "display_name": "王审核", "role": role}
    )
    assert made.status_code == 200
    password = one_time_password(made.text)
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", password)
    assert "no-store" in made.headers["cache-control"]
    with Session(app.state.engine) as session:
        user = session.exec(select(User).where(User.username == f"new-{role}")).one()
    assert user.role == role and user.display_name == "王审核" and password not in user.password_hash
    assert signs_in(portal, f"new-{role}", password)
    # Shown once: the account's page never shows it again.
    assert password not in admin.get(f"/admin/users/new-{role}").text


@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({"username": "x", "display_name": "王", "role": "reviewer"}, "3–50"),
        ({"username": "good-name", "display_name": "", "role": "reviewer"}, "请填写姓名"),
        (
            {"username": "good-name", "display_name": "王", "role": "enterprise"},
            "请选择审核员、审计员或管理员",
        ),
        (
            {"username": "good-name", "display_name": "王", "role": "department"},
            "请选择审核员、审计员或管理员",
        ),
    ],
    ids=["short-username", "no-name", "enterprise-role", "department-role"],
)
def test_a_bad_new_account_is_refused_beside_its_field_and_nothing_is_made(portal, app, data, field_message):
    refused = portal("admin").form("/admin/accounts/new", data)
    assert refused.status_code == 422 and field_message in refused.text
    assert 'class="one-time-password"' not in refused.text
    with Session(app.state.engine) as session:
        assert session.exec(select(User).where(User.username == "good-name")).first() is None


def test_a_taken_username_is_refused(portal):
    refused = portal("admin").form(
        "/admin/accounts/new", {"username": "reviewer", "display_name": "王", "role": "admin"}
    )
    assert refused.status_code == 409 and 'class="one-time-password"' not in refused.text


def test_a_generated_password_replaces_the_old_one_after_a_confirmation(portal):
    admin = portal("admin")
    assert 'href="/admin/users/reviewer/generate"' in admin.get("/admin/users/reviewer").text
    confirm = admin.get("/admin/users/reviewer/generate")
    assert confirm.status_code == 200 and 'action="/admin/users/reviewer/generate"' in confirm.text
    reviewer = portal("reviewer")
    made = admin.form("/admin/users/reviewer/generate", {})
    password = one_time_password(made.text)
    assert reviewer.get("/review/queue", follow_redirects=False).status_code == 303  # signed out everywhere
    assert signs_in(portal, "reviewer", password)


def test_deactivation_is_confirmed_first_and_never_of_oneself(portal):
    admin = portal("admin")
    page = admin.get("/admin/users/auditor").text
    assert 'href="/admin/users/auditor/deactivate"' in page
    confirm = admin.get("/admin/users/auditor/deactivate")
    assert confirm.status_code == 200 and 'action="/admin/users/auditor/deactivate"' in confirm.text
    assert admin.form("/admin/users/auditor/deactivate", {}, follow_redirects=False).status_code == 303
    assert not signs_in(portal, "auditor", "correct-horse-battery")
    assert admin.form("/admin/users/auditor/activate", {}, follow_redirects=False).status_code == 303
    assert signs_in(portal, "auditor", "correct-horse-battery")
    assert admin.get("/admin/users/admin/deactivate").status_code == 409
    assert 'href="/admin/users/admin/deactivate"' not in admin.get("/admin/users/admin").text
    assert admin.form("/admin/users/admin/deactivate", {}).status_code == 409


def test_the_api_creates_accounts_and_generates_passwords(api, portal):
    admin = api("admin")
    made = admin.post(
        "/api/v1/users", json={"username": "api-auditor", "display_name": "李审计", "role": "auditor"}
    )
    assert made.status_code == 201 and made.json()["user"]["role"] == "auditor"
    assert signs_in(portal, "api-auditor", made.json()["password"])
    again = admin.post("/api/v1/users/api-auditor/password/generate")
    assert again.status_code == 200 and again.json()["password"] != made.json()["password"]
    assert signs_in(portal, "api-auditor", again.json()["password"])
    bad = admin.post(
        "/api/v1/users", json={"username": "x-clerk", "display_name": "张", "role": "enterprise"}
    )
    assert bad.status_code == 422
    for who in ("reviewer", "auditor", "clerk"):
        assert (
            api(who)
            .post("/api/v1/users", json={"username": "z-z-z", "display_name": "张", "role": "admin"})
            .status_code
            == 403
        )
        assert api(who).post("/api/v1/users/clerk/password/generate").status_code == 403
        assert portal(who).get("/admin/accounts/new").status_code == 403


def test_the_account_pages_speak_english(portal):
    admin = portal("admin")
    assert "New bureau account" in admin.get("/admin/accounts/new?lang=en").text
    made = admin.form(
        "/admin/accounts/new", {"username": "en-reviewer", "display_name": "Wang", "role": "reviewer"}
    )
    assert "shown this once" in made.text
