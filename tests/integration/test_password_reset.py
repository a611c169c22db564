"""Password reset by e-mail (issue 13): the link arrives at a real SMTP server, works once, expires, ends the
account's other sessions; the answer never says whether an account exists; requests are throttled."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from server.accounts.models import User
from server.config import get_settings
from server.notices import sender
from server.notices.models import NoticeDelivery, PasswordReset
from tests.integration.conftest import PASSWORD
from tests.notice_servers import smtp_server

NEW_PASSWORD = "a-much-longer-new-secret-42"


@pytest.fixture
def mailbox():
    with smtp_server() as box:
        yield box


@pytest.fixture
def app_settings(tmp_path, database_url, mailbox):
    return get_settings(
        home=tmp_path,
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        public_url="https://pass.example.gov.cn",
        password_reset_max_per_hour=3,
    )


def set_email(app, username: str, address: str) -> None:
    with Session(app.state.engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        user.email = address
        session.add(user)
        session.commit()


def link_in(message) -> str:
    found = re.search(r"https://pass\.example\.gov\.cn(/password/reset\?token=[\w-]+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def ask(page, identifier: str):
    page.csrf = page.page_csrf("/password/forgot")
    return page.form("/password/forgot", {"identifier": identifier})


def test_the_forgot_password_flow_end_to_end(app, portal, mailbox):
    set_email(app, "clerk", "clerk@example.com")
    signed_in = portal("clerk")  # another browser of the same user: signed out by the reset
    assert signed_in.get("/account").status_code == 200
    assert 'href="/password/forgot"' in portal().get("/login").text

    anonymous = portal()
    answer = ask(anonymous, "clerk")
    assert answer.status_code == 200 and 'id="reset-sent"' in answer.text
    assert mailbox.messages == []  # not sent in the request: the outbox has it, sealed
    [delivery] = list(Session(app.state.engine).exec(select(NoticeDelivery)))
    assert delivery.params.startswith("v1:") and "token" not in delivery.params
    sender.send_due(app.state.engine, app.state.settings)
    [message] = mailbox.to("clerk@example.com")
    assert str(message["Subject"]) == "重设密码"
    link = link_in(message)
    with Session(app.state.engine) as session:
        assert session.exec(select(NoticeDelivery)).one().params == "{}"  # the link is not kept once sent
        stored = session.exec(select(PasswordReset).where(PasswordReset.user_id.is_not(None))).one()
        assert link.split("token=")[1] not in stored.token_hash  # only the hash is stored

    form_page = anonymous.get(link)
    assert form_page.status_code == 200 and form_page.headers["referrer-policy"] == "no-referrer"
    token = link.split("token=")[1]
    anonymous.csrf = anonymous.page_csrf(link)
    weak = anonymous.form("/password/reset", {"token": token, "password": "short"})
    assert weak.status_code == 422 and 'name="token"' in weak.text  # the link still works after a weak try
    done = anonymous.form(
        "/password/reset", {"token": token, "password": NEW_PASSWORD}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
    # The other session is over; the new password signs in; the old one does not; the link is used up.
    assert signed_in.get("/account", follow_redirects=False).status_code == 303
    portal().login("clerk", NEW_PASSWORD)
    refused = portal()
    refused.csrf = refused.get("/login").cookies.get("cp_csrf") or refused.cookies.get("cp_csrf") or ""
    assert (
        refused.post(
            "/login",
            data={"username": "clerk", "password": PASSWORD, "csrf_token": refused.csrf},
            follow_redirects=False,
        ).status_code
        != 303
    )
    again = portal()
    assert again.get(link).status_code == 400 and 'id="reset-invalid"' in again.get(link).text
    again.csrf = again.page_csrf("/password/forgot")
    reused = again.form("/password/reset", {"token": token, "password": "yet-another-long-secret-9"})
    assert reused.status_code == 422 and 'id="reset-invalid"' in reused.text


def test_the_answer_is_the_same_whether_or_not_the_account_exists(app, portal, mailbox):
    set_email(app, "clerk", "clerk@example.com")
    known = ask(portal(), "clerk@example.com")  # by e-mail address too
    unknown = ask(portal(), "nobody-here")
    no_address = ask(portal(), "reviewer")  # exists, but has no e-mail address
    strip = lambda text: re.sub(r'value="[^"]*"', "", text)  # noqa: E731 (the CSRF tokens differ)
    assert known.status_code == unknown.status_code == no_address.status_code == 200
    assert strip(known.text) == strip(unknown.text) == strip(no_address.text)
    sender.send_due(app.state.engine, app.state.settings)
    assert [str(m["To"]) for m in mailbox.messages] == ["clerk@example.com"]


def test_a_newer_link_replaces_the_older_and_links_expire(app, portal, mailbox):
    set_email(app, "clerk", "clerk@example.com")
    ask(portal(), "clerk")
    ask(portal(), "clerk")
    sender.send_due(app.state.engine, app.state.settings)
    first, second = (link_in(m) for m in mailbox.to("clerk@example.com"))
    page = portal()
    assert page.get(first).status_code == 400 and page.get(second).status_code == 200
    with Session(app.state.engine) as session:  # the request was made 31 minutes ago
        for reset in session.exec(select(PasswordReset)):
            reset.expires_at = datetime.now(UTC) - timedelta(minutes=1)
            session.add(reset)
        session.commit()
    assert page.get(second).status_code == 400


def test_requests_are_throttled_per_address_and_per_account(app, portal, mailbox):
    set_email(app, "clerk", "clerk@example.com")
    page = portal()
    for _ in range(3):
        assert ask(page, "clerk").status_code == 200
    throttled = ask(page, "clerk")
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert ask(page, "nobody").status_code == 429  # per address, whoever is named
    sender.send_due(app.state.engine, app.state.settings)
    assert len(mailbox.to("clerk@example.com")) == 3


def test_the_user_sets_an_email_address_on_the_account_page_and_at_registration(app, portal):
    clerk = portal("clerk")
    bad = clerk.form("/account/email", {"email": "not an address"})
    assert bad.status_code == 422 and "not an address" in bad.text
    saved = clerk.form("/account/email", {"email": "clerk@example.com"}, follow_redirects=False)
    assert saved.status_code == 303
    assert 'value="clerk@example.com"' in clerk.get("/account").text
    with Session(app.state.engine) as session:
        assert session.exec(select(User).where(User.username == "clerk")).one().email == "clerk@example.com"
    newcomer = portal()
    newcomer.csrf = newcomer.page_csrf("/register")
    registered = newcomer.form(
        "/register",
        {
            "name": "苏州新来物流有限公司",
            "uscc": "91320583MA1MQ3K8DC",
            "contact": "王经理",
            "phone": "0512-66660000",
            "region": "320583",
            "username": "newcomer",
            "password": NEW_PASSWORD,
            "email": "newcomer@example.com",
        },
    )
    assert registered.status_code == 200, registered.text
    with Session(app.state.engine) as session:
        user = session.exec(select(User).where(User.username == "newcomer")).first()
    assert user is not None and user.email == "newcomer@example.com"
