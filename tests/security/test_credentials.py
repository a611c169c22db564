"""Credentials (issue 11): API tokens expire and are listed and revoked by their owner and by administrators; a
password reset, change or deactivation ends every session and token; sign-in backs off per account and source
address (X-Forwarded-For believed only from configured proxies); passwords of 12+ characters that are not common;
registration throttled and silent about which usernames exist — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlmodel import Session, select
from typer.testing import CliRunner

from server import db
from server.accounts import service as accounts
from server.accounts.models import ApiToken, LoginAttempt, User, WebSession
from server.cli import app as checkpass
from server.config import get_settings
from server.deps import get_now
from server.enterprises.models import Enterprise
from server.main import create_app
from tests.integration.client_helpers import uvicorn_thread
from tests.security.conftest import PASSWORD, Portal

DEMO_PASSWORD = "checkpass-demo-2020"
SOURCE_A = ("198.51.100.7", 40000)
SOURCE_B = ("203.0.113.9", 40000)


def token_for(client: TestClient, username: str, name: str = "script") -> dict:
    response = client.post(
        "/api/v1/auth/token", json={"username": username, "password": PASSWORD, "name": name}
    )
    assert response.status_code == 200, response.text
    return response.json()


def bearer(app, token: str) -> TestClient:
    return TestClient(app, headers={"authorization": f"Bearer {token}"})


def clock(app, moment: datetime) -> None:
    app.dependency_overrides[get_now] = lambda: moment


def login(app, username: str, password: str, source=SOURCE_A, **headers: str):
    with Portal(app, headers={"accept": "text/html", **headers}, client=source) as visitor:
        csrf = visitor.get("/login").cookies.get("cp_csrf")
        return visitor.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf},
            follow_redirects=False,
        )


# --- API tokens ---------------------------------------------------------------------------------------------------


def test_an_api_token_expires_after_the_configured_days(app, api):
    issued = token_for(api(), "clerk")
    lifetime = datetime.fromisoformat(issued["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < lifetime <= timedelta(days=30)
    script = bearer(app, issued["token"])
    assert script.get("/api/v1/applications").status_code == 200
    clock(app, datetime.now(UTC) + timedelta(days=30, minutes=1))
    refused = script.get("/api/v1/applications")
    assert refused.status_code == 401 and refused.json()["code"] == "TOKEN_INVALID"


def test_the_token_lifetime_is_a_bounded_setting(tmp_path):
    assert get_settings(home=tmp_path, api_token_days=7).api_token_days == 7
    for days in (0, 366):
        with pytest.raises(ValidationError):
            get_settings(home=tmp_path, api_token_days=days)


def test_the_owner_lists_and_revokes_their_own_tokens_only(app, api, portal):
    first, second = token_for(api(), "clerk", "nightly"), token_for(api(), "clerk", "report")
    clerk = bearer(app, first["token"])
    listed = clerk.get("/api/v1/account/tokens").json()
    assert [t["name"] for t in listed] == ["report", "nightly"]
    assert set(listed[0]) == {"id", "name", "created_at", "last_used_at", "expires_at"}  # never the secret
    assert listed[1]["last_used_at"] is not None  # this very request used it
    rival = bearer(app, token_for(api(), "rival")["token"])
    assert rival.delete(f"/api/v1/account/tokens/{second['id']}").status_code == 404
    assert clerk.delete(f"/api/v1/account/tokens/{second['id']}").status_code == 204
    assert bearer(app, second["token"]).get("/api/v1/applications").status_code == 401
    assert [t["name"] for t in clerk.get("/api/v1/account/tokens").json()] == ["nightly"]
    # The account page lists them too, makes one shown once, and revokes.
    page = portal("clerk")
    listing = page.get("/account").text
    assert "nightly" in listing and f'action="/account/tokens/{first["id"]}/revoke"' in listing
    made = page.form("/account/tokens", {"name": "from the page"})
    assert made.status_code == 200 and 'id="new-token"' in made.text
    secret = made.text.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert bearer(app, secret).get("/api/v1/applications").status_code == 200
    assert secret not in page.get("/account").text
    revoked = page.form(f"/account/tokens/{first['id']}/revoke", {}, follow_redirects=False)
    assert revoked.status_code == 303
    assert clerk.get("/api/v1/applications").status_code == 401


def test_an_administrator_lists_and_revokes_another_accounts_tokens(app, api, portal):
    clerk_tokens = [token_for(api(), "clerk", name) for name in ("one", "two", "three")]
    admin, reviewer = api("admin"), api("reviewer")
    assert reviewer.get("/api/v1/users/clerk/tokens").status_code == 403
    assert reviewer.post("/api/v1/users/clerk/tokens/revoke").status_code == 403
    users = {u["username"]: u for u in admin.get("/api/v1/users").json()}
    assert users["clerk"]["live_tokens"] == 3 and users["clerk"]["active"] is True
    listed = admin.get("/api/v1/users/clerk/tokens").json()
    assert {t["name"] for t in listed} == {"one", "two", "three"}
    assert admin.delete(f"/api/v1/users/clerk/tokens/{clerk_tokens[0]['id']}").status_code == 204
    assert admin.delete(f"/api/v1/users/rival/tokens/{clerk_tokens[1]['id']}").status_code == 404
    assert bearer(app, clerk_tokens[0]["token"]).get("/api/v1/applications").status_code == 401
    assert bearer(app, clerk_tokens[1]["token"]).get("/api/v1/applications").status_code == 200
    page = portal("admin")
    listing = page.get("/admin/users/clerk").text
    assert "two" in listing and "clerk" in page.get("/admin/users").text
    assert f'action="/admin/users/clerk/tokens/{clerk_tokens[1]["id"]}/revoke"' in listing
    assert page.form("/admin/users/clerk/tokens/revoke", {}, follow_redirects=False).status_code == 303
    for token in clerk_tokens:
        assert bearer(app, token["token"]).get("/api/v1/applications").status_code == 401
    assert admin.get("/api/v1/users/clerk/tokens").json() == []


def cli(app_settings, *args: str, password: str = DEMO_PASSWORD):
    env = {"CHECKPASS_HOME": str(app_settings.home)}
    if app_settings.database_url:
        env["CHECKPASS_DATABASE_URL"] = app_settings.database_url
    return CliRunner().invoke(checkpass, list(args), env=env, input=f"{password}\n")


def test_the_cli_revokes_an_accounts_tokens(app, app_settings, api):
    token = token_for(api(), "reviewer")["token"]
    done = cli(app_settings, "user", "revoke-tokens", "reviewer")
    assert done.exit_code == 0, done.output
    assert "1 API token(s) of reviewer revoked" in done.output
    assert bearer(app, token).get("/api/v1/applications").status_code == 401


# --- Password reset, change, deactivation -------------------------------------------------------------------------


def live_credentials(app, username: str) -> tuple[int, int]:
    with Session(app.state.engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        webs = session.exec(select(WebSession).where(WebSession.user_id == user.id)).all()
        tokens = session.exec(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
        ).all()
    return len(webs), len(tokens)


def signed_in(page: Portal) -> bool:
    return page.get("/account", follow_redirects=False).status_code == 200


def test_a_password_reset_ends_every_session_and_token(app, app_settings, api, portal):
    page, token = portal("reviewer"), token_for(api(), "reviewer")["token"]
    assert signed_in(page) and live_credentials(app, "reviewer") == (1, 1)
    done = cli(app_settings, "user", "reset-password", "reviewer", "--password-stdin")
    assert done.exit_code == 0, done.output
    assert not signed_in(page)
    assert bearer(app, token).get("/api/v1/applications").status_code == 401
    assert live_credentials(app, "reviewer") == (0, 0)
    assert login(app, "reviewer", DEMO_PASSWORD, SOURCE_B).status_code == 303


def test_an_administrators_reset_on_the_page_or_api_ends_every_session_and_token(app, api, portal):
    page, token = portal("clerk"), token_for(api(), "clerk")["token"]
    admin = portal("admin")
    weak = admin.form("/admin/users/clerk/password", {"password": "kunshan-pw1"})
    assert weak.status_code == 422 and 'id="e-password"' in weak.text and signed_in(page)
    done = admin.form("/admin/users/clerk/password", {"password": DEMO_PASSWORD}, follow_redirects=False)
    assert done.status_code == 303
    assert not signed_in(page) and bearer(app, token).get("/api/v1/applications").status_code == 401
    again = portal().login("clerk", DEMO_PASSWORD)
    assert (
        api("admin")
        .post("/api/v1/users/clerk/password", json={"password": "a-new-long-password"})
        .status_code
        == 204
    )
    assert not signed_in(again) and live_credentials(app, "clerk") == (0, 0)
    assert (
        api("reviewer").post("/api/v1/users/clerk/password", json={"password": PASSWORD}).status_code == 403
    )


def test_a_password_change_ends_the_other_sessions_and_every_token(app, api, portal):
    elsewhere, here, token = portal("clerk"), portal("clerk"), token_for(api(), "clerk")["token"]
    wrong = here.form("/account/password", {"current": "not-my-password", "password": "a-new-long-password"})
    assert wrong.status_code == 422 and signed_in(elsewhere)
    changed = here.form(
        "/account/password", {"current": PASSWORD, "password": "a-new-long-password"}, follow_redirects=False
    )
    assert changed.status_code == 303
    assert signed_in(here) and not signed_in(elsewhere)  # the browser that changed it stays signed in
    assert bearer(app, token).get("/api/v1/applications").status_code == 401
    assert live_credentials(app, "clerk") == (1, 0)


def test_deactivation_ends_every_session_and_token_for_good(app, app_settings, api, portal):
    page, token = portal("clerk"), token_for(api(), "clerk")["token"]
    admin = api("admin")
    assert admin.post("/api/v1/users/admin/deactivate").status_code == 409  # not oneself
    assert api("reviewer").post("/api/v1/users/clerk/deactivate").status_code == 403
    assert admin.post("/api/v1/users/clerk/deactivate").json()["active"] is False
    assert live_credentials(app, "clerk") == (0, 0)
    assert not signed_in(page)
    assert login(app, "clerk", PASSWORD, SOURCE_B).status_code == 401
    assert admin.post("/api/v1/users/clerk/activate").json()["active"] is True
    assert bearer(app, token).get("/api/v1/applications").status_code == 401  # still ended
    assert not signed_in(page)
    # The CLI deactivates too.
    assert cli(app_settings, "user", "deactivate", "rival").exit_code == 0
    assert login(app, "rival", PASSWORD, SOURCE_B).status_code == 401


# --- Sign-in throttling -------------------------------------------------------------------------------------------


def test_failures_from_one_source_do_not_lock_the_owner_out_from_another(app, app_settings):
    for _ in range(app_settings.login_max_failures):
        assert login(app, "clerk", "a-wrong-guess", SOURCE_A).status_code == 401
    throttled = login(app, "clerk", PASSWORD, SOURCE_A)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert login(app, "clerk", PASSWORD, SOURCE_B).status_code == 303


def test_a_source_backs_off_longer_after_each_failure_and_the_api_too(app, app_settings, api):
    start = datetime.now(UTC)
    clock(app, start)
    guesser = TestClient(app, client=SOURCE_A)
    wrong = {"username": "auditor", "password": "a-wrong-guess"}
    for _ in range(app_settings.login_max_failures):
        assert guesser.post("/api/v1/auth/token", json=wrong).status_code == 401
    first = guesser.post("/api/v1/auth/token", json=wrong)
    assert first.status_code == 429 and first.json()["code"] == "LOGIN_THROTTLED"
    assert 0 < int(first.headers["retry-after"]) <= 60
    clock(app, start + timedelta(seconds=int(first.headers["retry-after"])))
    assert guesser.post("/api/v1/auth/token", json=wrong).status_code == 401  # one more try, then longer
    second = guesser.post("/api/v1/auth/token", json=wrong)
    assert second.status_code == 429 and int(second.headers["retry-after"]) > int(
        first.headers["retry-after"]
    )
    page = login(app, "auditor", "a-wrong-guess", SOURCE_A)
    assert page.status_code == 429 and "retry-after" in page.headers and "分钟后再试" in page.text


def test_one_source_cannot_spray_many_accounts(app, app_settings):
    for n in range(app_settings.login_source_max_failures):
        assert login(app, f"someone{n}", "a-wrong-guess", SOURCE_A).status_code == 401
    sprayed = login(app, "reviewer", "a-wrong-guess", SOURCE_A)
    assert sprayed.status_code == 429 and int(sprayed.headers["retry-after"]) > 0
    assert login(app, "reviewer", PASSWORD, SOURCE_B).status_code == 303


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(app, app_settings):
    for n in range(app_settings.login_max_failures):
        forged = {"x-forwarded-for": f"192.0.2.{n + 1}"}
        assert login(app, "clerk", "a-wrong-guess", SOURCE_A, **forged).status_code == 401
    # Every guess counted against the real peer, whatever address it claimed.
    assert login(app, "clerk", PASSWORD, SOURCE_A, **{"x-forwarded-for": "192.0.2.99"}).status_code == 429


@pytest.fixture
def served(app, monkeypatch, tmp_path):
    """The app under uvicorn on 127.0.0.1, configured as `checkpass serve` configures it."""
    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    done = CliRunner().invoke(checkpass, ["serve"], env={"CHECKPASS_HOME": str(tmp_path / "serve")})
    assert done.exit_code == 0, done.output
    options = {k: v for k, v in seen.items() if k not in ("factory", "workers", "host", "port", "log_level")}
    with uvicorn_thread(app, **options) as port:
        yield f"http://127.0.0.1:{port}"


def test_a_local_caller_cannot_pick_its_address_through_the_served_app(served, app_settings):
    # uvicorn by default believes X-Forwarded-For from 127.0.0.1: a local caller could claim a fresh address
    # for every guess. As served, the header is the app's to judge, and it trusts no proxy by default.
    with httpx.Client(base_url=served, timeout=20) as client:
        for n in range(app_settings.login_source_max_failures + 1):
            forged = {"x-forwarded-for": f"192.0.2.{n + 1}"}
            guess = {"username": f"someone{n}", "password": "a-wrong-guess"}
            answer = client.post("/api/v1/auth/token", json=guess, headers=forged)
    assert answer.status_code == 429


@pytest.fixture
def proxied_app(tmp_path, database_url):
    settings = get_settings(home=tmp_path, database_url=database_url, trusted_proxies="10.0.0.0/8")
    app = create_app(settings)
    db.migrate(app.state.engine)
    now = datetime.now(UTC)
    with db.session_scope(app.state.engine) as session:
        accounts.create_user(
            session=session, username="reviewer", password=PASSWORD, role="reviewer", now=now
        )
    yield app
    app.state.engine.dispose()


def test_x_forwarded_for_from_a_configured_proxy_names_the_client(proxied_app):
    proxy = ("10.0.0.5", 40000)
    settings = proxied_app.state.settings
    for _ in range(settings.login_max_failures):
        spoofed = {"x-forwarded-for": "192.0.2.66, 198.51.100.7"}  # the client forged the left one
        assert login(proxied_app, "reviewer", "a-wrong-guess", proxy, **spoofed).status_code == 401
    assert (
        login(proxied_app, "reviewer", PASSWORD, proxy, **{"x-forwarded-for": "198.51.100.7"}).status_code
        == 429
    )
    # Another client behind the same proxy is another source; a direct peer's own header is not believed.
    assert (
        login(proxied_app, "reviewer", PASSWORD, proxy, **{"x-forwarded-for": "203.0.113.9"}).status_code
        == 303
    )
    with Session(proxied_app.state.engine) as session:
        sources = {a.client for a in session.exec(select(LoginAttempt))}
    assert sources == {"198.51.100.7", "203.0.113.9"}


# --- Passwords ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("kunshan-pw1", "password_too_short"),
        ("Password1234", "password_common"),
        ("qwerty123456", "password_common"),
    ],
)
def test_short_and_common_passwords_are_refused_everywhere(app, app_settings, portal, password, reason):
    assert len("kunshan-pw1") == 11
    messages = {
        "password_too_short": ("密码至少 12 位", "The password needs at least 12 characters"),
        "password_common": ("这是常用密码", "This is a commonly used password"),
    }[reason]
    for lang, message in zip(("zh", "en"), messages, strict=True):
        visitor = portal()
        csrf = visitor.get(f"/register?lang={lang}").cookies.get("cp_csrf")
        refused = visitor.post("/register", data=registration(password=password) | {"csrf_token": csrf})
        assert refused.status_code == 422 and 'id="e-password"' in refused.text and message in refused.text
        page = portal("clerk")
        page.get(f"/account?lang={lang}")
        changed = page.form("/account/password", {"current": PASSWORD, "password": password})
        assert changed.status_code == 422 and message in changed.text
    with db.session_scope(app.state.engine) as session:
        for make in (
            lambda: accounts.create_user(
                session=session, username="newbie", password=password, role="auditor", now=datetime.now(UTC)
            ),
            lambda: accounts.reset_password(
                session=session, username="auditor", password=password, now=datetime.now(UTC)
            ),
        ):
            with pytest.raises(Exception) as refused_err:
                make()
            assert getattr(refused_err.value, "code", "") == "PASSWORD_WEAK"
    done = cli(
        app_settings, "user", "create", "newbie", "--role", "auditor", "--password-stdin", password=password
    )
    assert getattr(done.exception, "code", "") == "PASSWORD_WEAK"  # `checkpass` prints it as one line, exit 2


def test_the_demo_and_test_passwords_are_still_good_ones():
    for password in (DEMO_PASSWORD, PASSWORD, "long-enough-pw"):
        accounts.hash_password(password)


# --- Registration -------------------------------------------------------------------------------------------------


def registration(**changes) -> dict[str, str]:
    return {
        "name": "昆山新材料科技有限公司",
        "uscc": "91320583MA1MQ3K8DC",
        "contact": "周敏",
        "phone": "0512-5550",
        "region": "320583",
        "username": "newco",
        "password": "long-enough-pw",
    } | changes


def register(app, source=SOURCE_A, **changes):
    with Portal(app, headers={"accept": "text/html"}, client=source) as visitor:
        csrf = visitor.get("/register").cookies.get("cp_csrf")
        return visitor.post("/register", data=registration(**changes) | {"csrf_token": csrf})


def test_registering_a_taken_username_answers_as_a_new_one_and_changes_nothing(app):
    new = register(app)
    taken = register(app, SOURCE_B, username="clerk", uscc="91320583MA1MQ3K9DD")
    known_enterprise = register(app, SOURCE_B, username="another-new-name", uscc="91320583MA1XY71231")
    assert new.status_code == taken.status_code == known_enterprise.status_code == 200
    assert new.text == taken.text == known_enterprise.text
    assert "如果无法登录" in new.text  # what a real user does when the name was taken
    with Session(app.state.engine) as session:
        assert session.get(Enterprise, "91320583MA1MQ3K9DD") is None
        names = set(session.exec(select(User.username)))
    assert "another-new-name" not in names
    assert login(app, "clerk", PASSWORD, SOURCE_B).status_code == 303  # the existing account is untouched
    assert login(app, "newco", "long-enough-pw", SOURCE_B).status_code == 303


def test_registration_is_throttled_per_source(app, app_settings):
    for n in range(app_settings.registration_max_per_hour):
        assert register(app, SOURCE_A, username=f"taken{n}" if n else "clerk").status_code == 200
    throttled = register(app, SOURCE_A, username="newco")
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert "注册过多" in throttled.text
    with Session(app.state.engine) as session:
        assert session.exec(select(User).where(User.username == "newco")).first() is None
    assert register(app, SOURCE_B, username="newco").status_code == 200
