"""Trust-bundle distribution: the signed bundle with ETag / If-None-Match, the revocation delta, and size at scale."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlmodel import Session, select

from passcore import trust
from server import db
from server.accounts import service as accounts
from server.checkpoints.models import Checkpoint, Device
from server.keyring import service as keyring
from server.keyring.models import KeyRecord
from server.passes.models import IssuedPass, Revocation
from tests.integration.conftest import DEMO_USCC
from tests.integration.test_passes import issue_pass

ETAG = re.compile(r'^"(\d+)-[0-9a-f]{16}"$')


def load(app, content: bytes) -> trust.TrustBundle:
    root = keyring.load_root(app.state.settings).public
    return trust.load_bundle(content, root=root, now=datetime.now(UTC))


def device_client(app, api):
    """A checkpoint device's bearer token, as enrolment hands it out."""
    now = datetime.now(UTC)
    with db.session_scope(app.state.engine) as session:
        checkpoint = Checkpoint(name="G2 花桥卡口", region="320583", created_at=now)
        session.add(checkpoint)
        session.flush()
        session.add(Device(id="dev-test-1", checkpoint_id=checkpoint.id, enrolled_at=now))
    with Session(app.state.engine) as session:
        token = accounts.create_api_token(session=session, now=now, name="device", device_id="dev-test-1")
    client = api()
    client.headers["authorization"] = f"Bearer {token}"
    return client


def test_anyone_and_a_device_get_the_signed_bundle_with_its_version_and_etag(app, api):
    for client in (api(), device_client(app, api), api("clerk")):
        response = client.get("/api/v1/trust-bundle")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["cache-control"] == "no-cache"
        version = int(response.headers["x-bundle-version"])
        assert ETAG.match(response.headers["etag"]).group(1) == str(version)
        bundle = load(app, response.content)
        assert bundle.version == version and DEMO_USCC in bundle.enterprises


def test_if_none_match_answers_304_while_nothing_changed(app, api):
    client = api()
    first = client.get("/api/v1/trust-bundle")
    tag = first.headers["etag"]
    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = client.get("/api/v1/trust-bundle", headers={"if-none-match": header})
        assert again.status_code == 304, header
        assert again.content == b"" and again.headers["etag"] == tag
    assert (
        client.get("/api/v1/trust-bundle", headers={"if-none-match": '"1-0000000000000000"'}).status_code
        == 200
    )


def test_a_revoked_pass_is_in_the_next_bundle_and_verifies_as_revoked(app, api):
    record = issue_pass(app)
    client = api()
    before = client.get("/api/v1/trust-bundle")
    assert trust.verify_pass(record.qr_text, load(app, before.content), now=datetime.now(UTC)).valid
    assert (
        api("clerk").post(f"/api/v1/passes/{record.pass_id}/revoke", json={"reason": "停运"}).status_code
        == 200
    )
    after = client.get("/api/v1/trust-bundle", headers={"if-none-match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    assert int(after.headers["x-bundle-version"]) == int(before.headers["x-bundle-version"]) + 1
    verdict = trust.verify_pass(record.qr_text, load(app, after.content), now=datetime.now(UTC))
    assert (verdict.valid, verdict.code) == (False, "PASS_REVOKED")


def test_the_delta_lists_passes_revoked_since_a_version(app, api):
    kept, first, second = issue_pass(app), issue_pass(app), issue_pass(app)
    client = api()
    held = int(client.get("/api/v1/trust-bundle").headers["x-bundle-version"])
    reviewer = api("reviewer")
    for record in (first, second):
        reviewer.post(f"/api/v1/passes/{record.pass_id}/revoke", json={"reason": "测试"})
    delta = client.get("/api/v1/trust-bundle/delta", params={"since": held})
    assert delta.status_code == 200
    body = delta.json()
    assert body["from_version"] == held and body["to_version"] == held + 1
    assert body["revoked"] == sorted([first.pass_id, second.pass_id]) and kept.pass_id not in body["revoked"]
    assert body["full_required"] is False
    latest = body["to_version"]
    assert client.get("/api/v1/trust-bundle/delta", params={"since": latest}).json() == {
        "from_version": latest,
        "to_version": latest,
        "revoked": [],
        "full_required": False,
    }


def test_the_delta_asks_for_the_full_bundle_when_the_policy_changed(app, api):
    client = api()
    held = int(client.get("/api/v1/trust-bundle").headers["x-bundle-version"])
    assert api("admin").put("/api/v1/policy", json={"hard_hit": ["420000"]}).status_code == 200
    body = client.get("/api/v1/trust-bundle/delta", params={"since": held}).json()
    assert body["to_version"] == held + 1 and body["full_required"] is True


def test_a_delta_from_an_unknown_or_malformed_version_is_a_problem(app, api):
    client = api()
    for since in ("999", "0", "-1", "abc", "1.5", "99999999999999999999", ""):
        response = client.get("/api/v1/trust-bundle/delta", params={"since": since})
        assert response.status_code == 422, since
        assert response.headers["content-type"] == "application/problem+json"
        if since == "999":
            assert response.json()["code"] == "BUNDLE_VERSION_UNKNOWN"
    assert client.get("/api/v1/trust-bundle/delta").status_code == 422


def test_the_bundle_stays_under_2_mb_with_100000_revoked_passes(app, api):
    now = datetime.now(UTC)
    client = api()
    held = int(client.get("/api/v1/trust-bundle").headers["x-bundle-version"])
    with db.session_scope(app.state.engine) as session:
        kid = session.exec(select(KeyRecord.kid).where(KeyRecord.role == "issuer")).first()
        rows = [
            {
                "pass_id": secrets.token_hex(12),
                "serial": f"320583-{n:06d}",
                "kid": kid,
                "enterprise_uscc": DEMO_USCC,
                "plate": "苏EA1234",
                "claims_json": "{}",
                "application_json": "{}",
                "qr_text": "",
                "issued_at": now,
                "valid_from": now,
                "valid_until": now + timedelta(days=7),
            }
            for n in range(1, 100_001)
        ]
        session.execute(insert(IssuedPass), rows)
        session.execute(
            insert(Revocation),
            [
                {"pass_id": r["pass_id"], "revoked_at": now, "reason": "批量", "revoked_by": "test"}
                for r in rows
            ],
        )
    response = client.get("/api/v1/trust-bundle")
    assert response.status_code == 200
    assert len(response.content) <= 2 * 1024 * 1024
    bundle = load(app, response.content)
    assert len(bundle.revoked) == 100_000 and rows[0]["pass_id"] in bundle.revoked
    delta = client.get("/api/v1/trust-bundle/delta", params={"since": held}).json()
    assert len(delta["revoked"]) == 100_000 and delta["full_required"] is False
