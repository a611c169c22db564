"""The whole-suite log scan (tests/logscan.py) finds what it must, names file and line, and leaves clean lines be."""

from __future__ import annotations

import json
import logging
import secrets

import pytest

from server.ops.logs import request_id_var
from tests import factories, logscan

CLEAN = json.dumps(
    {
        "time": "2026-02-10T08:00:00.000+00:00",
        "level": "info",
        "logger": "server.ops.requests",
        "message": "GET /api/v1/passes/{pass_id} 200",
        "request_id": "4f8c2b1e9d7a4c3b8e6f5a4b3c2d1e0f",
        "route": "/api/v1/passes/{pass_id}",
        "status": 200,
        "duration_ms": 12.5,
        # Code locations are not what was logged: a 43-character function name is not a token.
        "stack": ["server/x.py:1 in test_a_function_name_of_43_characters_long"],
    },
    ensure_ascii=False,
)


@pytest.fixture(scope="module")
def values() -> dict[str, str]:
    return logscan.test_data_values()


def test_the_test_datas_names_ids_plates_phones_and_passwords_are_known(values):
    assert values[factories.DRIVER_ID] == "ID number"
    assert values["张伟"] == "name" and values["李娜"] == "name"
    assert values["correct-horse-battery"] == "password"
    assert values["13800000000"] == "phone number"
    assert values["苏EA1234"] == "plate"


@pytest.mark.parametrize("word", ["昆山市", "乘客", "押运员", "卡口", "password", "csrf_token", "武汉"])
def test_places_roles_and_field_names_are_not_taken_for_personal_data(values, word):
    assert word not in values


@pytest.mark.parametrize(
    ("text", "what"),
    [
        (f'{{"message": "stored {factories.DRIVER_ID}"}}', "ID number"),
        ('{"message": "driver 张伟 released"}', "name"),
        ('{"message": "login correct-horse-battery"}', "password"),
        # Not in the test data, but the shape of one: a valid resident ID number, a mobile number, a plate.
        ('{"message": "11010519491231002X"}', "a resident ID number"),
        ('{"message": "call 15912345678"}', "a mobile number"),
        ('{"message": "浙B12345 seen"}', "a plate"),
        ('{"message": "Authorization: Bearer cpt_abcdefghijklmnopqrstuvwxyz012345"}', "an API token"),
        ('{"message": "cookie cp_session=abc123"}', "a session cookie"),
        ('{"message": "sent whsec_abcdefghijklmnopqrstuvwxyz"}', "a webhook secret"),
        (f'{{"message": "link {"A" * 43}"}}', "a 43-character URL-safe token"),
        ("plain text from a subprocess: 张伟", "name"),
    ],
)
def test_a_line_with_personal_data_or_a_secret_is_found(values, text, what):
    assert any(what in found for found in logscan.scan_line(text, values, set()))


def test_clean_lines_are_clean(values):
    assert logscan.scan_line(CLEAN, values, set()) == []
    # An invalid check digit is not an ID number; 12 digits is not a mobile number.
    assert logscan.scan_line('{"message": "110105194912310021 and 159123456789"}', values, set()) == []


def test_a_finding_names_the_file_and_its_line(tmp_path, values):
    token = secrets.token_urlsafe(32)
    log = tmp_path / "server.log"
    log.write_text("\n".join([CLEAN, CLEAN, f'{{"message": "session {token}"}}', CLEAN]) + "\n")
    findings = logscan.scan([log, tmp_path / "never-written.log"], values, {token, "short"})
    assert {(finding.file, finding.line) for finding in findings} == {(log, 3)}
    assert any("a token made in this process" in finding.what for finding in findings)
    assert all(str(finding).startswith(f"{log}:3: ") for finding in findings)


def test_tokens_made_while_the_recorder_is_installed_are_recorded():
    recorder = logscan.TokenRecorder()
    recorder.install()
    try:
        made = secrets.token_urlsafe(32)
    finally:
        recorder.uninstall()
    after = secrets.token_urlsafe(32)
    assert made in recorder.tokens and after not in recorder.tokens


def test_in_process_records_are_written_as_the_server_writes_them_with_request_id_and_test(tmp_path):
    logs = logscan.InProcessLogs(tmp_path / "in-process.jsonl")
    logger = logging.getLogger("server.test_logscan")
    logs.install(["server.test_logscan"])
    token = request_id_var.set("a1b2c3d4e5f60718")
    try:
        logger.debug("3 records audited")  # DEBUG: made at all only because install() let it through
    finally:
        request_id_var.reset(token)
        logs.uninstall()
    [line] = [json.loads(text) for text in (tmp_path / "in-process.jsonl").read_text().splitlines()]
    assert line["message"] == "3 records audited" and line["request_id"] == "a1b2c3d4e5f60718"
    assert line["_test"] and line["_at"].startswith(f"{__file__}:")
    assert logger.level == logging.NOTSET  # put back
