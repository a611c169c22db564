"""The screen's input settings (GET /api/input: the handheld scanner's settings, the province keys in the
checkpoint's order) and the plate as the server keeps it (GET /api/plate: passcore.ids' rule, not the page's)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from checkpoint_client.config import get_settings
from checkpoint_client.device import Device, save_device
from checkpoint_client.screen import create_app
from checkpoint_client.screen.provinces import NEIGHBOURS, ordered
from checkpoint_client.store import Store
from passcore import ids


@pytest.fixture
def client_for(tmp_path):
    stores = []

    def make(region: str | None = None, **settings) -> TestClient:
        config = get_settings(home=tmp_path, **settings)
        if region:
            checkpoint = {"id": 7, "name": "G312", "region": region}
            save_device(config, Device("https://checkpass.example.cn", "a" * 32, "t" * 40, checkpoint))
        store = Store.open(config.store_path)
        stores.append(store)
        app = create_app(config, store, token="t", lang="en", sync_interval_s=None)
        headers = {"X-Screen-Token": "t", "Host": "127.0.0.1:8700"}
        return TestClient(app, base_url="http://127.0.0.1:8700", headers=headers)

    yield make
    for store in stores:
        store.close()


def test_every_province_borders_its_neighbours_both_ways():
    assert set(NEIGHBOURS) == set(ids.PROVINCES)
    for province, near in NEIGHBOURS.items():
        assert all(province in NEIGHBOURS[other] for other in near), province


@pytest.mark.parametrize(
    ("region", "first"),
    [
        ("320583", ["苏", "沪", "浙", "皖", "鲁"]),
        ("420100", ["鄂", "豫", "皖", "赣", "湘", "渝", "陕"]),
        (None, ["京", "津"]),
    ],
)
def test_the_province_keys_start_with_the_checkpoints_province_and_its_neighbours(client_for, region, first):
    answer = client_for(region).get("/api/input").json()
    assert answer["provinces"][: len(first)] == first
    assert sorted(answer["provinces"]) == sorted(ids.PROVINCES) == sorted(ordered(region))


def test_the_page_gets_the_scanners_settings(client_for):
    client = client_for(None, scanner_prefix="]Q1", scanner_end="tab", scanner_gap_ms=80)
    answer = client.get("/api/input").json()
    assert len(answer["run"]) == 8 and client.get("/api/input").json()["run"] == answer["run"]
    assert answer["scanner"] == {
        "end": "tab",
        "prefix": "]Q1",
        "suffix": "",
        "gap_ms": 80,
        "min_chars": 12,
        "pass_prefix": "CP1:",
    }


@pytest.mark.parametrize(
    ("typed", "plate"),
    [
        ("苏e f6789", "苏E·F6789"),
        ("苏Ｅ·Ａ１２３４", "苏E·A1234"),
        ("粤B-D12345", "粤B·D12345"),
        ("鄂A1234挂", "鄂A·1234挂"),
    ],
)
def test_the_plate_is_shown_as_the_server_keeps_it(client_for, typed, plate):
    answer = client_for().get("/api/plate", params={"text": typed})
    assert answer.status_code == 200 and answer.json()["plate"] == plate


@pytest.mark.parametrize("typed", ["", "XE12345", "苏EI2345", "苏" + "1" * 60, "使12345"])
def test_a_bad_plate_gets_passcores_reason(client_for, typed):
    answer = client_for().get("/api/plate", params={"text": typed})
    assert answer.status_code == 422
    assert answer.json()["code"] == "PLATE_INVALID" and answer.json()["field"] == "plate"
