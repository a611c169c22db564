"""The administrator's pages and API: enterprise verification, key rotation and retirement, the release policy;
each key or policy change signed into a new trust-bundle version at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from passcore import trust
from server.accounts.models import User
from server.enterprises.models import Enterprise
from server.keyring.models import KeyRecord
from server.policy import service as policy_service
from tests.factories import DRIVER_ID
from tests.integration.test_passes import issue_pass
from tests.integration.test_trust_bundle_api import load

NEW_USCC = "91320583MA1MQ3K8DC"


def add_unverified(app) -> None:
    with Session(app.state.engine) as session:
        session.add(
            Enterprise(
                uscc=NEW_USCC,
                name="昆山新材料科技有限公司",
                contact="周敏",
                phone="0512-5550",
                region="320583",
                created_at=datetime.now(UTC),
            )
        )
        session.commit()


def bundle_version(api) -> int:
    return int(api().get("/api/v1/trust-bundle").headers["x-bundle-version"])


def issuer_keys(app) -> dict[str, str]:
    with Session(app.state.engine) as session:
        rows = session.exec(select(KeyRecord).where(KeyRecord.role == "issuer")).all()
    return {row.kid: row.status for row in rows}


# Enterprises ----------------------------------------------------------------------------------------------


def test_admin_verifies_a_waiting_enterprise(app, portal, api):
    add_unverified(app)
    admin = portal("admin")
    page = admin.get("/admin/enterprises")
    assert page.status_code == 200
    assert "昆山新材料科技有限公司" in page.text and "待核验" in page.text
    assert f'action="/admin/enterprises/{NEW_USCC}/verify"' in page.text
    response = admin.form(f"/admin/enterprises/{NEW_USCC}/verify", {}, follow_redirects=False)
    assert response.status_code == 303
    with Session(app.state.engine) as session:
        enterprise = session.get(Enterprise, NEW_USCC)
        admin_id = session.exec(select(User.id).where(User.username == "admin")).one()
    assert enterprise.verified and enterprise.verified_at is not None and enterprise.verified_by == admin_id
    page = admin.get(response.headers["location"])
    assert "已核验通过" in page.text and f'action="/admin/enterprises/{NEW_USCC}/verify"' not in page.text
    listed = {e["uscc"]: e for e in api("admin").get("/api/v1/enterprises").json()}
    assert listed[NEW_USCC]["verified"] is True and listed[NEW_USCC]["verified_by"] == "admin"
    again = api("admin").post(f"/api/v1/enterprises/{NEW_USCC}/verify")
    assert again.status_code == 200 and again.json()["verified_at"] == listed[NEW_USCC]["verified_at"]
    assert api("admin").post("/api/v1/enterprises/91110000000000000X/verify").status_code == 404


def test_the_enterprise_page_is_in_english_too(app, portal):
    add_unverified(app)
    page = portal("admin").get("/admin/enterprises?lang=en")
    assert "Waiting" in page.text and "Verify" in page.text


# Keys -----------------------------------------------------------------------------------------------------


def test_rotation_and_retirement_each_sign_a_new_bundle(app, portal, api):
    old_pass = issue_pass(app)
    before = bundle_version(api)
    (old_kid,) = issuer_keys(app)
    admin = portal("admin")
    page = admin.get("/admin/keys")
    assert old_kid in page.text and "使用中" in page.text
    rotated = admin.form("/admin/keys/rotate", {}, follow_redirects=False)
    assert (
        rotated.status_code == 303
        and rotated.headers["location"] == f"/admin/keys?done=rotated&bundle={before + 1}"
    )
    keys = issuer_keys(app)
    assert keys[old_kid] == "previous" and list(keys.values()).count("active") == 1
    page = admin.get(rotated.headers["location"])
    assert f"信任包版本 {before + 1}" in page.text and f'action="/admin/keys/{old_kid}/retire"' in page.text
    assert "1 张有效通行证将失效" in page.text  # the pass signed by the old key
    fetched = api().get("/api/v1/trust-bundle")
    assert int(fetched.headers["x-bundle-version"]) == before + 1
    bundle = load(app, fetched.content)
    assert {k.kid.hex(): k.status for k in bundle.issuers} == keys
    assert trust.verify_pass(old_pass.qr_text, bundle, now=datetime.now(UTC)).valid

    retired = admin.form(f"/admin/keys/{old_kid}/retire", {}, follow_redirects=False)
    assert retired.status_code == 303 and retired.headers["location"].endswith(f"bundle={before + 2}")
    assert issuer_keys(app)[old_kid] == "retired"
    bundle = load(app, api().get("/api/v1/trust-bundle").content)
    assert bundle.version == before + 2
    assert trust.verify_pass(old_pass.qr_text, bundle, now=datetime.now(UTC)).code == "PASS_UNKNOWN_KEY"


def test_the_active_root_and_unknown_keys_cannot_be_retired(app, api):
    admin = api("admin")
    keys = {k["kid"]: k for k in admin.get("/api/v1/keys").json()}
    active = next(kid for kid, k in keys.items() if k["role"] == "issuer")
    root = next(kid for kid, k in keys.items() if k["role"] == "root")
    assert "BEGIN PUBLIC KEY" in keys[active]["public_key"]
    refused = admin.post(f"/api/v1/keys/{active}/retire")
    assert refused.status_code == 409 and refused.json()["code"] == "KEY_ACTIVE"
    assert admin.post(f"/api/v1/keys/{root}/retire").status_code == 404
    assert admin.post("/api/v1/keys/ffffffffffffffff/retire").status_code == 404
    rotated = admin.post("/api/v1/keys/rotate").json()
    assert rotated["key"]["status"] == "active" and rotated["bundle_version"] == bundle_version(api)
    retired = admin.post(f"/api/v1/keys/{active}/retire")
    assert retired.status_code == 200 and retired.json()["key"]["status"] == "retired"
    assert admin.post(f"/api/v1/keys/{active}/retire").json()["code"] == "KEY_RETIRED"


# Policy ---------------------------------------------------------------------------------------------------


def policy_form(**changes) -> dict[str, str]:
    return {
        "hard_hit": "420000, 110105",
        "fever_threshold_c": "37.5",
        "pass_mandatory": "yes",
        "hard_hit_without_enterprise": "ESCORT_REQUIRED",
        "identity_check": "id_last4",
        "escort_wait_limit_minutes": "90",
        "review_answer_hours": "48",
        "max_validity_days": "14",
        "note": "依据苏州市 2 月 10 日通告",
    } | changes


def test_a_policy_change_is_a_new_version_in_a_new_bundle(app, portal, api):
    before = bundle_version(api)
    admin = portal("admin")
    response = admin.form("/admin/policy", policy_form(), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/admin/policy?saved=new&bundle={before + 1}"
    page = admin.get(response.headers["location"])
    assert "第 2 版" in page.text and "湖北省 (420000)" in page.text and "北京市 朝阳区 (110105)" in page.text
    bundle = load(app, api().get("/api/v1/trust-bundle").content)
    assert bundle.version == before + 1 and bundle.policy.version == 2
    assert bundle.policy.hard_hit == ("110105", "420000") and str(bundle.policy.fever_threshold_c) == "37.5"
    assert bundle.policy.pass_mandatory and bundle.policy.max_validity_days == 14
    assert bundle.policy.identity_check == "id_last4" and bundle.policy.escort_wait_limit_minutes == 90
    assert bundle.policy.review_answer_hours == 48

    same = admin.form("/admin/policy", policy_form(hard_hit="110105，420000"), follow_redirects=False)
    assert same.headers["location"] == f"/admin/policy?saved=same&bundle={before + 1}"
    assert "内容没有变化" in admin.get(same.headers["location"]).text
    with Session(app.state.engine) as session:
        assert policy_service.current(session).version == 2


@pytest.mark.parametrize(
    ("lang", "messages"),
    [
        (
            "zh",
            (
                "地区代码须为 6 位行政区划代码",
                "请填写 34.0 到 43.0 之间的体温",
                "请填写 1 到 10000 之间的整数",
            ),
        ),
        (
            "en",
            (
                "Region codes must be six-digit",
                "Enter a temperature between 34.0 and 43.0",
                "Enter a whole number",
            ),
        ),
    ],
)
def test_policy_form_errors_are_shown_next_to_the_field(app, portal, lang, messages):
    admin = portal("admin")
    admin.get(f"/admin/policy?lang={lang}")
    bad = policy_form(
        hard_hit="420000, 42", fever_threshold_c="50", max_validity_days="0", identity_check="face"
    )
    response = admin.form("/admin/policy", bad)
    assert response.status_code == 422
    for name in ("hard_hit", "fever_threshold_c", "max_validity_days", "identity_check"):
        assert f'id="e-{name}"' in response.text, name
    assert 'id="e-review_answer_hours"' not in response.text
    assert all(message in response.text for message in messages)
    assert 'value="420000, 42"' in response.text  # what was typed is kept for correcting
    # the limits reach the browser as attributes, not as escaped text
    assert 'maxlength="500"' in response.text and 'min="1" max="10000"' in response.text
    with Session(app.state.engine) as session:
        assert policy_service.current(session).version == 1


def test_the_policy_api_reads_and_changes_the_policy(app, api):
    assert api("clerk").get("/api/v1/policy").json()["version"] == 1
    admin = api("admin")
    bad = admin.put("/api/v1/policy", json={"fever_threshold_c": "abc", "escort_wait_limit_minutes": 0})
    assert bad.status_code == 422
    assert bad.json()["errors"] == {
        "fever_threshold_c": "admin_fever_invalid",
        "escort_wait_limit_minutes": "admin_number_invalid",
    }
    assert admin.put("/api/v1/policy", json={"fever": "37.5"}).status_code == 422
    changed = admin.put("/api/v1/policy", json={"hard_hit": ["420000"], "note": "测试"})
    assert changed.status_code == 200
    body = changed.json()
    assert (
        body["changed"] is True
        and body["policy"]["version"] == 2
        and body["policy"]["hard_hit"] == ["420000"]
    )
    assert body["bundle_version"] == bundle_version(api)


def test_an_enterprise_can_apply_only_once_verified(app, portal, api):
    visitor = portal()
    csrf = visitor.get("/register").cookies.get("cp_csrf")
    registration = {
        "name": "昆山新材料科技有限公司",
        "uscc": NEW_USCC,
        "contact": "周敏",
        "phone": "0512-5550",
        "region": "320583",
        "username": "newco",
        "password": "long-enough-pw",
        "csrf_token": csrf,
    }
    assert visitor.post("/register", data=registration).status_code == 200
    clerk = api()
    token = clerk.post("/api/v1/auth/token", json={"username": "newco", "password": "long-enough-pw"}).json()
    clerk.headers["authorization"] = f"Bearer {token['token']}"
    now = datetime.now(UTC)
    body = {
        "enterprise": {"name": "昆山新材料科技有限公司", "uscc": NEW_USCC},
        "vehicle": {"plate": "苏E·C3456", "plate_colour": "黄"},
        "driver": {"name": "张伟", "id_number": DRIVER_ID, "licence_number": DRIVER_ID},
        "origin": "320583",
        "destination": "310000",
        "valid_from": now.isoformat(),
        "valid_until": (now + timedelta(days=3)).isoformat(),
    }
    refused = clerk.post("/api/v1/applications", json=body)
    assert refused.status_code == 403 and refused.json()["code"] == "ENTERPRISE_NOT_VERIFIED"
    assert api("admin").post(f"/api/v1/enterprises/{NEW_USCC}/verify").status_code == 200
    assert clerk.post("/api/v1/applications", json=body).status_code == 201
