"""One JSON log line per request, with a request id the answer, the problem body and the error page carry; nothing
personal in it (server/ops). In process through TestClient (SQLite and PostgreSQL), and from a real `checkpass
serve`, whose stderr must be JSON lines only."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from server.deps import SESSION_COOKIE
from server.ops.logs import JsonFormatter
from tests import logscan
from tests.factories import DRIVER_ID
from tests.integration.client_helpers import BIN, free_port

NGINX_ID = "4f8c2b1e9d7a4c3b8e6f5a4b3c2d1e0f"  # what nginx's $request_id looks like


@pytest.fixture
def app_settings(tmp_path, database_url):
    from server.config import get_settings

    return get_settings(home=tmp_path, database_url=database_url, trusted_proxies="127.0.0.1")


class Lines(logging.Handler):
    """The JSON lines the server's formatter makes of every record of our loggers."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def requests(self) -> list[dict]:
        return [line for line in map(json.loads, self.lines) if line["logger"] == "server.ops.requests"]


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler, logger = Lines(), logging.getLogger("server")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_each_request_is_one_line_with_its_route_template_and_nothing_else_of_it(app, api, lines):
    client = api("auditor")
    token = client.headers["authorization"]
    lines.lines.clear()  # the sign-in that made the token
    answer = client.get(f"/api/v1/passes/{'ab' * 12}", params={"id_number": DRIVER_ID, "name": "张伟"})
    [line] = lines.requests()
    assert set(line) == {
        "time", "level", "logger", "message", "request_id", "method", "route", "status", "duration_ms"
    }  # fmt: skip
    assert line["request_id"] == answer.headers["x-request-id"]
    assert (line["method"], line["route"], line["status"]) == (
        "GET",
        "/api/v1/passes/{pass_id}",
        answer.status_code,
    )
    assert line["level"] == "info" and line["duration_ms"] >= 0 and line["time"].endswith("+00:00")
    text = "\n".join(lines.lines)
    for personal in ("ab" * 12, DRIVER_ID, "张伟", token.split()[1], "id_number"):
        assert personal not in text


def test_a_form_post_logs_neither_its_body_nor_its_cookies(portal, lines):
    clerk = portal("clerk")
    lines.lines.clear()
    session_cookie = clerk.cookies.get(SESSION_COOKIE)
    clerk.form("/login", {"username": "clerk", "password": "a-wrong-guess"})
    text = "\n".join(lines.lines)
    assert lines.requests() and session_cookie and session_cookie not in text
    assert "a-wrong-guess" not in text and clerk.csrf not in text


@pytest.mark.parametrize(
    ("peer", "sent", "kept"),
    [
        ("127.0.0.1", NGINX_ID, True),  # our nginx
        ("127.0.0.1", "3b241101-e2bb-4255-8caf-4136c566a962", True),  # a proxy that sends UUIDs
        ("203.0.113.7", NGINX_ID, False),  # anyone else cannot choose what our log says
        ("127.0.0.1", "short", False),
        ("127.0.0.1", "x" * 65, False),
        ("127.0.0.1", 'a" "level": "error', False),
        ("127.0.0.1", "id\u202eevil-but-long".encode(), False),  # bytes: a header is not always ASCII
    ],
)
def test_an_incoming_request_id_is_kept_only_from_a_trusted_proxy_and_well_formed(
    app, lines, peer, sent, kept
):
    with TestClient(app, client=(peer, 40000)) as client:
        answer = client.get("/healthz", headers={"x-request-id": sent})
    returned = answer.headers["x-request-id"]
    assert (returned == sent) is kept
    if not kept:
        assert len(returned) == 32 and int(returned, 16) >= 0  # a fresh uuid4, hex
    assert lines.requests()[-1]["request_id"] == returned


