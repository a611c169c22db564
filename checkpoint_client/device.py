"""The device's credential (``CHECKPOINT_HOME/keys/device.json``, mode 0600) and enrolment with a one-time code.

Enrolment is the moment the laptop learns which root key to trust, so it does not take the network's word for it:
the server must be reached over HTTPS (plain HTTP only to this machine itself), and the root key it answers with
must have the fingerprint the enrolment code carries (``passcore.enrolment``), or nothing is written.

The credential holds the server's URL, the device id, the bearer token, the checkpoint and when it was enrolled.
The token is a secret: the file is private to the officer's account (keys/ is 0700), ``Device`` leaves it out of
its repr, and nothing prints or logs it after enrolment.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import asdict, dataclass, field
from datetime import datetime
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import httpx

from checkpoint_client import server_api, truststore
from checkpoint_client.config import Settings
from passcore import enrolment
from passcore.errors import CheckpassError, InputError
from passcore.keys import PublicKey

__all__ = [
    "Device",
    "Enrolment",
    "enrol",
    "load_device",
    "normalise_server_url",
    "public_json",
    "save_device",
]

MAX_FILE_BYTES = 64 * 1024
MAX_NAME = 100  # as the server allows
_DEVICE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Device:
    server: str
    device_id: str
    token: str = field(repr=False)
    checkpoint: dict[str, Any] = field(default_factory=dict)  # id, name, region, region_name
    enrolled_at: str = ""
    name: str = ""


@dataclass(frozen=True)
class Enrolment:
    device: Device
    replaced: str | None  # the device id this enrolment replaced, if the laptop was enrolled before
    bundle_version: int | None  # the first bundle, when it could be fetched
    bundle_problem: (
        str | None
    )  # why it could not (the device is enrolled regardless; `checkpoint sync` retries)


def public_json(device: Device) -> dict[str, Any]:
    """What may be shown: everything but the token."""
    return {k: v for k, v in asdict(device).items() if k != "token"}


def normalise_server_url(url: str) -> str:
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InputError(
            f"--server {url[:100]!r} is not a server address such as https://checkpass.example.cn",
            code="SERVER_URL_INVALID",
        )
    return text


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host).is_loopback  # 127.0.0.0/8 and ::1
    except ValueError:
        return False


def _require_secure(server: str) -> None:
    """Refuse plain HTTP to anything but this machine: the token and the root key would cross the network open."""
    parts = urlsplit(server)
    if parts.scheme != "https" and not _loopback(parts.hostname or ""):
        raise InputError(
            f"--server {server[:100]!r}: enrolment over plain http:// is refused except to this machine "
            "(127.0.0.1, ::1, localhost); use the https:// address",
            code="SERVER_INSECURE",
        )


def load_device(settings: Settings) -> Device | None:
    """The enrolled device, or None when this laptop has not been enrolled."""
    path = settings.device_path
    try:
        if not path.exists():
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{path} is too large to be a device credential", code="DEVICE_FILE_INVALID")
        data = json.loads(path.read_text(encoding="utf-8"))
        device = Device(
            **{key: data[key] for key in ("server", "device_id", "token")},
            checkpoint=dict(data.get("checkpoint") or {}),
            enrolled_at=str(data.get("enrolled_at", "")),
            name=str(data.get("name", "")),
        )
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}", code="FILE_UNREADABLE") from err
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(
            f"{path} is not a device credential ({type(err).__name__}); enrol again",
            code="DEVICE_FILE_INVALID",
        ) from err
    if not (isinstance(device.token, str) and device.token and _DEVICE_ID.match(str(device.device_id))):
        raise InputError(f"{path} is not a device credential; enrol again", code="DEVICE_FILE_INVALID")
    normalise_server_url(str(device.server))
    return device


def save_device(settings: Settings, device: Device) -> None:
    """Write the credential atomically, private from the first byte (never world-readable, even briefly)."""
    path = settings.device_path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)  # keys/ may predate this (the pinned root lives there too)
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(device), out, ensure_ascii=False, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o600)  # in case the file existed with other permissions
    os.replace(tmp, path)


def _answer_device(server: str, response: httpx.Response, name: str) -> tuple[Device, PublicKey]:
    try:
        body = response.json()
        device = Device(
            server=server,
            device_id=str(body["device_id"]),
            token=str(body["token"]),
            checkpoint=dict(body["checkpoint"]),
            enrolled_at=str(body["enrolled_at"]),
            name=name,
        )
        root = PublicKey.from_pem(str(body["root_public_key"]).encode())
    except (KeyError, TypeError, ValueError, CheckpassError) as err:
        raise server_api.SyncError(
            f"the server's enrolment answer is malformed ({type(err).__name__})", code="SERVER_ANSWER_INVALID"
        ) from err
    if not _DEVICE_ID.match(device.device_id) or not device.token:
        raise server_api.SyncError("the server's enrolment answer is malformed", code="SERVER_ANSWER_INVALID")
    return device, root


def enrol(
    settings: Settings,
    *,
    server: str,
    code: str,
    name: str | None = None,
    now: datetime,
    client: httpx.Client | None = None,
) -> Enrolment:
    """Enrol with a one-time code: check the server's root key against the code's fingerprint and pin it (refusing
    a different one), store the credential, fetch the first trust bundle. Raises SyncError (server unreachable,
    code refused) or InputError (SERVER_INSECURE, CODE_MALFORMED, ROOT_FINGERPRINT_MISMATCH, ROOT_MISMATCH)."""
    server = normalise_server_url(server)
    _require_secure(server)
    expected = enrolment.parse_code(code)
    name = (name or socket.gethostname()[:MAX_NAME] or "checkpoint").strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InputError(
            f"--name: 1 to {MAX_NAME} characters, e.g. 东卡口 笔记本 1", code="DEVICE_NAME_INVALID"
        )
    previous = load_device(settings) if settings.device_path.exists() else None
    own_client = client is None
    http = client or server_api.new_client(settings)
    try:
        api = server_api.Api(settings, server, http)
        response = api.call(
            "POST", "/api/v1/devices/enroll", json={"code": code, "name": name}, idempotent=False
        )
        if response.status_code != 201:
            problem, text = server_api.problem_of(response)
            raise server_api.SyncError(f"enrolment refused: {text} ({problem})", code=problem)
        device, root = _answer_device(server, response, name)
        if not expected.matches(root):
            raise InputError(
                f"the server answered with a root key whose fingerprint is {enrolment.fingerprint(root)}, not the "
                "one in the enrolment code: nothing was saved. Check the server address, and ask the bureau for a "
                "new code (this one is spent)",
                code="ROOT_FINGERPRINT_MISMATCH",
            )
        truststore.pin_root_key(settings, root)  # ROOT_MISMATCH before anything is stored
        save_device(settings, device)
        version, problem_text = None, None
        try:
            # With the new token: the server records which bundle this device holds (its audit judges by that).
            fetch = server_api.Api(settings, server, http, token=device.token)
            answer = fetch.call("GET", "/api/v1/trust-bundle")
            if answer.status_code != 200:
                raise server_api.SyncError(server_api.problem_of(answer)[1])
            version = truststore.accept_bundle(settings, answer.content, now=now).version
        except CheckpassError as err:
            problem_text = f"the first trust bundle was not accepted: {err.message}; run `checkpoint sync`"
    finally:
        if own_client:
            http.close()
    replaced = previous.device_id if previous and previous.device_id != device.device_id else None
    return Enrolment(device=device, replaced=replaced, bundle_version=version, bundle_problem=problem_text)
