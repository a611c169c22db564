"""Input and resources (issue 11): bodies bounded before they are read, forged cursors and out-of-range values
answered 4xx, the same security headers on every answer (errors included), free text without control
characters or bidi overrides, and no personal page or answer kept in a cache."""

from __future__ import annotations

import base64
import select as io_select
import socket
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select as sql_select
from sqlmodel import Session, select

from server.alerts.models import Alert
from server.crossings.models import Crossing, EscortRequest
from server.deps import SessionDep
from server.enterprises.models import Enterprise
from server.errors import TooManyRequests
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import application, issue_pass
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.client_helpers import uvicorn_thread
from tests.security.conftest import PASSWORD

MIB = 1024 * 1024
SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "referrer-policy", "content-security-policy")


# ---- bodies bounded before they are read -------------------------------------------------------------------------


def peak_rss_reset() -> None:
    with open("/proc/self/clear_refs", "w") as refs:  # "5": reset the peak resident set size (VmHWM)
        refs.write("5")


def peak_rss_growth(since: int) -> int:
    return rss("VmHWM") - since


def rss(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    headers = {name.lower(): value for name, value in headers.items()}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        piece = sock.recv(65536)
        if not piece:
            break
        body += piece
    return int(lines[0].split()[1]), headers, body


def send_chunked(
    port: int, path: str, *, total: int, headers: dict[str, str]
) -> tuple[int, dict, bytes, int]:
    """POST ``total`` bytes in 64 KiB chunks, looking for an answer before each: (status, headers, body, sent)."""
    chunk = b"x" * 65536
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head.encode())
        sent = 0
        while sent < total:
            readable, _, _ = io_select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except OSError:  # the server closed the connection: its answer may still be there to read
                break
            sent += len(chunk)
        else:
            sock.sendall(b"0\r\n\r\n")
        status, answer_headers, body = read_answer(sock)
    return status, answer_headers, body, sent


@pytest.mark.parametrize(
    ("path", "headers", "media_type"),
    [
        ("/api/v1/auth/token", {"content-type": "application/json"}, "application/problem+json"),
        (
            "/login",
            {"content-type": "application/x-www-form-urlencoded", "accept": "text/html"},
            "text/html",
        ),
    ],
)
def test_an_anonymous_chunked_body_of_96_mib_is_refused_with_413_without_being_read(
    app, path, headers, media_type
):
    limit = app.state.settings.max_body_bytes
    with uvicorn_thread(app, lifespan="off") as port:
        before = rss()
        peak_rss_reset()
        status, answer, body, sent = send_chunked(port, path, total=96 * MIB, headers=headers)
        growth = peak_rss_growth(before)
    assert status == 413 and answer["content-type"].startswith(media_type)
    assert all(name in answer for name in SECURITY_HEADERS)
    # The answer came once the limit was passed: what was sent beyond it sat in the sockets' buffers.
    assert sent < limit + 24 * MIB
    assert growth < 32 * MIB, f"the server's memory grew by {growth // MIB} MiB"
    if media_type == "application/problem+json":
        assert b'"BODY_TOO_LARGE"' in body


def test_a_declared_length_over_the_limit_is_refused_before_reading(app):
    with (
        uvicorn_thread(app, lifespan="off") as port,
        socket.create_connection(("127.0.0.1", port), timeout=30) as sock,
    ):
        sock.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n" % (96 * MIB)
        )
        status, answer, body = read_answer(
            sock
        )  # no byte of the body was sent: the answer cannot wait for it
    assert status == 413 and answer["content-type"].startswith("application/problem+json")
    assert b'"BODY_TOO_LARGE"' in body and all(name in answer for name in SECURITY_HEADERS)


def test_the_crossing_upload_may_be_larger_than_other_requests(app, api):
    limit = app.state.settings.max_body_bytes
    assert app.state.settings.max_upload_bytes > limit
    bulky = b"[" + b" " * (limit + 1) + b"]"
    assert api().post("/api/v1/auth/token", content=bulky).status_code == 413
    upload = api().post("/api/v1/crossings", content=bulky, headers={"content-type": "application/json"})
    assert upload.status_code == 401  # read, then refused for want of a device token
    too_big = b" " * (app.state.settings.max_upload_bytes + 1)
    assert api().post("/api/v1/crossings", content=too_big).status_code == 413


# ---- forged cursors and out-of-range values ----------------------------------------------------------------------


