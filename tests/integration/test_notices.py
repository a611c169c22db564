"""Notices (issue 13): notify() writes rows in the caller's transaction, the sender delivers them to a real SMTP
server and a real webhook receiver (HMAC checked), failures are retried with back-off and visible, and nothing is
sent inside the request that caused a notice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from server.accounts.models import User
from server.config import get_settings
from server.crossings.models import EscortRequest
from server.errors import BadRequest
from server.notices import channels, sender, webhooks
from server.notices import service as notices
from server.notices.models import FAILED, PENDING, SENT, Notice, NoticeConfig, NoticeDelivery
from server.passes.models import IssuedPass
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import issue_pass
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.conftest import DEMO_USCC
from tests.integration.test_applications import created_id, form
from tests.notice_servers import smtp_server, webhook_server

device_factory = checkpoint_devices.device_factory  # the fixture, for this module


@pytest.fixture
def mailbox():
    with smtp_server() as box:
        yield box


@pytest.fixture
def hook():
    with webhook_server() as receiver:
        yield receiver


@pytest.fixture
def app_settings(tmp_path, database_url, mailbox):
    # The tests' receivers listen on loopback, which a real installation refuses (SSRF).
    return get_settings(
        home=tmp_path,
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_from="checkpass@bureau.example",
        webhook_allow_private=True,
        notice_retry_seconds=30,
    )


def set_email(app, username: str, address: str) -> int:
    with Session(app.state.engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        user.email = address
        session.add(user)
        session.commit()
        assert user.id is not None
        return user.id


def rows(app, model, *where):
    with Session(app.state.engine) as session:
        key = model.enterprise_uscc if model is NoticeConfig else model.id
        return list(session.exec(select(model).where(*where).order_by(key)))


def send(app, now: datetime | None = None, **changes):
    settings = app.state.settings.model_copy(update=changes) if changes else app.state.settings
    return sender.send_due(app.state.engine, settings, now)


PARAMS = {"id": "7", "plate": "苏EA1234", "enterprise": "昆山精密机械有限公司", "serial": "320583-000007"}


def test_notify_writes_a_notice_per_recipient_and_the_outbox_in_the_callers_transaction(app, hook):
    set_email(app, "clerk", "clerk@example.com")
    admin_id = set_email(app, "admin", "admin@example.com")
    now = datetime.now(UTC)
    with Session(app.state.engine) as session:
        session.add(
            NoticeConfig(
                enterprise_uscc=DEMO_USCC,
                emails="ops@example.com,CLERK@example.com",
                webhook_url=hook.url,
                updated_at=now,
            )
        )
        session.commit()
        notices.notify(session, "application.approved", PARAMS, now=now, link="/x", enterprise_uscc=DEMO_USCC)
        notices.notify(
            session, "application.submitted", PARAMS, now=now, role="reviewer", user_ids=[admin_id]
        )
        session.rollback()  # the caller's transaction failed: nothing of either notice remains
    assert rows(app, Notice) == [] and rows(app, NoticeDelivery) == []
    with Session(app.state.engine) as session:
        notices.notify(session, "application.approved", PARAMS, now=now, link="/x", enterprise_uscc=DEMO_USCC)
        notices.notify(
            session, "application.submitted", PARAMS, now=now, role="reviewer", user_ids=[admin_id]
        )
        session.commit()
    users = {u.id: u.username for u in rows(app, User)}
    assert sorted((users[n.user_id], n.kind) for n in rows(app, Notice)) == [
        ("admin", "application.submitted"),
        ("clerk", "application.approved"),
        ("reviewer", "application.submitted"),
    ]
    deliveries = [(d.channel, d.target, d.kind, d.state) for d in rows(app, NoticeDelivery)]
    assert (
        deliveries
        == [  # the clerk's address once, though the enterprise listed it too; the reviewer has none
            ("email", "clerk@example.com", "application.approved", PENDING),
            ("email", "ops@example.com", "application.approved", PENDING),
            ("webhook", hook.url, "application.approved", PENDING),
            ("email", "admin@example.com", "application.submitted", PENDING),
        ]
    )
    # The enterprise's log holds its own deliveries only, not the administrator's address the same call reached.
    with Session(app.state.engine) as session:
        notices.notify(
            session, "application.approved", PARAMS, now=now, enterprise_uscc=DEMO_USCC, user_ids=[admin_id]
        )
        session.commit()
        mine = {d.target for d in channels.deliveries(session, uscc=DEMO_USCC)}
    assert "admin@example.com" not in mine and "clerk@example.com" in mine
    with Session(app.state.engine) as session, pytest.raises(ValueError, match="no text"):
        notices.notify(session, "no.such.kind", {}, now=now, role="reviewer")
    with Session(app.state.engine) as session, pytest.raises(ValueError, match="string"):
        notices.notify(session, "application.approved", {"id": 7}, now=now, role="reviewer")  # type: ignore[dict-item]


def test_a_submission_and_a_decision_arrive_by_email_but_nothing_is_sent_in_the_request(portal, app, mailbox):
    set_email(app, "reviewer", "reviewer@example.com")
    set_email(app, "clerk", "clerk@example.com")
    clerk = portal("clerk")
    application_id = created_id(clerk.form("/enterprise/applications/new", form(), follow_redirects=False))
    # The request is over and the SMTP server has heard nothing: the e-mail waits in the outbox.
    assert mailbox.messages == []
    [waiting] = rows(app, NoticeDelivery)
    assert (waiting.target, waiting.kind, waiting.state, waiting.attempts) == (
        "reviewer@example.com",
        "application.submitted",
        PENDING,
        0,
    )
    reviewer = portal("reviewer")
    listing = reviewer.get("/notices")
    assert listing.status_code == 200 and f"新的通行证申请 #{application_id}" in listing.text
    assert 'class="badge"' in reviewer.get("/review/queue").text  # the unread count in the header

    assert send(app).sent == 1
    [message] = mailbox.to("reviewer@example.com")
    assert message["From"] == "checkpass@bureau.example"
    assert str(message["Subject"]) == f"新的通行证申请 #{application_id}（苏E·A1234）"
    assert "昆山精密机械有限公司" in message.get_content()
    assert f"/review/applications/{application_id}" in message.get_content()
    assert rows(app, NoticeDelivery)[0].state == SENT

    approved = reviewer.form(
        f"/review/applications/{application_id}/approve", {"confirm": "yes"}, follow_redirects=False
    )
    assert approved.status_code == 303, approved.text
    assert mailbox.to("clerk@example.com") == []
    assert send(app).sent == 1
    [decision] = mailbox.to("clerk@example.com")
    assert str(decision["Subject"]) == f"申请 #{application_id}（苏E·A1234）已批准"
    assert "320583-" in decision.get_content()  # the pass's number


def test_an_english_speaking_user_gets_english(app, mailbox):
    set_email(app, "clerk", "clerk@example.com")
    with Session(app.state.engine) as session:
        user = session.exec(select(User).where(User.username == "clerk")).one()
        user.lang = "en"
        session.add(user)
        notices.notify(
            session,
            "application.rejected",
            {**PARAMS, "reason": "no cargo papers"},
            now=datetime.now(UTC),
            enterprise_uscc=DEMO_USCC,
        )
        session.commit()
    send(app)
    [message] = mailbox.wait_for("clerk@example.com")
    assert str(message["Subject"]) == "Application #7 (苏EA1234) rejected"
    assert "Reason: no cargo papers" in message.get_content()


def test_the_webhook_is_signed_and_the_receiver_can_verify_it(app, hook):
    with Session(app.state.engine) as session:
        secret = channels.save(
            session,
            app.state.settings,
            DEMO_USCC,
            emails="",
            webhook_url=hook.url,
            new_secret=False,
            now=datetime.now(UTC),
        )
        assert secret and secret.startswith("whsec_")
        stored = session.get(NoticeConfig, DEMO_USCC)
        assert secret not in stored.webhook_secret_sealed  # sealed at rest
        notices.notify(
            session,
            "application.approved",
            PARAMS,
            now=datetime.now(UTC),
            link="/enterprise/applications/7",
            enterprise_uscc=DEMO_USCC,
        )
        session.commit()
    assert send(app).sent == 1
    [(headers, body)] = hook.calls
    signature = headers["x-checkpass-signature"]
    received = hook.received_at[-1]
    assert webhooks.verify(secret, signature, body, now=received)
    assert not webhooks.verify(secret, signature, body.replace(b"320583", b"320584"), now=received)
    assert not webhooks.verify("whsec_other", signature, body, now=received)
    assert not webhooks.verify(secret, signature, body, now=received + 3600)  # a replay an hour later
    payload = json.loads(body)
    assert (
        payload["kind"] == "application.approved" and headers["x-checkpass-event"] == "application.approved"
    )
    assert payload["params"]["serial"] == "320583-000007"
    assert payload["subject"]["en"] == "Application #7 (苏EA1234) approved"
    # A new secret replaces the old: the old one no longer verifies the next call.
    with Session(app.state.engine) as session:
        newer = channels.save(
            session,
            app.state.settings,
            DEMO_USCC,
            emails="",
            webhook_url=hook.url,
            new_secret=True,
            now=datetime.now(UTC),
        )
        notices.notify(
            session, "application.approved", PARAMS, now=datetime.now(UTC), enterprise_uscc=DEMO_USCC
        )
        session.commit()
    send(app)
    headers, body = hook.calls[-1]
    received = hook.received_at[-1]
    assert newer and webhooks.verify(newer, headers["x-checkpass-signature"], body, now=received)
    assert not webhooks.verify(secret, headers["x-checkpass-signature"], body, now=received)


def test_a_failing_webhook_is_retried_with_back_off_then_failed_and_shown(app, hook, portal):
    hook.status = 500
    with Session(app.state.engine) as session:
        channels.save(
            session,
            app.state.settings,
            DEMO_USCC,
            emails="",
            webhook_url=hook.url,
            new_secret=False,
            now=datetime.now(UTC),
        )
        notices.notify(
            session, "application.approved", PARAMS, now=datetime.now(UTC), enterprise_uscc=DEMO_USCC
        )
        session.commit()
    start = datetime.now(UTC)
    assert send(app, start, notice_max_attempts=3).retried == 1
    [delivery] = rows(app, NoticeDelivery)
    assert (delivery.state, delivery.attempts, delivery.status_code, delivery.last_error) == (
        PENDING,
        1,
        500,
        "HTTP 500",
    )
    assert delivery.next_try_at == start + timedelta(seconds=30)
    # not due yet: not tried again
    assert send(app, start + timedelta(seconds=29), notice_max_attempts=3).ids == [] and len(hook.calls) == 1
    second = delivery.next_try_at + timedelta(seconds=1)
    send(app, second, notice_max_attempts=3)
    [delivery] = rows(app, NoticeDelivery)
    assert delivery.attempts == 2 and len(hook.calls) == 2
    assert delivery.next_try_at == second + timedelta(seconds=60)  # doubled
    send(app, delivery.next_try_at + timedelta(seconds=1), notice_max_attempts=3)
    [delivery] = rows(app, NoticeDelivery)
    assert (delivery.state, delivery.attempts) == (FAILED, 3)

    # Visible: the administrator's log and the enterprise's own page, each with the failure.
    for username, path in (("admin", "/admin/notices?state=failed"), ("clerk", "/enterprise/notices")):
        page = portal(username).get(path)
        assert (
            page.status_code == 200
            and f'id="delivery-{delivery.id}"' in page.text
            and "HTTP 500" in page.text
        )
        assert "失败" in page.text
    assert portal("rival").get("/enterprise/notices").text.count('id="delivery-') == 0
    # A rival cannot retry it; the administrator can, and once the receiver works it is sent.
    rival = portal("rival")
    assert rival.form(f"/enterprise/notices/deliveries/{delivery.id}/retry", {}).status_code == 404
    admin = portal("admin")
    assert admin.form(f"/admin/notices/{delivery.id}/retry", {}, follow_redirects=False).status_code == 303
    hook.status = 204
    assert send(app, notice_max_attempts=3).sent == 1
    [delivery] = rows(app, NoticeDelivery)
    assert (delivery.state, delivery.attempts, delivery.status_code, delivery.last_error) == (
        SENT,
        4,
        204,
        "",
    )


def test_webhook_urls_must_be_http_and_public_unless_allowed(app, portal):
    strict = app.state.settings.model_copy(update={"webhook_allow_private": False})
    for url, code in (
        ("ftp://example.com/hook", "WEBHOOK_URL"),
        ("https://user:pw@example.com/hook", "WEBHOOK_URL"),
        ("javascript:alert(1)", "WEBHOOK_URL"),
        ("http://127.0.0.1:9/hook", "WEBHOOK_PRIVATE"),
        ("http://localhost/hook", "WEBHOOK_PRIVATE"),
        ("http://10.1.2.3/hook", "WEBHOOK_PRIVATE"),
        ("http://169.254.169.254/latest/meta-data", "WEBHOOK_PRIVATE"),
        ("http://[::1]/hook", "WEBHOOK_PRIVATE"),
        ("http://[::ffff:192.168.0.1]/hook", "WEBHOOK_PRIVATE"),
    ):
        with Session(app.state.engine) as session, pytest.raises(BadRequest) as refused:
            channels.save(
                session,
                strict,
                DEMO_USCC,
                emails="",
                webhook_url=url,
                new_secret=False,
                now=datetime.now(UTC),
            )
        assert refused.value.code == code, url
    assert rows(app, NoticeConfig) == []  # nothing was saved
    # The sender checks again at each call: a URL saved while allowed is not called once it is not.
    with pytest.raises(Exception, match="loopback"):
        webhooks.post("http://127.0.0.1:9/", b"{}", {}, timeout=1, allow_private=False)
    # The form names the field, keeps what was typed and changes nothing.
    clerk = portal("clerk")
    bad = clerk.form("/enterprise/notices", {"emails": "not-an-address", "webhook_url": "ftp://x.example/"})
    assert bad.status_code == 422 and "not-an-address" in bad.text and "ftp://x.example/" in bad.text
    assert rows(app, NoticeConfig) == []
    good = clerk.form(
        "/enterprise/notices",
        {"emails": "ops@example.com; dispatch@example.com", "webhook_url": ""},
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert rows(app, NoticeConfig)[0].emails == "ops@example.com,dispatch@example.com"


def test_the_secret_is_shown_once_on_the_settings_page(app, portal, hook):
    clerk = portal("clerk")
    saved = clerk.form("/enterprise/notices", {"emails": "", "webhook_url": hook.url})
    assert saved.status_code == 200 and 'id="webhook-secret"' in saved.text
    again = clerk.get("/enterprise/notices")
    assert 'id="webhook-secret"' not in again.text and "whsec_" not in again.text


def test_two_senders_never_claim_the_same_delivery(app):
    now = datetime.now(UTC)
    with Session(app.state.engine) as session:
        for _ in range(6):
            notices.email(session, "x@example.com", "application.approved", PARAMS, lang="zh", now=now)
        session.commit()
    with Session(app.state.engine) as one, Session(app.state.engine) as two:
        first = sender.claim(one, now, limit=4)
        second = sender.claim(two, now, limit=4)
    assert len(first) == 4 and len(second) == 2 and not set(first) & set(second)
    with Session(app.state.engine) as session:
        assert sender.claim(session, now) == []  # all held
        # A sender that died holding rows: once its lease is over they are claimed again.
        assert sorted(sender.claim(session, now + sender.LEASE + timedelta(seconds=1))) == sorted(
            first + second
        )


def test_without_an_smtp_server_an_email_fails_visibly(app):
    with Session(app.state.engine) as session:
        notices.email(
            session, "x@example.com", "application.approved", PARAMS, lang="zh", now=datetime.now(UTC)
        )
        session.commit()
    assert send(app, smtp_host="").failed == 1
    [delivery] = rows(app, NoticeDelivery)
    assert delivery.state == FAILED and "SMTP" in delivery.last_error


def test_the_notification_list_marks_read_and_refreshes_as_a_fragment(app, portal):
    now = datetime.now(UTC)
    with Session(app.state.engine) as session:
        for serial in ("320583-000001", "320583-000002"):
            notices.notify(
                session,
                "application.approved",
                {**PARAMS, "serial": serial},
                now=now,
                link="/enterprise/applications/7",
                enterprise_uscc=DEMO_USCC,
            )
        session.commit()
    clerk = portal("clerk")
    listing = clerk.get("/notices")
    assert 'data-live-url="/notices?partial=1"' in listing.text and "2 条未读" in listing.text
    fragment = clerk.get("/notices?partial=1")
    assert fragment.status_code == 200 and "<html" not in fragment.text and "320583-000002" in fragment.text
    first, _second = rows(app, Notice)
    assert portal("rival").form("/notices/read", {"notice_id": str(first.id)}).status_code == 404
    opened = clerk.form("/notices/read", {"notice_id": str(first.id), "open": "1"}, follow_redirects=False)
    assert opened.headers["location"] == "/enterprise/applications/7"
    assert "1 条未读" in clerk.get("/notices").text
    clerk.form("/notices/read", {}, follow_redirects=False)
    assert all(n.read_at is not None for n in rows(app, Notice))
    assert 'class="badge"' not in clerk.get("/notices").text


def test_an_escort_request_and_its_answer_notify_the_enterprise(app, portal, device_factory, mailbox):
    set_email(app, "clerk", "clerk@example.com")
    device = device_factory(make_checkpoint(app))
    pass_id, _qr = issue_pass(app)
    record = device.escort_record(pass_id=pass_id)
    assert device.upload(record).json()["accepted"] == 1
    [escort] = rows(app, EscortRequest)
    [notice] = rows(app, Notice)
    assert notice.kind == "escort.requested" and notice.link == f"/enterprise/escorts/{escort.id}"
    with Session(app.state.engine) as session:
        issued = session.exec(select(IssuedPass).where(IssuedPass.pass_id == pass_id)).one()
    assert json.loads(notice.params)["serial"] == issued.serial  # found through the upload's own partition
    send(app)
    [message] = mailbox.wait_for("clerk@example.com")
    assert "鄂A·12345" in str(message["Subject"]) and "G312 昆山东卡口" in str(message["Subject"])
    clerk = portal("clerk")
    eta = (
        (datetime.now(UTC) + timedelta(minutes=40))
        .astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
        .strftime("%Y-%m-%dT%H:%M")
    )
    answered = clerk.form(
        f"/enterprise/escorts/{escort.id}",
        {"staff_name": "周敏", "staff_phone": "13812345678", "eta": eta},
        follow_redirects=False,
    )
    assert answered.status_code == 303
    assert [n.kind for n in rows(app, Notice)] == ["escort.requested", "escort.answered"]
    assert "已由本企业答复" in clerk.get("/notices").text


def test_the_escort_lists_refresh_themselves_from_a_fragment(app, portal, device_factory):
    device = device_factory(make_checkpoint(app))
    assert device.upload(device.escort_record()).json()["accepted"] == 1
    for username, path in (("clerk", "/enterprise/escorts"), ("reviewer", "/review/escorts")):
        page = portal(username)
        full = page.get(path).text
        assert f'data-live-url="{path}?partial=1"' in full and "鄂A·12345" in full
        fragment = page.get(f"{path}?partial=1")
        assert fragment.status_code == 200 and "<html" not in fragment.text and "鄂A·12345" in fragment.text
    filtered = portal("reviewer").get("/review/escorts?status=open").text
    assert 'data-live-url="/review/escorts?partial=1&amp;status=open"' in filtered
    assert portal("rival").get("/enterprise/escorts?partial=1").text.count("鄂A·12345") == 0


def test_a_data_key_rotation_reseals_webhook_secrets_and_unsent_reset_links(app, hook):
    from server.keyring import datakeys
    from server.keyring import service as keyring

    with Session(app.state.engine) as session:
        secret = channels.save(
            session,
            app.state.settings,
            DEMO_USCC,
            emails="",
            webhook_url=hook.url,
            new_secret=False,
            now=datetime.now(UTC),
        )
        notices.email(
            session,
            "x@example.com",
            "account.password_reset",
            {"url": "https://x/r?token=abc", "minutes": "30", "username": "clerk"},
            lang="zh",
            now=datetime.now(UTC),
            sealed=True,
        )
        session.commit()
        old_kid = datakeys.kid_of(session.get(NoticeConfig, DEMO_USCC).webhook_secret_sealed)
        rotation = keyring.rotate_data_key(session=session)
        assert old_kid in rotation.retired  # nothing depends on it any more: re-sealed under the new key
        config = session.get(NoticeConfig, DEMO_USCC)
        assert datakeys.kid_of(config.webhook_secret_sealed) == rotation.kid
        [delivery] = session.exec(select(NoticeDelivery)).all()
        assert notices.open_params(session, delivery)["url"] == "https://x/r?token=abc"
        notices.notify(
            session, "application.approved", PARAMS, now=datetime.now(UTC), enterprise_uscc=DEMO_USCC
        )
        session.commit()
    send(app, smtp_host="")  # the e-mail fails (no SMTP here); the webhook is what this test looks at
    headers, body = hook.calls[-1]
    assert webhooks.verify(secret, headers["x-checkpass-signature"], body, now=hook.received_at[-1])
