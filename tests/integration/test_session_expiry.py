"""A portal session that has ended (issue 13): a form sent with it gets a clear page that leads back through
sign-in, a page opened with it goes to sign-in with a notice; nothing is saved. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from server.accounts.models import WebSession
from server.applications.models import Application
from tests.integration.test_applications import form


def end_sessions(app) -> None:
    """Every portal session runs out, as after the configured hours."""
    with Session(app.state.engine) as session:
        for web in session.exec(select(WebSession)).all():
            web.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            session.add(web)
        session.commit()


def test_a_form_sent_after_the_session_ended_gets_a_clear_page_and_saves_nothing(portal, app):
    clerk = portal("clerk")
    clerk.csrf = clerk.page_csrf("/enterprise/applications/new")
    end_sessions(app)
    referer = {"referer": "http://testserver/enterprise/applications/new"}
    response = clerk.form(
        "/enterprise/applications/new", form("draft"), headers=referer, follow_redirects=False
    )
    assert response.status_code == 401
    assert "登录已过期" in response.text and "保存在本浏览器标签页中" in response.text
    assert 'href="/login?next=/enterprise/applications/new&amp;expired=1"' in response.text
    english = clerk.form(
        "/enterprise/applications/new?lang=en", form("draft"), headers=referer, follow_redirects=False
    )
    assert "Your session has expired" in english.text
    with Session(app.state.engine) as session:
        assert session.exec(select(Application)).all() == []


def test_a_page_opened_after_the_session_ended_leads_to_sign_in_and_back(portal, app):
    clerk = portal("clerk")
    end_sessions(app)
    response = clerk.get("/enterprise/applications/new", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/enterprise/applications/new&expired=1"
    login = clerk.get(response.headers["location"])
    assert "登录已过期，请重新登录以继续" in login.text
    # Signing in with the stale cookie still in the browser works, and goes back to the form.
    clerk.csrf = clerk.cookies.get("cp_csrf")
    signed_in = clerk.post(
        "/login",
        data={
            "username": "clerk",
            "password": "correct-horse-battery",
            "csrf_token": clerk.csrf,
            "next": "/enterprise/applications/new",
        },
        follow_redirects=False,
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/enterprise/applications/new"


def test_a_forged_form_without_a_session_is_still_refused_as_forged(portal):
    anonymous = portal()
    response = anonymous.post("/enterprise/applications/new", data=form("draft"), follow_redirects=False)
    assert response.status_code == 403 and "登录已过期" not in response.text


def test_the_next_page_is_only_ever_a_path_of_this_site(portal, app):
    clerk = portal("clerk")
    clerk.csrf = clerk.page_csrf("/enterprise/applications/new")
    end_sessions(app)
    response = clerk.form(
        "/enterprise/applications/new",
        form("draft"),
        headers={"referer": "https://evil.example/enterprise/x"},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert "evil.example" not in response.text
    assert "next=/enterprise/applications/new&amp;expired=1" in response.text
