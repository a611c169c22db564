"""Drafts of the officer's form in the laptop's store (issue 12, "nothing typed is lost"): saved and read back by
key across a reopened store (a crash, a restart), replaced, deleted when the vehicle is decided or dropped, expired
after 12 h and by `checkpoint purge`; bad input refused with its field and nothing saved; the screen's routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from checkpoint_client import retention
from checkpoint_client.config import get_settings
from checkpoint_client.drafts import EXPIRE, Drafts
from checkpoint_client.screen import create_app
from checkpoint_client.store import Store
from passcore.errors import InputError
from tests.security.test_laptop_store import bundle, on_disk, settings  # noqa: F401 (fixtures)

NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
FORM = {
    "people": [
        {"role": "driver", "name": "周建国", "temperature": "36.5", "origin": "", "fixed": True},
        {"role": "passenger", "name": "钱七", "temperature": "38.2", "origin": "420100", "fixed": False},
    ],
    "checks": {"plate": True, "person": None, "licence": False},
    "plate_read": "",
    "plate": "苏E·F6789",
}


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "db" / "checkpoint.sqlite3"
    Store.open(path).close()
    return path


@pytest.fixture
def drafts(store_path):
    opened = Drafts(store_path)
    yield opened
    opened.close()


def test_a_draft_comes_back_after_the_store_is_reopened(store_path, drafts):
    saved = drafts.save("pass:0123456789abcdef01234567", FORM, now=NOW)
    drafts.close()
    again = Drafts(store_path)  # the program was killed and restarted
    try:
        draft = again.load("pass:0123456789abcdef01234567", now=NOW + timedelta(hours=1))
    finally:
        again.close()
    assert draft is not None and draft.saved_at == saved.saved_at
    assert draft.form["people"][1] == FORM["people"][1]
    assert draft.form["checks"] == {"plate": True, "person": None, "licence": False}
    assert draft.form["plate"] == "苏E·F6789" and draft.form["enterprise"] == ""


def test_the_latest_save_replaces_the_draft_and_keys_are_separate(drafts):
    drafts.save("nopass", FORM, now=NOW)
    drafts.save("nopass", FORM | {"plate": "浙A·12345"}, now=NOW + timedelta(seconds=3))
    drafts.save("vehicle:7", {"people": []}, now=NOW)
    assert drafts.load("nopass", now=NOW).form["plate"] == "浙A·12345"
    assert drafts.load("vehicle:7", now=NOW).form["people"] == []
    assert drafts.load("claimed:abc", now=NOW) is None
    assert drafts.count() == 2


def test_a_decided_or_dropped_vehicles_draft_is_deleted(drafts):
    drafts.save("nopass", FORM, now=NOW)
    assert drafts.forget("nopass") is True
    assert drafts.load("nopass", now=NOW) is None and drafts.forget("nopass") is False


def test_a_draft_expires_after_twelve_hours(drafts):
    drafts.save("vehicle:1", FORM, now=NOW)
    assert drafts.load("vehicle:1", now=NOW + EXPIRE - timedelta(seconds=1)) is not None
    assert drafts.load("vehicle:1", now=NOW + EXPIRE + timedelta(seconds=1)) is None
    drafts.save("vehicle:2", FORM, now=NOW + EXPIRE + timedelta(seconds=1))  # a save sweeps expired ones
    assert drafts.count() == 1


def test_checkpoint_purge_removes_expired_drafts_from_the_file(settings, bundle):  # noqa: F811
    store = Store.open(settings.store_path)
    drafts = Drafts(settings.store_path)
    try:
        drafts.save("nopass", FORM | {"plate": "鄂A·D12345"}, now=NOW)
        drafts.save("vehicle:3", FORM, now=NOW + EXPIRE)
        assert "鄂A·D12345".encode() in on_disk(settings.store_path)
        retention.purge(settings, store, now=NOW + EXPIRE + timedelta(minutes=1))
        assert drafts.load("nopass", now=NOW) is None and drafts.count() == 1
        assert "鄂A·D12345".encode() not in on_disk(settings.store_path)  # nothing left in free pages or WAL
    finally:
        drafts.close()
        store.close()


BAD = [
    ("key", "x", FORM),
    ("key", "pass:" + "a" * 65, FORM),
    ("key", None, FORM),
    ("form", "nopass", []),
    ("surprise", "nopass", FORM | {"surprise": 1}),
    ("people", "nopass", FORM | {"people": [FORM["people"][0]] * 21}),
    ("people.0.role", "nopass", FORM | {"people": [{"role": "pilot"}]}),
    ("people.0.name", "nopass", FORM | {"people": [{"role": "driver", "name": "x" * 51}]}),
    ("people.0.name", "nopass", FORM | {"people": [{"role": "driver", "name": "周\u202e国"}]}),
    ("people.0.temperature", "nopass", FORM | {"people": [{"role": "driver", "temperature": 36.5}]}),
    ("people.0", "nopass", FORM | {"people": [{"role": "driver", "id_number": "320583198503121234"}]}),
    ("people.0.fixed", "nopass", FORM | {"people": [{"role": "driver", "fixed": "yes"}]}),
    ("checks", "nopass", FORM | {"checks": {"colour": True}}),
    ("checks.plate", "nopass", FORM | {"checks": {"plate": "yes"}}),
    ("plate", "nopass", FORM | {"plate": "苏E·A1234\x00"}),
    ("enterprise", "nopass", FORM | {"enterprise": "9" * 21}),
]


@pytest.mark.parametrize(("field", "key", "form"), BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_drafts_are_refused_with_their_field_and_nothing_is_saved(drafts, field, key, form):
    with pytest.raises(InputError) as caught:
        drafts.save(key, form, now=NOW)
    assert (caught.value.code, caught.value.detail) == ("DRAFT_INVALID", field)
    assert drafts.count() == 0


def test_the_screens_draft_routes(tmp_path):
    config = get_settings(home=tmp_path)
    store = Store.open(config.store_path)
    app = create_app(config, store, token="t", lang="en", clock=lambda: NOW, sync_interval_s=None)
    headers = {"X-Screen-Token": "t", "Host": "127.0.0.1:8700"}
    try:
        with TestClient(app, base_url="http://127.0.0.1:8700", headers=headers) as client:
            assert client.get("/api/drafts", params={"key": "nopass"}).json()["form"] is None
            saved = client.put("/api/drafts", json={"key": "nopass", "form": FORM})
            assert saved.status_code == 200 and saved.json()["saved_at"] == NOW.isoformat()
            assert client.get("/api/drafts", params={"key": "nopass"}).json()["form"]["plate"] == "苏E·F6789"
            bad = client.put("/api/drafts", json={"key": "nopass", "form": FORM | {"plate": 7}})
            assert bad.status_code == 422
            assert (bad.json()["code"], bad.json()["field"]) == ("DRAFT_INVALID", "plate")
            assert "Draft not saved" in bad.json()["message"]
            assert client.put("/api/drafts", json=[1]).status_code == 422
            assert client.get("/api/drafts", params={"key": "../x"}).status_code == 422
            big = client.put("/api/drafts", json={"key": "nopass", "form": FORM, "x": "y" * 70_000})
            assert big.status_code in (413, 422)
            assert client.get("/api/drafts", params={"key": "nopass"}).json()["form"]["plate"] == "苏E·F6789"
            assert client.delete("/api/drafts", params={"key": "nopass"}).json()["deleted"] is True
            assert client.get("/api/drafts", params={"key": "nopass"}).json()["form"] is None
    finally:
        store.close()
