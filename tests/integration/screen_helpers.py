"""Helpers for the officer's screen tests: a screen app on a real store and a signed bundle, and its forms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from checkpoint_client.config import Settings, get_settings
from checkpoint_client.screen import create_app
from checkpoint_client.store import Store
from passcore import trust
from passcore.claims import Person
from passcore.policy import Policy
from tests import factories
from tests.factories import NOW

TOKEN = "test-screen-token"
BASE = "http://127.0.0.1:8700"
TWO = ("张伟", "李娜")


@dataclass
class Screen:
    client: TestClient
    store: Store
    settings: Settings
    clock: list[datetime]

    def scan(self, text: str) -> dict:
        answer = self.client.post("/api/vehicle/scan", json={"text": text})
        assert answer.status_code == 200, answer.text
        return answer.json()["current"]

    def decide(self, vehicle_id: int, **form) -> tuple[int, dict]:
        answer = self.client.post("/api/decide", json={"vehicle_id": vehicle_id, **form})
        return answer.status_code, answer.json()


def crew(*temperatures: str, names=TWO) -> list[dict]:
    roles = ["driver"] + ["escort"] * (len(names) - 1)
    return [
        {"role": r, "name": n, "temperature": t} for r, n, t in zip(roles, names, temperatures, strict=True)
    ]


CHECKED = {"plate_confirmed": True, "identity_confirmed": True, "licence_confirmed": True}


@pytest.fixture
def make_screen(tmp_path, issuer_key, root_key):
    stores = []

    def make(
        *,
        policy: Policy | None = None,
        revoked=frozenset(),
        issued_at=NOW - timedelta(hours=1),
        bundle=True,
        **settings_changes,
    ):
        settings = get_settings(home=tmp_path, **settings_changes)
        settings.root_path.parent.mkdir(parents=True, exist_ok=True)
        settings.bundle_path.parent.mkdir(parents=True, exist_ok=True)
        settings.root_path.write_text(root_key.public.pem)
        if bundle:
            made = factories.make_bundle(
                [factories.issuer(issuer_key)],
                policy=policy or Policy(hard_hit=("420000",)),
                revoked=revoked,
                issued_at=issued_at,
            )
            settings.bundle_path.write_bytes(trust.sign_bundle(made, root_key))
        store = Store.open(settings.store_path)
        stores.append(store)
        clock = [NOW]
        app = create_app(settings, store, None, clock=lambda: clock[0], sync_interval_s=None, token=TOKEN)
        client = TestClient(app, base_url=BASE, headers={"X-Screen-Token": TOKEN})
        return Screen(client, store, settings, clock)

    yield make
    for store in stores:
        store.close()


def two_person_pass(issuer_key) -> str:
    claims = factories.make_claims(escorts=(Person("李娜", "320583********4567"),))
    return factories.signed(claims, issuer_key)[0]