def _token(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


ROW_ID = "0" * 8 + "-0000-0000-0000-" + "0" * 12
FORGED_CURSORS = [
    _token(f"0001-01-01T00:00:00+14:00|{ROW_ID}"),  # year 1 east of UTC: before the calendar starts
    _token(f"9999-12-31T23:59:59-14:00|{ROW_ID}"),  # year 9999 west of UTC: after it ends
    _token(f"2026-02-10T08:00:00+08:00|{ROW_ID}\x00"),
    _token(f"2026-02-10T08:00:00|{ROW_ID}"),  # no zone
    _token(b"\xff\xfe|x"),
    "not base64!",
    "%00",
]


@pytest.mark.parametrize("after", FORGED_CURSORS)
def test_a_forged_audit_cursor_is_refused_with_422(api, after):
    answer = api("auditor").get("/api/v1/audit/crossings", params={"after": after})
    assert answer.status_code == 422 and answer.json()["code"] == "CURSOR_INVALID"
    assert all(name in answer.headers for name in SECURITY_HEADERS)


@pytest.mark.parametrize("after", FORGED_CURSORS[:2])
def test_a_forged_cursor_on_the_audit_pages_is_a_422_page(portal, after):
    answer = portal("auditor").get("/audit/crossings", params={"after": after})
    assert answer.status_code == 422 and "text/html" in answer.headers["content-type"]


@pytest.mark.parametrize("before", ["0", "-1", str(2**31), str(2**63), "1e9", "x"])
def test_an_alert_cursor_out_of_range_is_refused_with_422(api, before):
    answer = api("auditor").get("/api/v1/audit/alerts", params={"before": before})
    assert answer.status_code == 422


def test_a_database_error_caused_by_input_is_a_422_wherever_it_comes_from(app):
    """Values no route checked (here a time past the calendar's end once in UTC) are the request's fault."""

    @app.get("/api/v1/test-unchecked-time")
    def unchecked(session: SessionDep) -> list[str]:
        moment = datetime.fromisoformat("9999-12-31T23:59:59-14:00")
        return list(session.exec(sql_select(Crossing.id).where(Crossing.decided_at > moment)).scalars())

    with TestClient(app) as client:
        answer = client.get("/api/v1/test-unchecked-time")
    assert answer.status_code == 422 and answer.json()["code"] == "VALUE_UNUSABLE"


# ---- the same security headers on every answer --------------------------------------------------------------------


@pytest.fixture
def failing_routes(app):
    @app.get("/api/v1/test-crash")
    def crash() -> None:
        raise RuntimeError("an unexpected failure")

    @app.get("/api/v1/test-throttled")
    def throttled() -> None:
        raise TooManyRequests("wait", headers={"Retry-After": "60"})

    return app


@pytest.mark.parametrize(
    ("method", "path", "status", "accept"),
    [
        ("GET", "/api/v1/no-such-thing", 404, "application/json"),
        ("GET", "/no-such-page", 404, "text/html"),
        ("DELETE", "/api/v1/trust-bundle", 405, "application/json"),
        ("GET", "/api/v1/trust-bundle/delta?since=x", 422, "application/json"),
        ("GET", "/api/v1/test-throttled", 429, "application/json"),
        ("GET", "/api/v1/test-crash", 500, "application/json"),
        ("GET", "/api/v1/test-crash", 500, "text/html"),
    ],
)
def test_error_answers_carry_the_security_headers(failing_routes, method, path, status, accept):
    with TestClient(failing_routes, raise_server_exceptions=False) as client:
        answer = client.request(method, path, headers={"accept": accept})
    assert answer.status_code == status
    missing = [name for name in SECURITY_HEADERS if name not in answer.headers]
    assert missing == []
    assert answer.headers["cache-control"] == "no-store"
    if status == 500:
        assert "unexpected failure" not in answer.text  # no detail of what broke is shown


# ---- no personal page or answer kept in a cache ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ("clerk", "/api/v1/applications"),
        ("auditor", "/api/v1/audit/crossings"),
        ("auditor", "/api/v1/audit/alerts"),
        ("admin", "/api/v1/enterprises"),
    ],
)
def test_api_answers_are_not_kept_in_caches(api, user, path):
    answer = api(user).get(path)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ("clerk", "/enterprise/applications"),
        ("reviewer", "/review/queue"),
        ("auditor", "/audit/crossings"),
        (None, "/login"),
        (None, "/register"),
    ],
)
def test_pages_are_not_kept_in_caches(portal, user, path):
    answer = portal(user).get(path)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"


def test_public_assets_and_the_trust_bundle_keep_their_own_caching(api):
    client = api()
    bundle = client.get("/api/v1/trust-bundle")
    assert bundle.status_code == 200 and bundle.headers["cache-control"] == "no-cache"  # revalidated by ETag
    style = client.get("/static/portal.css")
    assert style.status_code == 200 and "no-store" not in style.headers.get("cache-control", "")


# ---- free text: no control characters, NUL or bidi overrides -----------------------------------------------------

device_factory = checkpoint_devices.device_factory  # the fixture, for the escort and record cases
# NUL, a bell, a right-to-left override (U+202E) and an isolate (U+2066): each refused in every free-text field.
BAD_TEXT = ["张\x00伟", "张\x07伟", "发票\u202egpj.exe", "货物\u2066隔离"]


