"""Talking to the bureau's server: one request helper with bounded retries, and the errors sync reports.

Transient failures — no connection, a timeout, a dropped connection, 5xx, 429 — are retried with exponential
back-off and full jitter (sleep a random time between 0 and min(cap, base·2^attempt)), so a hundred checkpoints
coming back online together do not hammer the server in step. Requests that are not idempotent (enrolment uses
its one-time code) are retried only when the request surely never reached the server.
401/403 mean the device's credential is no longer accepted: retrying cannot help, the officer must enrol again.
The device token goes only into the Authorization header; it is never part of a message or a log line.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from checkpoint_client.config import Settings
from passcore.errors import CheckpassError

__all__ = ["RETRY_STATUSES", "Api", "SyncError", "new_client", "problem_of", "timeout"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CONNECT_TIMEOUT_S = 10.0
ENROL_AGAIN = "enrol this laptop again with a new code: checkpoint enroll --server URL --code CODE"


class SyncError(CheckpassError):
    """Sync could not finish. ``code``: SERVER_UNREACHABLE, DEVICE_REVOKED, DEVICE_REJECTED, NOT_ENROLLED,
    SERVER_REFUSED or SERVER_ANSWER_INVALID. Whatever was done before it (records marked synced) stays done."""

    code = "SYNC_FAILED"

    def __init__(self, message: str, *, code: str | None = None, report: Any = None) -> None:
        super().__init__(message, code=code)
        self.report = report  # the partial SyncReport, when sync_once raised it


def problem_of(response: httpx.Response) -> tuple[str, str]:
    """(code, human text) from an RFC 9457 problem answer, or the status line for anything else."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("code") or f"HTTP_{response.status_code}")[:60]
        text = str(body.get("detail") or body.get("title") or code)[:300]
        return code, text
    return f"HTTP_{response.status_code}", f"HTTP {response.status_code} {response.reason_phrase}"


def _auth_error(response: httpx.Response) -> SyncError:
    code, text = problem_of(response)
    if code == "DEVICE_REVOKED":
        return SyncError(f"the bureau revoked this device: {ENROL_AGAIN}", code="DEVICE_REVOKED")
    return SyncError(
        f"the server does not accept this device's credential ({code}: {text}); {ENROL_AGAIN}",
        code="DEVICE_REJECTED",
    )


@dataclass
class Api:
    """Requests to one server, retried as above. ``sleep`` and ``rand`` are injectable so tests do not wait."""

    settings: Settings
    server: str  # base URL without a trailing slash
    client: httpx.Client
    token: str | None = field(default=None, repr=False)
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    retries: int = 0  # how many retries this Api made (for the sync report)

    def backoff(self, attempt: int, response: httpx.Response | None) -> float:
        ceiling = min(self.settings.sync_backoff_max_s, self.settings.sync_backoff_s * 2 ** (attempt - 1))
        delay = self.rand() * ceiling
        retry_after = response.headers.get("Retry-After", "") if response is not None else ""
        if retry_after.strip().isdigit():  # the server said how long; honour it within the cap
            delay = max(delay, min(float(retry_after), self.settings.sync_backoff_max_s))
        return delay

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """The server's answer (any status but 401/403, 429 and 5xx); raises SyncError once retries run out."""
        sent = dict(headers or {})
        if self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        attempts = self.settings.sync_attempts
        problem = ""
        for attempt in range(1, attempts + 1):
            response = None
            try:
                response = self.client.request(
                    method,
                    self.server + path,
                    json=json,
                    params=params,
                    headers=sent,
                    timeout=timeout(self.settings),
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as err:
                problem = f"cannot connect ({type(err).__name__})"
            except httpx.TransportError as err:
                # Sent, but the answer was lost (timeout, connection cut): safe to resend only if idempotent.
                problem = f"no answer ({type(err).__name__})"
                if not idempotent:
                    raise self._unreachable(problem, attempt) from err
            else:
                if response.status_code in (401, 403):
                    raise _auth_error(response)
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"HTTP {response.status_code}"
            if attempt < attempts:
                self.retries += 1
                self.sleep(self.backoff(attempt, response))
        raise self._unreachable(problem, attempts)

    def _unreachable(self, problem: str, attempts: int) -> SyncError:
        return SyncError(
            f"the server {self.server} cannot be reached ({problem}, {attempts} attempt(s)); decisions stay "
            "stored on this laptop and are sent at the next sync / 无法连接服务器，记录已保存在本机，稍后同步",
            code="SERVER_UNREACHABLE",
        )


def timeout(settings: Settings) -> httpx.Timeout:
    # A dead network (no answer at all) should fail over to the next attempt sooner than a slow server's answer.
    return httpx.Timeout(settings.sync_timeout_s, connect=min(CONNECT_TIMEOUT_S, settings.sync_timeout_s))


def new_client(settings: Settings) -> httpx.Client:
    return httpx.Client(timeout=timeout(settings), headers={"User-Agent": "checkpass-checkpoint/0.1"})
