"""Who sees what (issue 11), on SQLite and PostgreSQL: an enterprise sees crossings only once verified and only
from its verification onward, as outcomes without per-person health data; full ID numbers only on the reviewer's
review page; the anonymous trust bundle without contact persons or phones; bureau staff shown to enterprises by
their role, never by their login name."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import cbor2
import pytest
from cwt import COSE
from sqlmodel import Session, col, select

from checkpoint_client.screen.views import escort_view
from passcore import trust, wire
from passcore.errors import BundleMalformed
from passcore.keys import ALG_IDS, generate_signing_key
from server import db
from server.accounts import service as accounts
from server.crossings.models import EscortRequest
from server.enterprises.models import Enterprise
from server.keyring import service as keyring
from tests.factories import DRIVER_ID, ESCORT_IDS, HUBEI_USCC, NOW, USCC, make_bundle
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import application
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.test_passes import issue_pass
from tests.security.conftest import DEMO_USCC, PASSWORD

device_factory = checkpoint_devices.device_factory  # the fixture, for this module

NEW_USCC = "91320583MA1MQ3K8DC"  # registered by itself, not verified by the bureau
MASKED_DRIVER = "320583********1234"
FEVER_CREW = [
    {"role": "driver", "name": "王芳", "temperature_c": 38.2, "origin": "320583", "travel_history": []},
    {"role": "escort", "name": "赵强", "temperature_c": 36.6, "origin": "320583", "travel_history": []},
]


def crossing_links(html: str) -> set[str]:
    return set(re.findall(r'href="/enterprise/crossings/([0-9a-f-]{36})"', html))


def escort_links(html: str) -> set[str]:
    return set(re.findall(r'href="/enterprise/escorts/(\d+)"', html))


def listed(client) -> set[str]:
    answer = client.get("/api/v1/enterprise/crossings")
    assert answer.status_code == 200, answer.text
    return {item["id"] for item in answer.json()["items"]}


def escort_ids(app, *crossing_ids: str) -> list[int]:
    with Session(app.state.engine) as session:
        found = {
            e.crossing_id: e.id
            for e in session.exec(
                select(EscortRequest).where(col(EscortRequest.crossing_id).in_(crossing_ids))
            )
        }
    return [found[rid] for rid in crossing_ids]


def escort(device, plate: str, decided_at: datetime) -> dict:
    """A hard-hit vehicle for the new enterprise: an escort request once the crossing is uploaded."""
    return device.record(
        enterprise=NEW_USCC,
        plate=plate,
        decided_at=decided_at.isoformat(),
        outcome="ESCORT_REQUIRED",
        reasons=["PASS_VALID", "HARD_HIT_VEHICLE"],
        vehicle_origin="420100",
    )


def register_unverified(app) -> None:
    """An enterprise that registered itself (as /register does) and its clerk; the bureau has not verified it."""
    now = datetime.now(UTC)
    with db.session_scope(app.state.engine) as session:
        session.add(
            Enterprise(
                uscc=NEW_USCC,
                name="昆山新材料科技有限公司",
                contact="周敏",
                phone="0512-5550",
                region=NEW_USCC[2:8],
                verified=False,
                created_at=now - timedelta(days=1),
            )
        )
        session.flush()
        accounts.create_user(
            session=session,
            username="newco",
            password=PASSWORD,
            role="enterprise",
            enterprise_uscc=NEW_USCC,
            now=now,
        )


def test_an_unverified_enterprise_sees_nothing_and_a_verified_one_only_from_its_verification(
    app, portal, api, device_factory
):
    register_unverified(app)
    device = device_factory(make_checkpoint(app))
    early = datetime.now(UTC) - timedelta(hours=3)
    claimed = device.record(enterprise=NEW_USCC, plate="苏EN0001", decided_at=early.isoformat())
    assert device.upload(claimed).json()["accepted"] == 1

    clerk_api, clerk = api("newco"), portal("newco")
    assert listed(clerk_api) == set()
    assert crossing_links(clerk.get("/enterprise/crossings").text) == set()
    assert "苏E·N0001" not in clerk.get("/enterprise/crossings.csv").content.decode("utf-8-sig")
    assert clerk_api.get(f"/api/v1/enterprise/crossings/{claimed['id']}").status_code == 404
    assert clerk.get(f"/enterprise/crossings/{claimed['id']}").status_code == 404

    assert api("admin").post(f"/api/v1/enterprises/{NEW_USCC}/verify").status_code == 200
    # Uploaded after the verification, decided before it (an offline checkpoint): still not the enterprise's.
    before = escort(device, "苏EN0002", datetime.now(UTC) - timedelta(hours=1))
    after = escort(device, "苏EN0003", datetime.now(UTC))
    assert device.upload(before, after).json()["accepted"] == 2

    assert listed(clerk_api) == {after["id"]}
    assert crossing_links(clerk.get("/enterprise/crossings").text) == {after["id"]}
    csv = clerk.get("/enterprise/crossings.csv").content.decode("utf-8-sig")
    assert "苏E·N0003" in csv and "苏E·N0002" not in csv and "苏E·N0001" not in csv
    for hidden in (claimed, before):
        assert clerk_api.get(f"/api/v1/enterprise/crossings/{hidden['id']}").status_code == 404
        assert clerk.get(f"/enterprise/crossings/{hidden['id']}").status_code == 404
    assert clerk.get(f"/enterprise/crossings/{after['id']}").status_code == 200

    early_escort, late_escort = escort_ids(app, before["id"], after["id"])
    assert escort_links(clerk.get("/enterprise/escorts").text) == {str(late_escort)}
    assert clerk.get(f"/enterprise/escorts/{early_escort}").status_code == 404
    assert clerk.get(f"/enterprise/escorts/{late_escort}").status_code == 200


def test_an_enterprise_sees_the_outcome_not_who_had_a_fever(app, portal, api, device_factory):
    device = device_factory(make_checkpoint(app))
    record = device.record(
        pass_id=None,
        verification=None,
        outcome="MEDICAL_HOLD",
        reasons=["NO_PASS", "FEVER"],
        occupants=FEVER_CREW,
        checks={"identity_confirmed": None, "licence_confirmed": None, "id_last4_matched": None},
    )
    assert device.upload(record).json()["accepted"] == 1

    answer = api("clerk").get(f"/api/v1/enterprise/crossings/{record['id']}").json()
    assert answer["outcome"] == "MEDICAL_HOLD"
    assert [o["name"] for o in answer["occupants"]] == ["王芳", "赵强"]
    assert all(o["temperature_c"] is None and o["fever"] is None for o in answer["occupants"])
    page = portal("clerk").get(f"/enterprise/crossings/{record['id']}").text
    assert "38.2" not in page and 'class="fever"' not in page
    csv = portal("clerk").get("/enterprise/crossings.csv").content.decode("utf-8-sig")
    assert "王芳" in csv and "38.2" not in csv

    # The bureau still sees who had the fever.
    staff = api("auditor").get(f"/api/v1/audit/crossings/{record['id']}").json()
    assert [(o["temperature_c"], o["fever"]) for o in staff["occupants"]] == [(38.2, True), (36.6, False)]
    assert 'class="fever"' in portal("auditor").get(f"/audit/crossings/{record['id']}").text


def test_full_id_numbers_only_on_the_reviewers_review_page(app, portal, api, device_factory, caplog):
    caplog.set_level(logging.DEBUG)
    created = api("clerk").post(
        "/api/v1/applications", params={"submit": "true"}, json=application(datetime.now(UTC))
    )
    assert created.status_code == 201, created.text
    application_id = created.json()["id"]
    full = (DRIVER_ID, ESCORT_IDS[0])

    for user in ("clerk", "reviewer", "auditor", "admin"):
        answer = api(user).get(f"/api/v1/applications/{application_id}")
        assert answer.status_code == 200
        assert not any(number in answer.text for number in full), user
        assert answer.json()["application"]["driver"]["id_number"] == MASKED_DRIVER, user
    assert not any(number in created.text for number in full)

    for user in ("auditor", "admin"):
        page = portal(user).get(f"/review/applications/{application_id}").text
        assert MASKED_DRIVER in page and not any(number in page for number in full), user
    assert all(
        number in portal("reviewer").get(f"/review/applications/{application_id}").text for number in full
    )
    enterprise_page = portal("clerk").get(f"/enterprise/applications/{application_id}").text
    assert MASKED_DRIVER in enterprise_page and DRIVER_ID not in enterprise_page

    approved = api("reviewer").post(f"/api/v1/applications/{application_id}/approve")
    assert approved.status_code == 200 and not any(number in approved.text for number in full)
    pass_id = approved.json()["pass_id"]
    device = device_factory(make_checkpoint(app))
    assert device.upload(device.record(pass_id=pass_id)).json()["accepted"] == 1
    exports = [
        portal("auditor").get("/audit/crossings.csv"),
        api("admin").get("/api/v1/audit/crossings.csv"),
        portal("clerk").get("/enterprise/crossings.csv"),
        api("auditor").get(f"/api/v1/passes/{pass_id}"),
        portal("admin").get(f"/enterprise/passes/{pass_id}"),
    ]
    for response in exports:
        assert response.status_code == 200 and not any(number in response.text for number in full)
    assert not any(number in caplog.text for number in full)


def test_the_anonymous_trust_bundle_carries_no_contact_person_or_phone(app, api, device_factory):
    signed = api().get("/api/v1/trust-bundle")
    assert signed.status_code == 200
    for personal in ("陈经理", "0512-55550000"):
        assert personal.encode() not in signed.content
    payload = cbor2.loads(wire.parse_cose(signed.content).payload)
    # A checkpoint of the previous release unpacks four texts per enterprise: it still reads this bundle.
    entries = {uscc: (name, contact, phone) for uscc, name, contact, phone in payload["enterprises"]}
    assert entries[DEMO_USCC] == ("昆山精密机械有限公司", "", "")
    root = keyring.load_root(app.state.settings).public
    assert DEMO_USCC in trust.load_bundle(signed.content, root=root, now=datetime.now(UTC)).enterprises

    # The contact reaches an enrolled device of a checkpoint the enterprise's vehicle waits at.
    device = device_factory(make_checkpoint(app))
    assert device.upload(device.escort_record()).json()["accepted"] == 1
    escorts = device.get("/api/v1/escorts").json()["escorts"]
    assert escorts[0]["enterprise"] == {
        "uscc": DEMO_USCC,
        "name": "昆山精密机械有限公司",
        "contact": "陈经理",
        "phone": "0512-55550000",
    }


def _signed(payload: dict, root) -> bytes:
    return bytes(
        COSE.new().encode(
            cbor2.dumps(payload), root.cose_key, protected={1: ALG_IDS[root.alg], 4: root.kid}, unprotected={}
        )
    )


def test_a_checkpoint_reads_older_bundles_with_contacts_and_keeps_none_of_them():
    root = generate_signing_key()
    payload = make_bundle([]).to_payload()
    assert [entry[2:] for entry in payload["enterprises"]] == [["", ""], ["", ""]]
    payload["enterprises"] = [[USCC, "昆山精密机械有限公司", "陈经理", "0512-55550000"]]
    old = trust.load_bundle(_signed(payload, root), root=root.public, now=NOW)
    assert old.enterprises == {USCC: trust.Enterprise(USCC, "昆山精密机械有限公司")}
    payload["enterprises"] = [[USCC, "昆山精密机械有限公司"]]  # a later bundle may drop the empty texts
    assert USCC in trust.load_bundle(_signed(payload, root), root=root.public, now=NOW).enterprises
    for bad in ([USCC], [USCC, 1], "not a list"):
        payload["enterprises"] = [bad]
        with pytest.raises(BundleMalformed):
            trust.load_bundle(_signed(payload, root), root=root.public, now=NOW)


def test_the_checkpoint_screen_shows_the_contact_from_the_escort_answer_only():
    row = {
        "crossing_id": "c1",
        "plate": "鄂AD12345",
        "status": "open",
        "decided_at": NOW,
        "enterprise": {"uscc": HUBEI_USCC, "name": None, "contact": None, "phone": None},
    }
    waiting = escort_view(row, zone="Asia/Shanghai", bundle=make_bundle([]))
    assert waiting["enterprise"] == {
        "name": "武汉物流有限公司",
        "contact": None,
        "phone": None,
    }  # the bundle's name
    row["enterprise"] = {
        "uscc": HUBEI_USCC,
        "name": "武汉物流有限公司",
        "contact": "刘经理",
        "phone": "027-88880000",
    }
    answered = escort_view(row, zone="Asia/Shanghai", bundle=make_bundle([]))
    assert answered["enterprise"] == {
        "name": "武汉物流有限公司",
        "contact": "刘经理",
        "phone": "027-88880000",
    }


def test_an_enterprise_sees_the_bureau_not_the_staff_members_login_name(app, portal, api):
    with db.session_scope(app.state.engine) as session:
        accounts.create_user(
            session=session, username="wang.lei", password=PASSWORD, role="reviewer", now=datetime.now(UTC)
        )
    created = api("clerk").post(
        "/api/v1/applications", params={"submit": "true"}, json=application(datetime.now(UTC))
    )
    application_id = created.json()["id"]
    staff = api("wang.lei")
    pass_id = staff.post(f"/api/v1/applications/{application_id}/approve").json()["pass_id"]
    assert staff.post(f"/api/v1/passes/{pass_id}/revoke", json={"reason": "车辆故障"}).status_code == 200

    clerk_api, clerk = api("clerk"), portal("clerk")
    answers = [
        clerk_api.get(f"/api/v1/passes/{pass_id}"),
        clerk_api.get("/api/v1/passes"),
        clerk_api.get(f"/api/v1/applications/{application_id}/events"),
        clerk.get(f"/enterprise/passes/{pass_id}"),
        clerk.get(f"/enterprise/applications/{application_id}"),
    ]
    for answer in answers:
        assert answer.status_code == 200 and "wang.lei" not in answer.text, answer.url
    assert clerk_api.get(f"/api/v1/passes/{pass_id}").json()["revocation"]["revoked_by"] == "交通运输局"
    assert "交通运输局" in clerk.get(f"/enterprise/passes/{pass_id}").text
    assert "交通运输局" in clerk.get(f"/enterprise/applications/{application_id}").text
    assert "Transport bureau" in clerk.get(f"/enterprise/passes/{pass_id}?lang=en").text

    # The enterprise's own clerk is its own account; bureau staff see the account that acted.
    own = issue_pass(app, plate="苏E·B2345")
    assert clerk_api.post(f"/api/v1/passes/{own.pass_id}/revoke", json={"reason": "停运"}).status_code == 200
    assert clerk_api.get(f"/api/v1/passes/{own.pass_id}").json()["revocation"]["revoked_by"] == "clerk"
    assert api("auditor").get(f"/api/v1/passes/{pass_id}").json()["revocation"]["revoked_by"] == "wang.lei"
    assert "wang.lei" in portal("auditor").get(f"/enterprise/passes/{pass_id}").text
    assert "wang.lei" in portal("auditor").get(f"/review/applications/{application_id}").text


def test_an_enterprise_never_sees_officer_numbers_or_claimed_names(app, portal, api, device_factory):
    """Issue 12: the officer who decided and what a forged pass claimed are the bureau's (design section 9)."""
    device = device_factory(make_checkpoint(app))
    record = device.record(
        officer="KS-0042",
        repeat_of=None,
        referral=None,
        claimed={
            "reason": "PASS_SIGNATURE_INVALID",
            "serial": "320583-009999",
            "plate": "苏EF0001",
            "names": ["钱伪"],
            "kid": "ab" * 8,
            "pass_id": None,
        },
    )
    assert device.upload(record).json()["accepted"] == 1
    hidden = ("KS-0042", "钱伪", "320583-009999")

    clerk_api, clerk = api("clerk"), portal("clerk")
    listed_items = clerk_api.get("/api/v1/enterprise/crossings").json()["items"]
    assert [item["officer"] for item in listed_items] == [None]
    assert listed_items[0]["device_name"] is None
    by_officer = clerk_api.get("/api/v1/enterprise/crossings", params={"officer": "KS-9999"}).json()["items"]
    assert [item["id"] for item in by_officer] == [record["id"]]  # no filter to probe officer numbers with
    answer = clerk_api.get(f"/api/v1/enterprise/crossings/{record['id']}")
    assert answer.json()["claimed"] is None and answer.json()["officer"] is None
    pages = [
        answer.text,
        clerk.get("/enterprise/crossings").text,
        clerk.get(f"/enterprise/crossings/{record['id']}").text,
        clerk.get("/enterprise/crossings.csv").content.decode("utf-8-sig"),
    ]
    for text in pages:
        assert not any(value in text for value in hidden), text[:200]

    # The bureau sees them.
    staff = api("auditor").get(f"/api/v1/audit/crossings/{record['id']}").json()
    assert staff["officer"] == "KS-0042" and staff["claimed"]["names"] == ["钱伪"]
    assert all(value in portal("auditor").get(f"/audit/crossings/{record['id']}").text for value in hidden)