def test_every_request_gets_its_own_id(app):
    with TestClient(app) as client:
        ids = {client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


def test_json_errors_and_html_error_pages_show_the_request_id(app, portal):
    with TestClient(app) as client:
        problem = client.get("/api/v1/passes/nope")
    assert problem.json()["request_id"] == problem.headers["x-request-id"]
    page = portal().get("/no/such/page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert f"<code>{page.headers['x-request-id']}</code>" in page.text


def test_a_crash_is_one_500_line_whose_id_the_error_page_shows_and_the_exception_keeps_its_message_out(
    app, lines
):
    def crash() -> None:
        # What a careless message looks like: a database error quoting the row it could not write.
        raise RuntimeError(f"could not store {DRIVER_ID} 张伟")

    app.add_api_route("/crash-for-test", crash, include_in_schema=False)
    with TestClient(app, raise_server_exceptions=False, headers={"accept": "text/html"}) as client:
        page = client.get("/crash-for-test")
    assert page.status_code == 500
    request_id = page.headers["x-request-id"]
    assert f"<code>{request_id}</code>" in page.text
    [line] = [line for line in lines.requests() if line["request_id"] == request_id]
    assert (line["route"], line["status"]) == ("/crash-for-test", 500)


def test_app_log_lines_written_during_a_request_carry_its_id(app, lines):
    def logs_something() -> dict[str, str]:
        logging.getLogger("server.test_request_logs").warning("3 records audited")  # a sync route: a thread
        return {}

    app.add_api_route("/log-for-test", logs_something, include_in_schema=False)
    with TestClient(app) as client:
        request_id = client.get("/log-for-test").headers["x-request-id"]
    [written] = [json.loads(line) for line in lines.lines if "3 records audited" in line]
    assert written["request_id"] == request_id and written["level"] == "warning"


def test_an_exception_is_logged_by_its_class_and_frames_without_its_message():
    try:
        raise ValueError(f"refused {DRIVER_ID}")
    except ValueError:
        record = logging.LogRecord("server.x", logging.ERROR, __file__, 1, "audit failed", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["exception"] == "ValueError" and line["message"] == "audit failed"
    assert any("test_request_logs.py" in frame for frame in line["stack"])
    assert DRIVER_ID not in json.dumps(line)


def test_a_real_server_writes_json_lines_only_and_none_holds_what_was_asked(tmp_path):
    """`checkpass serve`: uvicorn's own lines and ours are JSON; the request lines have route templates."""
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPASS_", "PROMETHEUS_"))}
    env |= {"CHECKPASS_HOME": str(home), "CHECKPASS_AUDIT_SCHEDULE": "false"}
    log_path = logscan.track(tmp_path / "serve-stderr.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(BIN / "checkpass"), "serve", "--port", str(port)],
            env=env,
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(1200):  # a loaded machine takes a while to make the keys and start
            if process.poll() is not None:
                pytest.fail(f"serve stopped: {log_path.read_text(errors='replace')}")
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("serve did not answer")
        with httpx.Client(base_url=base, timeout=30) as client:
            asked = client.get(f"/api/v1/passes/{'cd' * 12}", params={"id_number": DRIVER_ID})
            form = client.post("/login", data={"username": "张伟", "password": "a-wrong-guess"})
    finally:
        process.terminate()
        process.wait(timeout=30)
    written = [json.loads(line) for line in log_path.read_text().splitlines()]  # every line parses
    ours = [line for line in written if line["logger"] == "server.ops.requests"]
    assert {"uvicorn.error", "server.ops.requests"} <= {line["logger"] for line in written}
    by_id = {line["request_id"]: line for line in ours}
    assert by_id[asked.headers["x-request-id"]]["route"] == "/api/v1/passes/{pass_id}"
    assert by_id[form.headers["x-request-id"]]["route"] == "/login"
    text = log_path.read_text()
    for personal in ("cd" * 12, DRIVER_ID, "张伟", "a-wrong-guess"):
        assert personal not in text


def test_the_served_log_configuration_lets_our_info_lines_through_and_no_other_librarys():
    """In a fresh interpreter, as `serve` configures it: a library at INFO could log SQL parameters or URLs."""
    script = (
        "import logging\n"
        "from server.ops import logs\n"
        "logs.configure('info')\n"
        "names = ['server.ops.requests', 'uvicorn.error', 'sqlalchemy.engine.Engine', 'httpx', 'asyncio']\n"
        "print(' '.join(str(logging.getLogger(n).isEnabledFor(logging.INFO)) for n in names))\n"
        "logging.getLogger('server.x').info('written')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["True", "True", "False", "False", "False"]
    [line] = [json.loads(text) for text in done.stderr.splitlines()]
    assert (line["logger"], line["message"], line["level"]) == ("server.x", "written", "info")