@pytest.mark.parametrize("bad", BAD_TEXT)
@pytest.mark.parametrize("field", ["name", "contact"])
def test_registration_refuses_hostile_enterprise_names_and_contacts_next_to_the_field(
    portal, app, field, bad
):
    visitor = portal()
    visitor.csrf = visitor.page_csrf("/register")
    form = {
        "name": "苏州新材料有限公司",
        "uscc": "91320594MA1MXXXX0X",
        "contact": "王经理",
        "phone": "0512-66660000",
        "region": "320594",
        "username": "newcomer",
        "password": "a-long-enough-passphrase",
    }
    answer = visitor.form("/register", form | {field: bad})
    assert answer.status_code == 422 and f'id="e-{field}"' in answer.text
    with Session(app.state.engine) as session:
        assert session.exec(select(Enterprise).where(Enterprise.name == form["name"])).first() is None


@pytest.mark.parametrize("bad", BAD_TEXT)
def test_cargo_refuses_hostile_text_and_chinese_is_fine(api, bad):
    clerk = api("clerk")
    now = datetime.now(UTC)
    refused = clerk.post("/api/v1/applications", json=application(now, cargo=bad))
    assert refused.status_code == 422 and "cargo" in refused.json()["errors"]
    assert (
        clerk.post("/api/v1/applications", json=application(now, cargo="精密零部件（含包装）")).status_code
        == 201
    )


@pytest.mark.parametrize("bad", BAD_TEXT)
def test_a_rejection_reason_refuses_hostile_text(api, bad):
    created = api("clerk").post("/api/v1/applications?submit=true", json=application(datetime.now(UTC)))
    assert created.status_code == 201, created.text
    path = f"/api/v1/applications/{created.json()['id']}/reject"
    refused = api("reviewer").post(path, json={"reason": bad})
    assert refused.status_code == 422 and refused.json()["errors"] == {"reason": "reason_invalid"}
    assert api("reviewer").post(path, json={"reason": "货物与申请不符。\n请重新申请。"}).status_code == 200


@pytest.mark.parametrize("bad", BAD_TEXT)
def test_a_revocation_reason_refuses_hostile_text(app, api, bad):
    pass_id, _ = issue_pass(app)
    refused = api("reviewer").post(f"/api/v1/passes/{pass_id}/revoke", json={"reason": bad})
    assert refused.status_code == 422 and "reason" in refused.json()["errors"]
    assert (
        api("reviewer").post(f"/api/v1/passes/{pass_id}/revoke", json={"reason": "车辆已更换"}).status_code
        == 200
    )


@pytest.mark.parametrize("bad", BAD_TEXT)
def test_alert_notes_refuse_hostile_text(app, api, bad):
    now = datetime.now(UTC)
    with Session(app.state.engine) as session:
        alert = Alert(kind="pass_forged", dedupe_key=f"test-{bad!r}", occurred_at=now, created_at=now)
        session.add(alert)
        session.commit()
        alert_id = alert.id
    refused = api("auditor").post(f"/api/v1/audit/alerts/{alert_id}/close", json={"note": bad})
    assert refused.status_code == 422 and refused.json()["code"] == "ALERT_NOTE_INVALID"
    assert (
        api("auditor")
        .post(f"/api/v1/audit/alerts/{alert_id}/close", json={"note": "已核实，误报"})
        .status_code
        == 200
    )


@pytest.mark.parametrize("bad", BAD_TEXT)
def test_escort_staff_names_and_recorded_names_refuse_hostile_text(portal, app, device_factory, bad):
    device = device_factory(make_checkpoint(app))
    record = device.escort_record()
    assert device.upload(record).json()["accepted"] == 1
    with Session(app.state.engine) as session:
        escort = session.exec(select(EscortRequest).where(EscortRequest.crossing_id == record["id"])).one()
    clerk = portal("clerk")
    clerk.csrf = clerk.page_csrf(f"/enterprise/escorts/{escort.id}")
    eta = (datetime.now(UTC) + timedelta(minutes=40)).astimezone(ZoneInfo("Asia/Shanghai"))
    answer = {"staff_name": bad, "staff_phone": "138 1234 5678", "eta": eta.strftime("%Y-%m-%dT%H:%M")}
    refused = clerk.form(f"/enterprise/escorts/{escort.id}", answer)
    assert refused.status_code == 422 and 'id="e-staff_name"' in refused.text
    people = [{**device.record()["occupants"][0], "name": bad}]
    device.seq -= 1
    result = device.upload(device.record(occupants=people)).json()["results"][0]
    assert result["status"] == "invalid"


@pytest.mark.parametrize("bad", BAD_TEXT)
def test_checkpoint_names_locations_and_token_names_refuse_hostile_text(api, bad):
    admin = api("admin")
    for field in ("name", "location"):
        body = {"name": "G312 昆山西卡口", "region": "320583", "location": "G312 国道"} | {field: bad}
        answer = admin.post("/api/v1/checkpoints", json=body)
        assert answer.status_code == 422, (field, answer.text)
    token = api().post("/api/v1/auth/token", json={"username": "clerk", "password": PASSWORD, "name": bad})
    assert token.status_code == 422 and "name" in token.json()["errors"]
