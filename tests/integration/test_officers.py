"""Checkpoint officers on the server: the administrator's pages and API, the device API that carries PIN hashes to
the laptops, and `checkpass officer …` — on SQLite and PostgreSQL (the app fixture runs both)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from passcore import pins
from server import db
from server.checkpoints import service as checkpoints
from server.config import get_settings
from server.officers.models import Officer
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import HOSTILE, make_checkpoint

device_factory = checkpoint_devices.device_factory  # the fixture, for this module

BIN = Path(sys.executable).parent


def stored(app, number: str) -> Officer:
    with Session(app.state.engine) as session:
        return session.exec(select(Officer).where(Officer.number == number)).one()


def add_form(**changes: str) -> dict[str, str]:
    return {"number": "K-0427", "name": "王建国", "pin": "482916"} | changes


def test_admin_adds_an_officer_whose_pin_is_kept_only_as_a_salted_scrypt_hash(portal, app):
    checkpoint = make_checkpoint(app)
    admin = portal("admin")
    added = admin.form(f"/admin/checkpoints/{checkpoint}/officers", add_form(), follow_redirects=False)
    assert added.status_code == 303
    page = admin.get(added.headers["location"])
    assert "K-0427" in page.text and "王建国" in page.text and "482916" not in page.text
    officer = stored(app, "K-0427")
    assert officer.pin_hash.startswith("scrypt$n=16384,r=8,p=1$") and "482916" not in officer.pin_hash
    assert pins.check_pin("482916", officer.pin_hash) and not pins.check_pin("482917", officer.pin_hash)
    assert officer.active and officer.checkpoint_id == checkpoint
    # The checkpoint's page leads to its officers.
    assert (
        f'href="/admin/checkpoints/{checkpoint}/officers"'
        in admin.get(f"/admin/checkpoints/{checkpoint}").text
    )


def test_two_officers_with_one_pin_get_different_hashes(api, app):
    checkpoint = make_checkpoint(app)
    admin = api("admin")
    for number in ("A1", "A2"):
        response = admin.post(
            f"/api/v1/checkpoints/{checkpoint}/officers", json={"number": number, "name": "李", "pin": "1234"}
        )
        assert response.status_code == 201, response.text
        assert "pin" not in response.json() and "pin_hash" not in response.json()
    assert stored(app, "A1").pin_hash != stored(app, "A2").pin_hash


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"number": ""}, "number"),
        ({"number": "K 0427"}, "number"),
        ({"number": "K" * 17}, "number"),
        ({"number": "警号1"}, "number"),
        ({"name": ""}, "name"),
        ({"name": "名" * 51}, "name"),
        ({"name": "王\u202e建国"}, "name"),
        ({"pin": "123"}, "pin"),
        ({"pin": "123456789"}, "pin"),
        ({"pin": "12a4"}, "pin"),
        ({"pin": "１２３４"}, "pin"),  # full-width digits: not what the laptop's keypad sends
    ],
)
def test_bad_officer_input_is_refused_next_to_its_field_and_nothing_is_stored(portal, app, changes, field):
    checkpoint = make_checkpoint(app)
    admin = portal("admin")
    response = admin.form(f"/admin/checkpoints/{checkpoint}/officers?lang=en", add_form(**changes))
    assert response.status_code == 422
    assert f'id="e-{field}"' in response.text
    assert 'value="482916"' not in response.text  # a typed PIN never comes back
    with Session(app.state.engine) as session:
        assert session.exec(select(Officer)).first() is None


def test_a_number_is_unique_per_checkpoint_but_may_repeat_at_another(api, app):
    first, second = make_checkpoint(app), make_checkpoint(app, name="G2 苏州西卡口")
    admin = api("admin")
    body = {"number": "007", "name": "张三", "pin": "4321"}
    assert admin.post(f"/api/v1/checkpoints/{first}/officers", json=body).status_code == 201
    again = admin.post(f"/api/v1/checkpoints/{first}/officers", json=body | {"name": "李四"})
    assert again.status_code == 409 and again.json()["code"] == "OFFICER_EXISTS"
    assert admin.post(f"/api/v1/checkpoints/{second}/officers", json=body).status_code == 201


def test_reset_pin_and_deactivate_through_the_pages(portal, app):
    checkpoint = make_checkpoint(app)
    admin = portal("admin")
    admin.form(f"/admin/checkpoints/{checkpoint}/officers", add_form())
    officer = stored(app, "K-0427")
    base = f"/admin/checkpoints/{checkpoint}/officers/{officer.id}"
    bad = admin.form(f"{base}/pin?lang=en", {"pin": "12"})
    assert bad.status_code == 422 and "A PIN is 4–8 digits" in bad.text
    assert stored(app, "K-0427").pin_hash == officer.pin_hash
    assert admin.form(f"{base}/pin", {"pin": "99887766"}, follow_redirects=False).status_code == 303
    after = stored(app, "K-0427")
    assert pins.check_pin("99887766", after.pin_hash) and not pins.check_pin("482916", after.pin_hash)
    assert after.updated_at > officer.updated_at
    assert admin.form(f"{base}/deactivate", {}, follow_redirects=False).status_code == 303
    gone = stored(app, "K-0427")
    assert not gone.active and gone.deactivated_at is not None
    page = admin.get(f"/admin/checkpoints/{checkpoint}/officers?lang=en")
    assert "Deactivated" in page.text and f"{base}/pin" not in page.text
    assert admin.form(f"{base}/pin", {"pin": "1111"}).status_code == 409
    # A wrong click is undone: the officer is back, with the PIN set before.
    assert admin.form(f"{base}/activate", {}, follow_redirects=False).status_code == 303
    back = stored(app, "K-0427")
    assert back.active and back.deactivated_at is None and pins.check_pin("99887766", back.pin_hash)


def test_the_page_speaks_both_languages(portal, app):
    checkpoint = make_checkpoint(app)
    admin = portal("admin")
    assert "执勤人员" in admin.get(f"/admin/checkpoints/{checkpoint}/officers?lang=zh").text
    assert "Add an officer" in admin.get(f"/admin/checkpoints/{checkpoint}/officers?lang=en").text


def test_hostile_names_are_escaped(portal, app):
    checkpoint = make_checkpoint(app)
    admin = portal("admin")
    name = HOSTILE[:50]
    assert admin.form(f"/admin/checkpoints/{checkpoint}/officers", add_form(name=name)).status_code == 200
    page = admin.get(f"/admin/checkpoints/{checkpoint}/officers").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_only_administrators_change_officers_and_other_bureau_staff_only_look(portal, api, app):
    checkpoint = make_checkpoint(app)
    api("admin").post(
        f"/api/v1/checkpoints/{checkpoint}/officers", json={"number": "9", "name": "赵", "pin": "5555"}
    )
    officer = stored(app, "9")
    for role in ("auditor", "reviewer"):
        client = portal(role)
        page = client.get(f"/admin/checkpoints/{checkpoint}/officers")
        assert page.status_code == 200 and "赵" in page.text and 'name="pin"' not in page.text
        assert client.form(f"/admin/checkpoints/{checkpoint}/officers", add_form()).status_code == 403
        assert (
            client.form(
                f"/admin/checkpoints/{checkpoint}/officers/{officer.id}/pin", {"pin": "1234"}
            ).status_code
            == 403
        )
        for action in ("deactivate", "activate"):
            url = f"/admin/checkpoints/{checkpoint}/officers/{officer.id}/{action}"
            assert client.form(url, {}).status_code == 403
        listed = api(role).get(f"/api/v1/checkpoints/{checkpoint}/officers")
        assert listed.status_code == 200 and "pin_hash" not in listed.text
    clerk = portal("clerk")
    assert clerk.get(f"/admin/checkpoints/{checkpoint}/officers").status_code == 403
    assert api("clerk").get(f"/api/v1/checkpoints/{checkpoint}/officers").status_code == 403
    assert (
        portal().get(f"/admin/checkpoints/{checkpoint}/officers", follow_redirects=False).status_code == 303
    )
    assert stored(app, "9").active and pins.check_pin("5555", stored(app, "9").pin_hash)


def test_an_officer_of_another_checkpoint_is_not_found_under_this_one(portal, app):
    first, second = make_checkpoint(app), make_checkpoint(app, name="G2 苏州西卡口")
    admin = portal("admin")
    admin.form(f"/admin/checkpoints/{first}/officers", add_form())
    officer = stored(app, "K-0427")
    assert admin.form(f"/admin/checkpoints/{second}/officers/{officer.id}/deactivate", {}).status_code == 404
    assert stored(app, "K-0427").active


def test_a_device_gets_the_officers_of_its_own_checkpoint_with_their_pin_hashes(api, app, device_factory):
    first, second = make_checkpoint(app), make_checkpoint(app, name="G2 苏州西卡口")
    admin = api("admin")
    admin.post(f"/api/v1/checkpoints/{first}/officers", json={"number": "K1", "name": "王", "pin": "1357"})
    admin.post(f"/api/v1/checkpoints/{first}/officers", json={"number": "K2", "name": "李", "pin": "2468"})
    admin.post(f"/api/v1/checkpoints/{first}/officers/K2/deactivate")
    admin.post(f"/api/v1/checkpoints/{second}/officers", json={"number": "X9", "name": "赵", "pin": "9999"})
    device = device_factory(first)
    answer = device.get("/api/v1/officers")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["checkpoint_id"] == first
    by_number = {o["number"]: o for o in body["officers"]}
    assert set(by_number) == {"K1", "K2"}  # never another checkpoint's officers
    assert by_number["K1"]["active"] and not by_number["K2"]["active"]
    assert pins.check_pin("1357", by_number["K1"]["pin_hash"])
    other = device_factory(second).get("/api/v1/officers").json()
    assert [o["number"] for o in other["officers"]] == ["X9"]
    admin.post(f"/api/v1/checkpoints/{first}/officers/K2/activate")
    again = {o["number"]: o["active"] for o in device.get("/api/v1/officers").json()["officers"]}
    assert again == {"K1": True, "K2": True}


def test_the_device_api_is_for_devices_only(api, app, device_factory):
    checkpoint = make_checkpoint(app)
    assert api().get("/api/v1/officers").status_code == 401
    person = api("admin").get("/api/v1/officers")
    assert person.status_code == 403 and person.json()["code"] == "DEVICE_ONLY"
    device = device_factory(checkpoint)
    with Session(app.state.engine, expire_on_commit=False) as session:
        row = session.get(checkpoints.Device, device.device_id)
        checkpoints.revoke_device(session=session, device=row, now=datetime.now(UTC))
    revoked = device.get("/api/v1/officers")
    assert revoked.status_code == 403 and revoked.json()["code"] == "DEVICE_REVOKED"


# ---- checkpass officer … ----------------------------------------------------------------------------------------


def checkpass(
    env: dict[str, str], *args: str, stdin: str = "", expect: int = 0
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "checkpass"), *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == expect, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def test_the_officer_commands_add_reset_deactivate_and_list(tmp_path, database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKPASS_")}
    env |= {"CHECKPASS_HOME": str(tmp_path)}
    if database_url:
        env["CHECKPASS_DATABASE_URL"] = database_url
    checkpass(env, "init")
    engine = db.make_engine(get_settings(home=tmp_path, database_url=database_url))
    with Session(engine, expire_on_commit=False) as session:
        checkpoint = checkpoints.register_checkpoint(
            session=session,
            name="G312 昆山东卡口",
            region="320583",
            location="",
            latitude=None,
            longitude=None,
            now=datetime.now(UTC),
        )
    cid = str(checkpoint.id)
    done = checkpass(
        env, "officer", "add", cid, "K-0427", "--name", "王建国", "--pin-stdin", stdin="482916\n"
    )
    assert "K-0427" in done.stdout and "482916" not in done.stdout + done.stderr
    bad = checkpass(
        env, "officer", "add", cid, "K-0428", "--name", "李", "--pin-stdin", stdin="12\n", expect=2
    )
    assert "482916" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    taken = checkpass(
        env, "officer", "add", cid, "K-0427", "--name", "李", "--pin-stdin", stdin="1234\n", expect=2
    )
    assert "already used" in taken.stderr
    checkpass(env, "officer", "add", "999", "K1", "--name", "李", "--pin-stdin", stdin="1234\n", expect=2)
    checkpass(env, "officer", "pin", cid, "K-0427", "--pin-stdin", stdin="7777\n")
    checkpass(env, "officer", "pin", cid, "NOBODY", "--pin-stdin", stdin="7777\n", expect=2)
    with Session(engine) as session:
        officer = session.exec(select(Officer)).one()
        assert pins.check_pin("7777", officer.pin_hash)
    listed = checkpass(env, "officer", "list", cid, "--json")
    assert '"number": "K-0427"' in listed.stdout and "scrypt" not in listed.stdout
    checkpass(env, "officer", "deactivate", cid, "K-0427")
    text = checkpass(env, "officer", "list", cid).stdout
    assert re.search(r"K-0427\s+王建国\s+deactivated", text)
    engine.dispose()


def test_the_demo_seeds_an_officer_at_the_demo_checkpoint_and_prints_how_to_sign_in(tmp_path, database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKPASS_")}
    env |= {"CHECKPASS_HOME": str(tmp_path)}
    if database_url:
        env["CHECKPASS_DATABASE_URL"] = database_url
    done = checkpass(env, "demo", "--no-video", "--out", str(tmp_path / "demo-out"))
    assert "K-0427 王建国, PIN 2020" in done.stdout
    again = checkpass(env, "demo", "--no-video", "--out", str(tmp_path / "demo-out"))  # a second run is fine
    assert "K-0427" in again.stdout
    engine = db.make_engine(get_settings(home=tmp_path, database_url=database_url))
    with Session(engine) as session:
        officer = session.exec(select(Officer)).one()
        checkpoint = session.get(checkpoints.Checkpoint, officer.checkpoint_id)
    engine.dispose()
    assert checkpoint is not None and checkpoint.name == "G312 昆山东卡口"
    assert officer.active and pins.check_pin("2020", officer.pin_hash)


def test_names_of_gives_the_names_behind_the_numbers_records_carry(api, app):
    from server.officers import service as officers

    first, second = make_checkpoint(app), make_checkpoint(app, name="G2 苏州西卡口")
    admin = api("admin")
    admin.post(f"/api/v1/checkpoints/{first}/officers", json={"number": "7", "name": "王", "pin": "1234"})
    admin.post(f"/api/v1/checkpoints/{second}/officers", json={"number": "7", "name": "李", "pin": "1234"})
    admin.post(
        f"/api/v1/checkpoints/{first}/officers/7/deactivate"
    )  # old records still name a deactivated one
    with Session(app.state.engine) as session:
        names = officers.names_of(session, [(first, "7"), (second, "7"), (second, "8"), (first, "")])
        assert officers.names_of(session, []) == {}
    assert names == {(first, "7"): "王", (second, "7"): "李"}
