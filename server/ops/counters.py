"""The server's own Prometheus counters and histograms, counted where things happen.

Only ``prometheus_client`` is imported here, never a domain: any module may count (ingest, sign-in) without an
import cycle. The values the database knows (queue, alerts, bundle) are read at scrape time by ``metrics``.

Several uvicorn workers: ``checkpass serve --workers N`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory
before the workers start, so each worker writes its counts to its own files there and a scrape of any worker
adds up all of them (the client's multiprocess mode). The mode is fixed when ``prometheus_client`` is imported;
``MULTIPROCESS`` says which one this process is in. Labels never hold a raw path, a name or an id: routes are
templates (``/api/v1/passes/{pass_id}``), statuses and kinds come from fixed lists.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Histogram, values

__all__ = [
    "HTTP_DURATION",
    "HTTP_REQUESTS",
    "INGEST_RECORDS",
    "MULTIPROCESS",
    "SIGNIN_FAILURES",
    "count_ingest",
    "count_signin_failure",
]

MULTIPROCESS = values.ValueClass is not values.MutexValue

HTTP_REQUESTS = Counter(
    "checkpass_http_requests",
    "HTTP requests answered, by method, route template and status code",
    ["method", "route", "status"],
)
# From a static file (~1 ms) to a 500-record upload audited inline (seconds).
HTTP_DURATION = Histogram(
    "checkpass_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
INGEST_RECORDS = Counter(
    "checkpass_ingest_records",
    "Crossing records uploaded by checkpoints, by outcome (accepted, duplicate, conflict, invalid)",
    ["status"],
)
SIGNIN_FAILURES = Counter(
    "checkpass_signin_failures",
    "Failed sign-ins (portal and API token): wrong credentials, or refused while backed off (throttled)",
    ["reason"],
)
SIGNIN_REASONS = ("credentials", "throttled")
for (
    _reason
) in SIGNIN_REASONS:  # shown as 0 from the start, so a rate over them is defined before the first failure
    SIGNIN_FAILURES.labels(reason=_reason)


def count_ingest(counts: Mapping[str, int]) -> None:
    """Add one upload's outcome counts (status -> number of records)."""
    for status, number in counts.items():
        if number:
            INGEST_RECORDS.labels(status=status).inc(number)


def count_signin_failure(reason: str) -> None:
    if reason not in SIGNIN_REASONS:
        raise ValueError(f"unknown sign-in failure reason {reason!r}")
    SIGNIN_FAILURES.labels(reason=reason).inc()
