"""Enrolment (issue 11): the laptop pins the root key the enrolment code names, not whatever the network answers,
and never enrols over plain HTTP except to the machine it runs on."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from checkpoint_client import device as devices
from checkpoint_client.config import get_settings
from passcore import enrolment
from passcore.errors import InputError
from passcore.keys import PublicKey, generate_signing_key
from server.keyring import service as keyring
from tests.integration.checkpoint_devices import enrolment_code, make_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore:You should not use the .timeout. argument")

OLD_CODE = (
    "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ"  # the format before the root fingerprint (26 characters, 128 bits)
)


@pytest.fixture
def laptop(tmp_path):
    return get_settings(home=tmp_path / "laptop")


def nothing_written(settings) -> bool:
    return not settings.device_path.exists() and not settings.root_path.exists()


def root_of(app) -> PublicKey:
    return keyring.load_root(app.state.settings).public


def test_a_code_names_the_root_key_by_its_fingerprint(app):
    code = enrolment_code(app, make_checkpoint(app))
    assert re.fullmatch(r"([A-Z2-7]{4}-){7}[A-Z2-7]{4}", code)
    assert code.endswith(enrolment.fingerprint(root_of(app)))
    parsed = enrolment.parse_code(code.lower().replace("-", " "))  # typed as read: case and separators vary
    assert parsed.matches(root_of(app)) and not parsed.matches(generate_signing_key().public)


def test_enrolment_pins_the_root_the_code_names(app, laptop):
    code = enrolment_code(app, make_checkpoint(app))
    with TestClient(app) as client:
        done = devices.enrol(
            laptop, server="http://127.0.0.1:8000", code=code, now=datetime.now(UTC), client=client
        )
    assert done.device.device_id and laptop.root_path.exists()
    assert PublicKey.from_pem(laptop.root_path.read_bytes()).spki_der == root_of(app).spki_der


def test_a_root_key_that_does_not_match_the_code_is_refused_and_nothing_is_written(app, laptop):
    """A network answering in the server's place, with its own root key, for a code the bureau really made."""
    code = enrolment_code(app, make_checkpoint(app))
    impostor = generate_signing_key().public

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/devices/enroll"
        return httpx.Response(
            201,
            json={
                "device_id": "0" * 32,
                "token": "cpt_impostor",
                "checkpoint": {"id": 1, "name": "G312", "region": "320583", "region_name": "昆山市"},
                "root_public_key": impostor.pem,
                "bundle_url": "https://checkpass.example.cn/api/v1/trust-bundle",
                "enrolled_at": "2026-02-10T08:00:00Z",
            },
        )

    with httpx.Client(transport=httpx.MockTransport(answer)) as network, pytest.raises(InputError) as refused:
        devices.enrol(
            laptop, server="https://checkpass.example.cn", code=code, now=datetime.now(UTC), client=network
        )
    assert refused.value.code == "ROOT_FINGERPRINT_MISMATCH"
    assert enrolment.fingerprint(impostor) in refused.value.message
    assert nothing_written(laptop)


def test_a_code_whose_fingerprint_is_not_the_servers_root_is_refused(app, laptop):
    real = enrolment_code(app, make_checkpoint(app))
    forged = real[:19] + "-" + enrolment.fingerprint(generate_signing_key().public)
    with TestClient(app) as client, pytest.raises(InputError) as refused:
        devices.enrol(laptop, server="http://127.0.0.1", code=forged, now=datetime.now(UTC), client=client)
    assert refused.value.code == "ROOT_FINGERPRINT_MISMATCH" and nothing_written(laptop)


def untouched_network() -> httpx.Client:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the laptop contacted {request.url} although it should have refused first")

    return httpx.Client(transport=httpx.MockTransport(never))


@pytest.mark.parametrize(
    "server",
    ["http://checkpass.example.cn", "http://192.168.1.20:8000", "http://10.0.0.1", "http://[fe80::1]:8000"],
)
def test_enrolment_over_plain_http_to_another_machine_is_refused_before_anything_is_sent(laptop, server):
    code = "K7QD-M2XA-PL4W-ZC6B-3F2A-Q7NX-D4LM-R5TE"
    with untouched_network() as network, pytest.raises(InputError) as refused:
        devices.enrol(laptop, server=server, code=code, now=datetime.now(UTC), client=network)
    assert refused.value.code == "SERVER_INSECURE" and "https://" in refused.value.message
    assert nothing_written(laptop)


@pytest.mark.parametrize(
    "server", ["http://127.0.0.1:8000", "http://127.8.9.10", "http://[::1]:8000", "http://LOCALHOST"]
)
def test_plain_http_to_this_machine_is_allowed(app, laptop, server):
    code = enrolment_code(app, make_checkpoint(app))
    with TestClient(app) as client:
        done = devices.enrol(laptop, server=server, code=code, now=datetime.now(UTC), client=client)
    assert done.device.server == server


def test_a_code_in_the_old_format_is_refused_with_a_clear_message(app, laptop):
    with untouched_network() as network, pytest.raises(InputError) as refused:
        devices.enrol(
            laptop,
            server="https://checkpass.example.cn",
            code=OLD_CODE,
            now=datetime.now(UTC),
            client=network,
        )
    assert refused.value.code == "CODE_MALFORMED" and "new one" in refused.value.message
    with TestClient(app) as client:
        answer = client.post("/api/v1/devices/enroll", json={"code": OLD_CODE, "name": "laptop"})
    assert answer.status_code == 422 and answer.json()["code"] == "CODE_MALFORMED"


def test_the_admin_page_shows_the_code_with_the_root_fingerprint(app, portal):
    checkpoint_id = make_checkpoint(app)
    admin = portal("admin")
    admin.csrf = admin.page_csrf(f"/admin/checkpoints/{checkpoint_id}")
    shown = admin.form(f"/admin/checkpoints/{checkpoint_id}/codes", {})
    assert shown.status_code == 200
    fingerprint = enrolment.fingerprint(root_of(app))
    code = re.search(r'id="enrolment-code">([^<]+)<', shown.text).group(1)
    assert code.endswith(fingerprint) and f'id="root-fingerprint">{fingerprint}<' in shown.text
    answer = TestClient(app).post("/api/v1/devices/enroll", json={"code": code, "name": "laptop"})
    assert answer.status_code == 201 and json.loads(answer.text)["device_id"]
