"""The officer's screen answers only its own page on this laptop, and hostile input changes nothing."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from checkpoint_client.screen.words import catalog
from tests.integration.screen_helpers import BASE, CHECKED, TOKEN, crew, make_screen, two_person_pass

__all__ = ["make_screen"]  # the fixture, imported for pytest


def test_the_page_is_chinese_by_default_english_on_request_and_carries_its_token(make_screen):
    screen = make_screen()
    page = TestClient(screen.client.app, base_url=BASE).get("/")  # the page itself needs no token
    assert page.status_code == 200 and '<html lang="zh">' in page.text and "卡口查验" in page.text
    assert f'content="{TOKEN}"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    words = json.loads(re.search(r'id="words">(.*?)</script>', page.text, re.S).group(1))
    assert words["outcome_MEDICAL_HOLD"] == "医学留观：暂不放行" and words["reason_FEVER"].startswith("发热")
    english = screen.client.get("/?lang=en")
    assert '<html lang="en">' in english.text and "Vehicle without a pass" in english.text
    assert screen.client.get("/").text.startswith('<!doctype html>\n<html lang="en">')  # remembered (cookie)
    for asset in ("base.js", "panels.js", "vehicle.js", "screen.js", "screen.css"):
        assert screen.client.get(f"/static/{asset}").status_code == 200


def test_every_word_exists_in_both_languages():
    missing = [key for key, words in catalog().items() if not (words.get("zh") and words.get("en"))]
    assert missing == []


@pytest.mark.parametrize(
    ("headers", "path"),
    [
        ({"Host": "evil.example:8700"}, "/"),  # DNS rebinding: the attacker's name resolves to 127.0.0.1
        ({"Host": "evil.example"}, "/api/overview"),
        ({"Host": "127.0.0.1.evil.example"}, "/api/overview"),
        ({"X-Screen-Token": "wrong"}, "/api/overview"),
        ({"X-Screen-Token": ""}, "/api/vehicle"),
        ({"Origin": "https://evil.example"}, "/api/overview"),
        ({"Origin": "null"}, "/api/overview"),
        ({"Sec-Fetch-Site": "cross-site"}, "/api/overview"),
        ({"Sec-Fetch-Site": "same-site"}, "/api/overview"),  # another program on localhost
    ],
)
def test_requests_from_elsewhere_are_refused(make_screen, headers, path):
    screen = make_screen()
    answer = screen.client.get(path, headers=headers)
    assert answer.status_code == 403 and answer.json()["code"] == "FORBIDDEN"


def test_a_page_elsewhere_cannot_decide_or_hand_over(make_screen, issuer_key):
    screen = make_screen()
    vehicle = screen.scan(two_person_pass(issuer_key))
    form = {"vehicle_id": vehicle["id"], "occupants": crew("36.5", "36.6"), **CHECKED}
    stranger = TestClient(screen.client.app, base_url=BASE)  # no token: a cross-site form post
    assert stranger.post("/api/decide", json=form).status_code == 403
    cross = screen.client.post("/api/decide", json=form, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert stranger.post("/api/decide", json=form, params={"token": "nope"}).status_code == 403
    assert stranger.post("/api/decide", json=form, params={"token": TOKEN}).status_code == 403  # header only
    assert screen.store.recent() == []
    same = screen.client.post("/api/decide", json=form, headers={"Origin": BASE})  # the page itself
    assert same.status_code == 200
    local = TestClient(screen.client.app, base_url="http://localhost:8700")
    assert local.get("/api/overview", params={"token": TOKEN}).status_code == 200  # EventSource, <img>


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'"text"',
        b'{"vehicle_id": "1", "occupants": []}',
        b'{"vehicle_id": 1, "occupants": [{"role": "driver", "name": "x", "temperature": "36.5"}], "extra": 1}',
        b'{"vehicle_id": 1, "occupants": [{"role": "pilot", "name": "x", "temperature": "36.5"}]}',
        b'{"vehicle_id": 1e400, "occupants": []}',
        json.dumps(
            {"vehicle_id": 1, "occupants": [{"role": "driver", "name": "x" * 51, "temperature": "36"}]}
        ).encode(),
        json.dumps(
            {"vehicle_id": 1, "occupants": [{"role": "passenger", "name": "x", "temperature": "36"}] * 21}
        ).encode(),
    ],
)
def test_malformed_forms_get_a_clear_error_and_change_nothing(make_screen, issuer_key, body):
    screen = make_screen()
    screen.scan(two_person_pass(issuer_key))
    answer = screen.client.post("/api/decide", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["code"] == "REQUEST_INVALID"
    assert answer.json()["message"].startswith("提交的内容有误")
    assert screen.store.recent() == []


def test_an_oversized_body_is_refused(make_screen):
    screen = make_screen()
    answer = screen.client.post("/api/vehicle/scan", json={"text": "CP1:" + "A" * 200_000})
    assert answer.status_code == 413
    assert screen.client.get("/api/vehicle").json()["current"] is None


def test_names_with_markup_and_any_script_are_stored_as_typed(make_screen):
    screen = make_screen()
    vehicle = screen.client.post("/api/vehicle/nopass").json()["current"]
    name = '<img src=x onerror="alert(1)">阿卜杜拉·买买提'
    people = [{"role": "driver", "name": name, "temperature": "36.6"}]
    status, result = screen.decide(vehicle["id"], plate="新A·12345", occupants=people)
    assert status == 200 and result["outcome"] == "RELEASE"
    assert screen.store.recent(1)[0].record["occupants"][0]["name"] == name
    page = screen.client.get("/")
    assert "onerror" not in page.text  # data reaches the page only through JSON and textContent


def test_pasted_text_is_bounded_and_a_vehicle_id_must_be_the_current_one(make_screen, issuer_key):
    screen = make_screen()
    assert screen.client.post("/api/vehicle/scan", json={"text": "   "}).status_code == 422
    assert screen.client.post("/api/vehicle/scan", json={"text": 5}).status_code == 422
    assert screen.client.post("/api/vehicle/scan", json={"text": "x" * 9000}).status_code == 422
    vehicle = screen.scan(two_person_pass(issuer_key))
    status, error = screen.decide(vehicle["id"] + 1, occupants=crew("36.5", "36.6"), **CHECKED)
    assert (status, error["code"]) == (409, "SCAN_UNKNOWN")
    assert screen.client.get("/api/region/420100").json()["name"] == "湖北省 武汉市"
    assert screen.client.get("/api/region/<b>").json()["name"] is None
